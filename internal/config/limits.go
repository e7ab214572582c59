package config

import (
	"fmt"
	"sync"

	"golang.org/x/time/rate"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
)

// userRates keeps each user's rate limiters, so that all of a user's
// sessions on this server share the user's rates. A changed rate takes
// effect at the next login (sessions logged in keep the limiter they
// got).
type userRates struct {
	mu    sync.Mutex
	users map[string]*ratePair
}

type ratePair struct {
	down, up *pacer
}

type pacer struct {
	bytesPerSec int64
	lim         *rate.Limiter
}

// limiters returns u's download and upload limiters; nil (untyped) for
// no limit.
func (r *userRates) limiters(u *auth.User) (down, up ftpserver.RateLimiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u.DownloadRate == 0 && u.UploadRate == 0 {
		delete(r.users, u.Name)
		return nil, nil
	}
	if r.users == nil {
		r.users = make(map[string]*ratePair)
	}
	p := r.users[u.Name]
	if p == nil {
		p = &ratePair{}
		r.users[u.Name] = p
	}
	return p.down.get(&p.down, u.DownloadRate), p.up.get(&p.up, u.UploadRate)
}

// get returns the limiter for bytesPerSec, replacing *slot when the rate
// changed; nil for 0.
func (p *pacer) get(slot **pacer, bytesPerSec int64) ftpserver.RateLimiter {
	if bytesPerSec <= 0 {
		*slot = nil
		return nil
	}
	if p == nil || p.bytesPerSec != bytesPerSec {
		p = &pacer{bytesPerSec: bytesPerSec, lim: rate.NewLimiter(rate.Limit(bytesPerSec), burstFor(bytesPerSec))}
		*slot = p
	}
	return p.lim
}

// burstFor is how many bytes may move at once at a rate: a quarter of a
// second's worth, so the pace is smooth, between 4 KiB (a slow rate still
// moves whole packets) and 1 MiB (a fast one still uses sendfile and
// splice in large steps).
func burstFor(bytesPerSec int64) int {
	return int(min(max(bytesPerSec/4, 4<<10), 1<<20))
}

// applyLimits sets the account's per-user limits and rules from u.
func (a *authenticator) applyLimits(acct *ftpserver.Account, u *auth.User) error {
	for _, s := range u.Perms {
		pp, err := ftpserver.ParsePathPerm(s)
		if err != nil {
			return fmt.Errorf("perms of user %q: %q: %w", u.Name, s, err)
		}
		acct.Perms = append(acct.Perms, pp)
	}
	for _, s := range u.AllowFrom {
		p, err := auth.ParseAllowFrom(s)
		if err != nil {
			return fmt.Errorf("user %q: %w", u.Name, err)
		}
		acct.AllowFrom = append(acct.AllowFrom, p)
	}
	acct.MaxSessions = u.MaxSessions
	acct.DownloadLimit, acct.UploadLimit = a.rates.limiters(u)
	return nil
}
