//go:build unix

package localfs

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// oDirectory makes opening anything but a directory fail at once, so a
// FIFO never blocks List.
const oDirectory = syscall.O_DIRECTORY

// oNonblock keeps opening a FIFO from blocking; regular files ignore it.
const oNonblock = syscall.O_NONBLOCK

// errInvalidArg is EINVAL, which rename(2) returns for moving a directory
// into itself.
var errInvalidArg error = syscall.EINVAL

// mapErrno attaches the sentinel the server needs to errno values that
// fs.ErrXxx does not already cover.
func mapErrno(err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err
	}
	var kind error
	switch errno {
	case syscall.ENOTDIR:
		// A component of the path is a file: nothing by that name exists.
		kind = fs.ErrNotExist
	case syscall.EISDIR:
		kind = ftpserver.ErrIsDir
	case syscall.ENOTEMPTY:
		kind = ftpserver.ErrDirNotEmpty
	case syscall.ENAMETOOLONG:
		kind = ftpserver.ErrInvalidName
	case syscall.ENOSPC:
		kind = ftpserver.ErrNoSpace
	case syscall.EDQUOT:
		kind = ftpserver.ErrQuota
	case syscall.EROFS, syscall.ELOOP:
		kind = fs.ErrPermission
	default:
		return err
	}
	return &kindError{err: err, kind: kind}
}

// isSocketErrno reports whether err is an errno only a socket returns.
func isSocketErrno(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.ECONNRESET, syscall.ECONNABORTED, syscall.ETIMEDOUT, syscall.ENOTCONN,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN, syscall.ENETRESET:
		return true
	}
	return false
}
