package ftpserver

import (
	"errors"
	"net/netip"
	"sync"
)

// SessionCounter counts live sessions for the session limits: in all,
// per client source (an IPv4 address, or an IPv6 /64) and per logged-in
// account. Servers given the same counter count their sessions together:
// ferry serve gives one to its FTP server and to its SFTP server, so that
// MaxSessions, MaxSessionsPerIP and an account's MaxSessions bound the
// sessions of both protocols at once, as one user or one address sees
// them. The limits stay each server's own fields, checked against the
// shared counts. The zero value is ready to use and safe for concurrent
// use.
type SessionCounter struct {
	mu      sync.Mutex
	total   int
	perIP   map[netip.Addr]int
	perUser map[string]int
}

// Sentinels of Admit and HoldUser, for a server to say why it refuses.
var (
	// ErrTooManySessions: the server-wide limit is reached.
	ErrTooManySessions = errors.New("ftpserver: too many sessions")
	// ErrTooManyFromAddress: the client's source holds its limit.
	ErrTooManyFromAddress = errors.New("ftpserver: too many sessions from the address")
	// ErrAccountSessionLimit: the account is at its MaxSessions.
	ErrAccountSessionLimit = errors.New("ftpserver: account at its session limit")
)

// Admit counts a new session from ip (the client's address; its source
// is counted), or returns ErrTooManySessions when maxAll sessions are
// counted, or ErrTooManyFromAddress when maxPerSource are from ip's
// source. A limit of zero or less is no limit. Leave undoes it when the
// session ends.
func (c *SessionCounter) Admit(ip netip.Addr, maxAll, maxPerSource int) error {
	src := clientSource(ip)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case maxAll > 0 && c.total >= maxAll:
		return ErrTooManySessions
	case maxPerSource > 0 && c.perIP[src] >= maxPerSource:
		return ErrTooManyFromAddress
	}
	if c.perIP == nil {
		c.perIP = map[netip.Addr]int{}
	}
	c.total++
	c.perIP[src]++
	return nil
}

// Leave uncounts a session that Admit counted.
func (c *SessionCounter) Leave(ip netip.Addr) {
	src := clientSource(ip)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.perIP[src]--; c.perIP[src] <= 0 {
		delete(c.perIP, src)
	}
}

// Count is how many sessions are counted now.
func (c *SessionCounter) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// HoldUser counts a login to acct, or returns ErrAccountSessionLimit when
// the account is at its MaxSessions. ReleaseUser gives it back.
func (c *SessionCounter) HoldUser(acct *Account) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if acct.MaxSessions > 0 && c.perUser[acct.User] >= acct.MaxSessions {
		return ErrAccountSessionLimit
	}
	if c.perUser == nil {
		c.perUser = map[string]int{}
	}
	c.perUser[acct.User]++
	return nil
}

// UserAtLimit reports whether acct is at its MaxSessions now, for a
// server that must answer before it can HoldUser (an SSH login, whose
// session starts only once the handshake is over).
func (c *SessionCounter) UserAtLimit(acct *Account) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return acct.MaxSessions > 0 && c.perUser[acct.User] >= acct.MaxSessions
}

// ReleaseUser uncounts a login that HoldUser counted.
func (c *SessionCounter) ReleaseUser(acct *Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.perUser[acct.User]--; c.perUser[acct.User] <= 0 {
		delete(c.perUser, acct.User)
	}
}
