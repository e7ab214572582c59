//go:build !(linux || darwin || freebsd)

package localfs

import (
	"os"

	"github.com/ferry-ftp/ferry/ftpserver"
)

func availableSpace(dir *os.File) (int64, error) {
	return 0, ftpserver.ErrNotSupported
}
