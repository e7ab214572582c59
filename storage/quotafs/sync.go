package quotafs

import (
	"context"
	"fmt"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Sync forwards ftpserver.Syncer to the backend's upload: making bytes
// durable changes nothing that is counted (they are counted at Commit).
func (w *writer) Sync(ctx context.Context) error {
	s, ok := w.inner.(ftpserver.Syncer)
	if !ok {
		return fmt.Errorf("%s: sync: %w", w.name, ftpserver.ErrNotSupported)
	}
	return s.Sync(ctx)
}

// FS has no Link (sftpserver.Linker) on purpose: the ledger counts each
// name's bytes, and a second name for the same data would be given back
// twice when both are removed, or drift when an in-place upload changes
// the data under both names. Hard links are refused on accounts with a
// quota ("operation unsupported").
