package s3fs

import (
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/storagetest"
)

var _ ftpserver.FileSystem = (*FS)(nil)

// TestConformance runs the backend suite against MinIO. S3 cannot show
// an upload while it runs (WriteInPlace), has no permission bits (Chmod)
// and no free space to report (SpaceReport): those cases are skipped by
// name. Each case gets its own bucket, under a prefix so that keys
// outside the FS's root are there to be ignored.
func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) ftpserver.FileSystem {
		tf := newTestFS(t, "ferry/home", Options{})
		tf.seed(t, "ferry/homestead", []byte("beside the root"), nil)
		tf.seed(t, "outside", []byte("outside the root"), nil)
		return tf.FS
	}, storagetest.WithCapabilities(storagetest.PartialOverwrite, storagetest.Append,
		storagetest.ModTime, storagetest.RenameDir))
}
