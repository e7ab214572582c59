//go:build unix

package localfs

import (
	"errors"
	"io/fs"
	"os"
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

// errBusy is what lockUpload returns for a file another upload holds.
var errBusy = &kindError{msg: "file busy", kind: ftpserver.ErrBusy}

// lockUpload takes the upload lock on f, an exclusive flock(2) held until
// f is closed, without waiting: a second upload writing into the same file
// would interleave with the first. flock locks are per open file, so they
// hold between sessions of one process as between processes (vsftpd's
// lock_upload_files takes the same lock; a plain reader takes none). Where
// the file system has no locks the upload goes ahead unlocked.
func lockUpload(f *os.File) error {
	switch lockErr := tryFlock(f); lockErr {
	case nil, syscall.ENOLCK, syscall.EINVAL, syscall.EOPNOTSUPP:
		return nil
	case syscall.EWOULDBLOCK:
		return errBusy
	default:
		return os.NewSyscallError("flock", lockErr)
	}
}

// tryFlock takes an exclusive flock(2) on f without waiting, and returns
// flock's errno (or why the descriptor could not be reached).
func tryFlock(f *os.File) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lockErr error
	if err := conn.Control(func(fd uintptr) {
		for {
			lockErr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if lockErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return lockErr
}

// unlocked reports whether f's upload lock could be taken at once: no
// open file anywhere holds it. It is then held until f is closed. A file
// system without locks reports false: nothing can be told.
func unlocked(f *os.File) bool {
	return tryFlock(f) == nil
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
