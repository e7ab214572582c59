package localfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to
// disk without waiting for it (sync_file_range(2) SYNC_FILE_RANGE_WRITE).
// It is a hint: the fsync at commit is what makes the data durable, so a
// failure here changes nothing and is ignored.
func startWriteback(f *os.File, off, n int64) {
	raw, err := f.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
