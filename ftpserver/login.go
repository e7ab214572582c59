package ftpserver

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/internal/lingering"
)

// A password check (Authenticate) is the costliest thing a client can make
// the server do before it has logged in: a memory-hard or deliberately slow
// hash. Unbounded, a few addresses that send USER/PASS and hang up keep
// every core hashing for logins nobody waits for, and a real user's login
// queues behind them. So checks are bounded per client address and in
// all, a check whose client has gone leaves the queue, and a failed check
// keeps its address's slot for the failure delay whether or not the client
// stayed to hear the 530: hanging up early does not buy another guess.

// DefaultMaxLoginChecksPerIP is the default of Server.MaxLoginChecksPerIP.
const DefaultMaxLoginChecksPerIP = 2

// defaultMaxLoginChecks is the default of Server.MaxLoginChecks: more than
// one address may hold, so one address never takes every slot, and few
// enough that checks do not crowd out the sessions already logged in.
func defaultMaxLoginChecks() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// errClientGone is checkLogin's answer when the client hung up while its
// login was queued or being checked.
var errClientGone = errors.New("client hung up during login")

// loginLimiter holds the slots of checkLogin.
type loginLimiter struct {
	all        chan struct{} // nil: no bound in all
	perIPLimit int           // <= 0: no bound per address

	mu    sync.Mutex
	perIP map[netip.Addr]*ipSlots
}

// ipSlots are one address's slots. The entry lives while some login holds
// or waits for one of them.
type ipSlots struct {
	slots   chan struct{}
	waiting int // logins waiting for a slot
	users   int // logins holding or waiting for a slot
}

func newLoginLimiter(all, perIP int) *loginLimiter {
	if all == 0 {
		all = defaultMaxLoginChecks()
	}
	if perIP == 0 {
		perIP = DefaultMaxLoginChecksPerIP
	}
	l := &loginLimiter{perIPLimit: perIP, perIP: map[netip.Addr]*ipSlots{}}
	if all > 0 {
		l.all = make(chan struct{}, all)
	}
	return l
}

// clientSource is the address a client counts against in every per-address
// limit (logins, sessions, passive listeners): its IPv4 address, or the
// /64 network of its IPv6 address, since a single IPv6 client is
// routinely given a whole /64 and could otherwise take a fresh address,
// and fresh slots, for every attempt.
func clientSource(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// acquireIP waits for one of the slots of ip's source (clientSource) and
// returns its release function, or ctx's error when ctx ends first.
func (l *loginLimiter) acquireIP(ctx context.Context, ip netip.Addr) (func(), error) {
	if l.perIPLimit <= 0 {
		return func() {}, nil
	}
	ip = clientSource(ip)
	l.mu.Lock()
	e := l.perIP[ip]
	if e == nil {
		e = &ipSlots{slots: make(chan struct{}, l.perIPLimit)}
		l.perIP[ip] = e
	}
	e.users++
	e.waiting++
	l.mu.Unlock()
	var err error
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		err = ctx.Err()
	}
	l.mu.Lock()
	e.waiting--
	l.mu.Unlock()
	if err != nil {
		l.leaveIP(ip, e)
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.slots
			l.leaveIP(ip, e)
		})
	}, nil
}

func (l *loginLimiter) leaveIP(ip netip.Addr, e *ipSlots) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.users--; e.users == 0 {
		delete(l.perIP, ip)
	}
}

// acquireAll waits for a slot of the bound in all.
func (l *loginLimiter) acquireAll(ctx context.Context) (func(), error) {
	if l.all == nil {
		return func() {}, nil
	}
	select {
	case l.all <- struct{}{}:
		return func() { <-l.all }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// queue reports how many logins from ip's source hold a slot and how many
// wait.
func (l *loginLimiter) queue(ip netip.Addr) (running, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.perIP[clientSource(ip)]
	if e == nil {
		return 0, 0
	}
	return e.users - e.waiting, e.waiting
}

// checkLogin runs authenticate within the login bounds for a client at
// ip. ctx ends when the client goes away (see watchHangUp): a login still
// queued then leaves the queue, and one being checked stops being waited
// for (an Authenticator that honours ctx stops too; one that does not
// still holds its slots until it returns; work it leaves running, counted
// with package lingering, holds ip's slot until it ends). Any outcome but
// a login holds ip's slot for failDelay after the check, even when the
// client is gone.
func (srv *Server) checkLogin(ctx context.Context, ip netip.Addr, failDelay time.Duration,
	authenticate func(context.Context) (*Account, error)) (*Account, error) {
	l := srv.state().logins
	releaseIP, err := l.acquireIP(ctx, ip)
	if err != nil {
		return nil, errClientGone
	}
	releaseAll, err := l.acquireAll(ctx)
	if err != nil {
		releaseIP()
		return nil, errClientGone
	}
	type result struct {
		acct *Account
		err  error
	}
	done := make(chan result, 1)
	// An authenticator may return when ctx ends while its hash runs on
	// (auth.CheckPasswordContext): ip's slot is kept until that ends too.
	var lingered lingering.Tracker
	go func() {
		acct, err := authenticate(lingering.With(ctx, &lingered))
		releaseAll()
		release := func() {
			lingered.Wait()
			releaseIP()
		}
		if (err != nil || acct == nil || acct.FS == nil) && failDelay > 0 {
			time.AfterFunc(failDelay, release)
		} else {
			go release()
		}
		done <- result{acct, err}
	}()
	select {
	case r := <-done:
		if ctx.Err() != nil {
			return nil, errClientGone
		}
		return r.acct, r.err
	case <-ctx.Done():
		return nil, errClientGone
	}
}

// hangUpPoll is how often a session looks for its client hanging up
// while a login is checked: often enough that an abandoned login leaves
// the queue long before a slot would come to it.
const hangUpPoll = 20 * time.Millisecond

// watchHangUp returns a context, derived from s.ctx, that is cancelled
// when the client closes or resets the control connection with nothing
// left unread: once a client has sent FIN with no command after the one
// being answered, no command can follow, so nothing it could still do
// needs this login. A client that half-closes after pipelining more
// commands keeps its login. The context also ends when the server shuts
// down, after which the session ends without a login. stop ends the
// watch and cancels the context; call it before the control loop reads
// again.
func (s *session) watchHangUp() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(s.ctx)
	seeHangUp := canSeeHangUp && s.lr.Buffered() == 0 && len(s.pending) == 0
	conn := s.conn // the control loop, blocked in this command, cannot replace it
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(hangUpPoll)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				// closing: Shutdown or Close, after which the session
				// ends without a login anyway.
				if s.closing.Load() || seeHangUp && controlState(conn) != peerOpen && unreadInput(conn) == 0 {
					cancel()
					return
				}
			}
		}
	}()
	return ctx, func() {
		cancel()
		<-exited
	}
}
