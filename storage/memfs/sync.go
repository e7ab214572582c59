package memfs

import (
	"context"
	"io/fs"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Sync implements ftpserver.Syncer. An upload's bytes are in memory as
// soon as Write returns, which is all the durability memfs has: there is
// nothing more to do, and nothing is published before Commit.
func (w *writer) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return pathErr("sync", w.name, err)
	}
	if w.done {
		return pathErr("sync", w.name, fs.ErrClosed)
	}
	return nil
}

var _ ftpserver.Syncer = (*writer)(nil)
