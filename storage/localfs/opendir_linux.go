//go:build linux

package localfs

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// rootDir opens files below the root with one openat2(2) call that the
// kernel confines to the root (RESOLVE_BENEATH: no "..", absolute path or
// symbolic link may lead out). That is the confinement os.Root gives, at
// the cost of one system call instead of one open per path component plus
// the duplication openRegular needs to name the file; a small-file
// download spends much of its time here.
type rootDir struct {
	f   *os.File        // the root directory; nil when openat2 is not used
	raw syscall.RawConn // f's descriptor, held open while in use
	off atomic.Bool     // the kernel refused openat2: use os.Root only
}

func (d *rootDir) init(root *os.Root) {
	f, err := root.Open(".")
	if err != nil {
		return
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return
	}
	d.f, d.raw = f, raw
}

func (d *rootDir) close() {
	if d.f != nil {
		d.f.Close()
	}
}

// openRegular opens the regular file rel for reading, named name. ok is
// false when openat2 cannot serve (not available, or an error it may not
// report as os.Root would): the caller then takes the os.Root path, which
// also gives the error its usual form.
func (d *rootDir) openRegular(rel, name string) (f *os.File, ok bool, err error) {
	if d.raw == nil || d.off.Load() {
		return nil, false, nil
	}
	fd := -1
	var oerr error
	cerr := d.raw.Control(func(dir uintptr) {
		for {
			fd, oerr = unix.Openat2(int(dir), rel, &unix.OpenHow{
				// O_NONBLOCK: a FIFO must not block the open; it is
				// refused below and cleared on a regular file.
				Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY,
				Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
			})
			if oerr != unix.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return nil, false, nil // the FS is closed: os.Root says so
	}
	switch {
	case oerr == nil:
	case errors.Is(oerr, unix.ENOSYS):
		d.off.Store(true) // a kernel before 5.6: stop trying
		return nil, false, nil
	case errors.Is(oerr, unix.ENOENT), errors.Is(oerr, unix.EACCES):
		return nil, true, &os.PathError{Op: "open", Path: name, Err: oerr}
	default:
		// EXDEV (leaving the root), ELOOP, EPERM from a seccomp filter
		// and the rest: let os.Root decide and word it.
		return nil, false, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, true, &os.PathError{Op: "open", Path: name, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		unix.Close(fd)
		return nil, true, ftpserver.ErrIsDir
	default:
		unix.Close(fd)
		return nil, true, errNotRegular
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0); err != nil {
		unix.Close(fd)
		return nil, true, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), true, nil
}
