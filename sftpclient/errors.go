package sftpclient

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/pkg/sftp"

	"github.com/ferry-ftp/ferry/ftpclient"
)

var (
	// ErrClosed is returned by calls on a Client after Close.
	ErrClosed = errors.New("sftpclient: client closed")

	// ErrUnsupported is wrapped by the error of an operation the server
	// does not implement (SSH_FX_OP_UNSUPPORTED). It is ftpclient's, so
	// that callers test one sentinel for both protocols.
	ErrUnsupported = ftpclient.ErrUnsupported

	// ErrUnknownHost is wrapped by the error of a connection to a server
	// whose host key no known_hosts file lists (and the policy is not
	// AcceptNew). The error is a *HostKeyError.
	ErrUnknownHost = errors.New("sftpclient: unknown host key")

	// ErrHostKeyChanged is wrapped by the error of a connection to a
	// server whose host key differs from the one known_hosts has for it,
	// or is marked @revoked. It is never accepted. The error is a
	// *HostKeyError.
	ErrHostKeyChanged = errors.New("sftpclient: REMOTE HOST IDENTIFICATION HAS CHANGED")

	// ErrAuthFailed is wrapped by the error of a login the server
	// refused with every method offered.
	ErrAuthFailed = errors.New("sftpclient: login refused")

	// ErrConnectionLost is wrapped by the error of a request whose
	// connection broke; the next call dials a new one. It also answers
	// errors.Is for io.ErrUnexpectedEOF, what a stream cut short gives,
	// so that retry logic written for streams takes it as temporary.
	ErrConnectionLost error = connectionLost{}
)

type connectionLost struct{}

func (connectionLost) Error() string        { return "sftpclient: connection lost" }
func (connectionLost) Is(target error) bool { return target == io.ErrUnexpectedEOF }

// The SFTP v3 status codes (draft-ietf-secsh-filexfer-02, 7) that map to
// the sentinels callers test.
const (
	fxNoSuchFile       = 2
	fxPermissionDenied = 3
	fxOpUnsupported    = 8
)

// wrapErr names the operation and path in err and makes the server's
// status answer errors.Is for fs.ErrNotExist, fs.ErrPermission and
// ErrUnsupported.
func wrapErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, sftp.ErrSSHFxNoConnection) {
		return fmt.Errorf("sftp %s %s: %w", op, p, ErrConnectionLost)
	}
	var se *sftp.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case fxNoSuchFile:
			return fmt.Errorf("sftp %s %s: %w: %w", op, p, fs.ErrNotExist, err)
		case fxPermissionDenied:
			return fmt.Errorf("sftp %s %s: %w: %w", op, p, fs.ErrPermission, err)
		case fxOpUnsupported:
			return fmt.Errorf("sftp %s %s: %w: %w", op, p, ErrUnsupported, err)
		}
	}
	return fmt.Errorf("sftp %s %s: %w", op, p, err)
}
