package sftpserver

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/lingering"
)

// loginKey is the Permissions extension that carries a successful
// login's account from the authentication callback to the connection.
const loginKey = "ferry-login"

// errLoginFailed is what the SSH library hears of a refused login; the
// client learns only that the method failed.
var errLoginFailed = errors.New("sftpserver: login refused")

// config is the connection's SSH configuration: its callbacks close over
// c, so a login's account reaches only this connection.
func (c *conn) config() *ssh.ServerConfig {
	srv := c.srv
	cfg := &ssh.ServerConfig{
		MaxAuthTries:  srv.MaxAuthTries,
		ServerVersion: "SSH-2.0-ferry",
		PasswordCallback: func(meta ssh.ConnMetadata, pass []byte) (*ssh.Permissions, error) {
			return c.login(meta.User(), true, func(ctx context.Context) (*ftpserver.Account, error) {
				return srv.Auth.Authenticate(ctx, c.connInfo(), meta.User(), string(pass))
			})
		},
	}
	if cfg.MaxAuthTries == 0 {
		cfg.MaxAuthTries = DefaultMaxAuthTries
	}
	cfg.Ciphers = srv.ciphers()
	if pk, ok := srv.Auth.(ftpserver.PublicKeyAuthenticator); ok {
		cfg.PublicKeyCallback = func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			return c.login(meta.User(), false, func(ctx context.Context) (*ftpserver.Account, error) {
				return pk.AuthenticatePublicKey(ctx, c.connInfo(), meta.User(), key.Marshal())
			})
		}
	}
	for _, k := range srv.HostKeys {
		cfg.AddHostKey(k)
	}
	return cfg
}

func (c *conn) connInfo() ftpserver.ConnInfo {
	return ftpserver.ConnInfo{RemoteAddr: c.nc.RemoteAddr(), LocalAddr: c.nc.LocalAddr()}
}

// login runs one credential check within the per-address bound. A
// refused password is scored by the Defender and answered after the
// fail delay, during which it keeps its address's slot, as FTP's PASS
// does. A refused key is answered at once (a client offers each of its
// keys in turn); the connection is scored once if it ends with keys
// refused and no password tried (handshakeFailed).
func (c *conn) login(user string, password bool, check func(context.Context) (*ftpserver.Account, error)) (*ssh.Permissions, error) {
	srv := c.srv
	limit := srv.MaxLoginChecksPerIP
	if limit == 0 {
		limit = ftpserver.DefaultMaxLoginChecksPerIP
	}
	releaseSlot, err := srv.logins.acquire(c.ctx, c.source, limit)
	if err != nil {
		return nil, errLoginFailed
	}
	// A check may return when the connection ends while its hash runs on
	// (auth.CheckPasswordContext): the slot is kept until that ends too.
	var lingered lingering.Tracker
	release := func() {
		lingered.Wait()
		releaseSlot()
	}
	acct, err := check(lingering.With(c.ctx, &lingered))
	result := ftpserver.LoginOK
	switch {
	case err != nil && !errors.Is(err, ftpserver.ErrAuthFailed):
		c.log.Error("login check failed", "user", user, "err", err)
		result = ftpserver.LoginError
	case err != nil || acct == nil || acct.FS == nil:
		result = ftpserver.LoginFailed
	case acct.Anonymous && !srv.AllowAnonymous:
		c.log.Info("anonymous login refused over SFTP", "user", user)
		result = ftpserver.LoginFailed
	case !allowsFrom(acct, c.remote.Addr()):
		result = ftpserver.LoginFailed
	}
	// An account at its session limit is refused with the reason, as
	// FTP's 530 gives it; the credentials were right, so it is not
	// scored. loggedIn counts the session once the handshake is over.
	atLimit := result == ftpserver.LoginOK && srv.counter.UserAtLimit(acct)
	if atLimit {
		result = ftpserver.LoginFailed
	}
	if o := srv.Observer; o != nil {
		o.LoginAttempted(ftpserver.LoginEvent{SessionID: c.id, Remote: c.remote, User: truncate(user, 64), Anonymous: acct != nil && acct.Anonymous, Result: result})
	}
	if atLimit {
		release()
		c.log.Info("login refused: account at its session limit", "user", acct.User, "max_sessions", acct.MaxSessions)
		return nil, &ssh.BannerError{Err: errLoginFailed, Message: sessionLimitMessage}
	}
	if result == ftpserver.LoginOK {
		release()
		return c.remember(acct), nil
	}
	if !password {
		c.keysRefused = true
		release()
		return nil, errLoginFailed
	}
	c.passwordTried = true
	c.log.Info("login failed", "user", truncate(user, 64), "method", "password")
	if result == ftpserver.LoginFailed {
		srv.Defender.LoginFailed(c.remote.Addr(), srv.logger())
	}
	// The slot is kept while the client waits, so one address cannot
	// have more guesses checked than its slots per delay.
	if d := srv.failDelay(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			time.AfterFunc(d, release)
			return nil, errLoginFailed
		}
	}
	release()
	return nil, errLoginFailed
}

func allowsFrom(acct *ftpserver.Account, addr netip.Addr) bool {
	if len(acct.AllowFrom) == 0 {
		return true
	}
	for _, p := range acct.AllowFrom {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// remember keeps a successful login's account for the connection and
// returns the Permissions naming it.
func (c *conn) remember(acct *ftpserver.Account) *ssh.Permissions {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	if c.accounts == nil {
		c.accounts = map[string]*ftpserver.Account{}
	}
	key := strconv.Itoa(len(c.accounts))
	c.accounts[key] = acct
	return &ssh.Permissions{Extensions: map[string]string{loginKey: key}}
}

// sessionLimitMessage is the banner a client refused for its account's
// MaxSessions is shown (OpenSSH prints it).
const sessionLimitMessage = "Too many sessions for this account; try again later.\r\n"

// loggedIn returns the account sconn authenticated as, once the
// account's own session limit allows it; nil otherwise (the connection
// is then closed).
func (c *conn) loggedIn(sconn *ssh.ServerConn) *ftpserver.Account {
	c.loginMu.Lock()
	acct := c.accounts[sconn.Permissions.Extensions[loginKey]]
	c.accounts = nil
	c.loginMu.Unlock()
	if acct == nil {
		return nil
	}
	// Another session may have taken the last one since the check at
	// login; the client then sees its connection closed.
	if err := c.srv.counter.HoldUser(acct); err != nil {
		c.log.Warn("login refused: account at its session limit", "user", acct.User, "max_sessions", acct.MaxSessions)
		return nil
	}
	c.heldUser = true
	return acct
}

// handshakeFailed logs a connection that ended before login, and scores
// one failed login for a client whose keys were all refused and that
// tried no password (each refused password is scored as it happens).
func (c *conn) handshakeFailed(err error) {
	c.log.Debug("ssh handshake ended", "err", err)
	if c.keysRefused && !c.passwordTried {
		c.log.Info("login failed", "method", "publickey")
		c.srv.Defender.LoginFailed(c.remote.Addr(), c.srv.logger())
	}
}

// loginSlots bounds the credential checks running at once per client
// source; a waiter is woken whenever any slot is released.
type loginSlots struct {
	mu   sync.Mutex
	held map[netip.Addr]int
	wake chan struct{} // closed when a slot is released
}

func (l *loginSlots) acquire(ctx context.Context, src netip.Addr, limit int) (func(), error) {
	if limit <= 0 {
		return func() {}, nil
	}
	for {
		l.mu.Lock()
		if l.held[src] < limit {
			if l.held == nil {
				l.held = map[netip.Addr]int{}
			}
			l.held[src]++
			l.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { l.release(src) }) }, nil
		}
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *loginSlots) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[src]--; l.held[src] <= 0 {
		delete(l.held, src)
	}
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
}
