//go:build unix

package localfs

import (
	"os"
	"syscall"
)

// openRegular opens the regular file rel for reading and returns it as an
// *os.File named name, the virtual path. An *os.File opened through a Root
// is named with the root's host path, which would end up in every read
// error; the descriptor is therefore duplicated into a File of our naming.
// O_NONBLOCK keeps a FIFO from blocking the open; it is cleared again
// before the file is handed out.
func openRegular(root *os.Root, rel, name string) (*os.File, error) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, err
	}
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup := -1
	var dupErr error
	if err := conn.Control(func(fd uintptr) {
		// Hold ForkLock so no child inherits the descriptor before
		// close-on-exec is set.
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		dup, dupErr = syscall.Dup(int(fd))
		if dupErr == nil {
			syscall.CloseOnExec(dup)
		}
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	if err := syscall.SetNonblock(dup, false); err != nil {
		syscall.Close(dup)
		return nil, err
	}
	return os.NewFile(uintptr(dup), name), nil
}
