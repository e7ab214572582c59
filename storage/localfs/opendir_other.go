//go:build !linux

package localfs

import (
	"context"
	"os"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// rootDir is the Linux openat2 fast path of Open; elsewhere every open goes
// through os.Root.
type rootDir struct{}

func (*rootDir) init(*os.Root) {}
func (*rootDir) close()        {}

func (*rootDir) openRegular(_, _ string) (*os.File, bool, error) { return nil, false, nil }

// fastLister is the Linux pipelined lister; elsewhere List uses os.Root.
func (*FS) fastLister(context.Context, string, *os.File) ftpserver.DirLister { return nil }
