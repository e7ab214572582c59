package quotafs_test

import (
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
	"github.com/ferry-ftp/ferry/storage/quotafs"
	"github.com/ferry-ftp/ferry/storage/storagetest"
)

// The wrapper must not change what the backend does within the quota.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) ftpserver.FileSystem {
		return quotafs.New(memfs.New(), quotafs.NewMemLedger(quotafs.Limits{Bytes: 1 << 40}, quotafs.Usage{}))
	}, storagetest.WithCapabilities(storagetest.AllCapabilities()...), storagetest.WithCapabilities(storagetest.Sync))
}
