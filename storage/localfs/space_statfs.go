//go:build linux || darwin || freebsd

package localfs

import (
	"os"
	"syscall"
)

// availableSpace reports the space an unprivileged user may still fill on
// the file system holding dir (statfs f_bavail × f_bsize).
func availableSpace(dir *os.File) (int64, error) {
	conn, err := dir.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st syscall.Statfs_t
	var statErr error
	if err := conn.Control(func(fd uintptr) {
		statErr = syscall.Fstatfs(int(fd), &st)
	}); err != nil {
		return 0, err
	}
	if statErr != nil {
		return 0, os.NewSyscallError("fstatfs", statErr)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
