package localfs

import (
	"errors"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// An upload staged in an unnamed file (O_TMPFILE) has no directory entry
// until it is published: if the process dies, killed or crashed, the
// kernel frees the file with its last descriptor and nothing is left to
// sweep or to show. It is published by linking it from /proc/self/fd,
// which needs no privilege (linkat with AT_EMPTY_PATH would).

// errNoUnnamed says the file system or the system cannot stage uploads in
// unnamed files; named temporary files are used instead.
var errNoUnnamed = errors.New("unnamed temporary files not supported")

var procFD = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// openUnnamed creates an unnamed file in the directory d, open for
// reading and writing, with the mode a new file would get.
func openUnnamed(d *os.File) (*os.File, error) {
	if !procFD() {
		return nil, errNoUnnamed
	}
	var fd int
	conn, err := d.SyscallConn()
	if err != nil {
		return nil, err
	}
	var openErr error
	if err := conn.Control(func(dirfd uintptr) {
		for {
			fd, openErr = unix.Openat(int(dirfd), ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o666)
			if openErr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return nil, err
	}
	switch openErr {
	case nil:
		return os.NewFile(uintptr(fd), tempPrefix+"unnamed"), nil
	case unix.EOPNOTSUPP, unix.EISDIR, unix.EINVAL, unix.ENOSYS:
		return nil, errNoUnnamed
	}
	return nil, &os.PathError{Op: "open", Path: "O_TMPFILE", Err: openErr}
}

// linkUnnamed gives the unnamed file f the name name in the directory d;
// it fails with an error matching fs.ErrExist if name exists.
func linkUnnamed(f, d *os.File, name string) error {
	src := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	var linkErr error
	conn, err := d.SyscallConn()
	if err != nil {
		return err
	}
	if err := conn.Control(func(dirfd uintptr) {
		for {
			linkErr = unix.Linkat(unix.AT_FDCWD, src, int(dirfd), name, unix.AT_SYMLINK_FOLLOW)
			if linkErr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if linkErr != nil {
		return &os.LinkError{Op: "link", Old: src, New: name, Err: linkErr}
	}
	return nil
}
