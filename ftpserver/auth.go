package ftpserver

import (
	"context"
	"errors"
	"net"
)

// Authenticator checks credentials and returns the account a session works
// as. The server always answers USER with 331 and delays failures itself, so
// an implementation need not defend against user enumeration or timing.
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
}

// AuthFunc adapts a function to the Authenticator interface.
type AuthFunc func(ctx context.Context, conn ConnInfo, user, pass string) (*Account, error)

// Authenticate calls f.
func (f AuthFunc) Authenticate(ctx context.Context, conn ConnInfo, user, pass string) (*Account, error) {
	return f(ctx, conn, user, pass)
}
