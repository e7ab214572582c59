package ftpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
)

// Authenticator checks credentials and returns the account a session works
// as. The server always answers USER with 331 and delays failures itself;
// an implementation must still take as long for an unknown name as for a
// wrong password, since that is what the client can time. The server
// bounds the calls running at once (Server.MaxLoginChecks, per address
// too), and ctx ends when the client hangs up or the server shuts down:
// slow work (a password hash) should stop waiting then.
type Authenticator interface {
	// Authenticate returns ErrAuthFailed (wrapped or not) for bad
	// credentials; any other error is logged and answered with 421.
	Authenticate(ctx context.Context, conn ConnInfo, user, pass string) (*Account, error)
}

// ErrAuthFailed is returned by an Authenticator for wrong credentials.
var ErrAuthFailed = errors.New("authentication failed")

// ConnInfo describes the control connection a login arrives on.
type ConnInfo struct {
	RemoteAddr net.Addr
	LocalAddr  net.Addr
	// TLS is the control connection's TLS state, nil in clear text. With
	// client certificates configured, TLS.VerifiedChains identifies the
	// client.
	TLS *tls.ConnectionState
}

// Account is a logged-in user's identity and rights.
type Account struct {
	// User is the name logged in as (after mapping, e.g. "anonymous").
	User string
	// FS is the user's file tree; "/" is its home.
	FS FileSystem
	// Write allows every change: uploads, deletes, renames, mkdir, chmod.
	Write bool
	// UploadDir, when Write is false, is a virtual directory in which new
	// files and directories may be created but nothing existing changed
	// (an anonymous "incoming" area). Empty means none.
	UploadDir string
	// Anonymous marks an anonymous login (for logs and xferlog).
	Anonymous bool
	// WorldReadableOnly lets this account download (RETR) and hash
	// (HASH) only files whose permissions let everyone read them (o+r),
	// as vsftpd's anon_world_readable_only does for anonymous users: a
	// file shared with the server's own group or user is not published
	// by landing in the anonymous tree. Other files answer 550. Set it
	// for anonymous accounts unless the whole tree is meant to be public.
	WorldReadableOnly bool
	// RequireTLS refuses this account a login over clear text and data
	// connections without PROT P.
	RequireTLS bool

	// Perms, when set, say what the account may do where: the rule
	// whose Path is the longest that contains a path wins; a path no
	// rule covers falls back to Write (and UploadDir). A refused action
	// is answered 550 naming the missing permission.
	Perms []PathPerm
	// AllowFrom, when set, refuses the login (530, as a wrong password)
	// to clients whose address is in none of the prefixes.
	AllowFrom []netip.Prefix
	// MaxSessions, when positive, bounds the sessions logged in to this
	// account (by User) at once; a login beyond it is refused with 530.
	MaxSessions int
	// DownloadLimit and UploadLimit, when set, pace the account's data
	// transfers; give every session of an account the same limiter (a
	// *rate.Limiter of golang.org/x/time/rate, say) so that its sessions
	// share the rate.
	DownloadLimit RateLimiter
	UploadLimit   RateLimiter
}

// RateLimiter paces transfers: WaitN blocks until n bytes may move, or
// ctx is done. n is never more than Burst. *rate.Limiter implements it.
type RateLimiter interface {
	WaitN(ctx context.Context, n int) error
	Burst() int
}

// CertAuthenticator is an optional interface of an Authenticator: a
// client that presented a verified certificate may be logged in by it
// alone. USER then answers 232 without asking for a password.
type CertAuthenticator interface {
	// AuthenticateCert returns the account for user if the verified
	// certificate in conn.TLS maps to it, or ErrAuthFailed.
	AuthenticateCert(ctx context.Context, conn ConnInfo, user string) (*Account, error)
}

// PublicKeyAuthenticator is an optional interface of an Authenticator: an
// SSH client (package sftpserver) may log in with a public key listed for
// the user (authorized_keys). key is the key in SSH wire format (RFC 4253
// section 6.6, what ssh.PublicKey.Marshal returns), so that this package
// does not depend on an SSH implementation; the SSH server has verified
// that the client holds its private key before the login counts.
type PublicKeyAuthenticator interface {
	// AuthenticatePublicKey returns the account for user if key is one of
	// its authorized keys, or ErrAuthFailed.
	AuthenticatePublicKey(ctx context.Context, conn ConnInfo, user string, key []byte) (*Account, error)
}

// AuthFunc adapts a function to the Authenticator interface.
type AuthFunc func(ctx context.Context, conn ConnInfo, user, pass string) (*Account, error)

// Authenticate calls f.
func (f AuthFunc) Authenticate(ctx context.Context, conn ConnInfo, user, pass string) (*Account, error) {
	return f(ctx, conn, user, pass)
}
