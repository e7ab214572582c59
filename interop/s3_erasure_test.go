package interop

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/ferry-ftp/ferry/internal/miniotest"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

// TestS3ErasureDriveLoss serves a bucket of a MinIO with four drives in
// one erasure set (two data and two parity shards per object) and takes
// one drive away in the middle of a download: the download completes
// byte-identical, MinIO rebuilding the lost shards from parity.
//
// The client reads the first part of the file and stops reading, so the
// server, whose read-ahead is one range, is blocked sending it while the
// drive goes; everything after that is read from the store without it.
func TestS3ErasureDriveLoss(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t, 4)
	ss := startS3Server(t, srv, s3fs.Options{PartSize: 5 << 20, Concurrency: 1})
	big := testData(300, 200<<20)
	ss.putObject(t, "/big.bin", big)

	c := dialGoFTP(t, ss.testServer)
	r, err := c.Retr("big.bin")
	mustOK(t, "Retr", err)
	const head = 16 << 20
	got := make([]byte, len(big))
	if _, err := io.ReadFull(r, got[:head]); err != nil {
		t.Fatalf("reading the first %d bytes: %v", head, err)
	}

	loseDrive(t, srv.Drives[1])

	n, err := io.ReadFull(r, got[head:])
	if err != nil {
		t.Fatalf("after the drive was lost the download stopped at byte %d of %d: %v", head+n, len(big), err)
	}
	if extra, _ := r.Read(make([]byte, 1)); extra != 0 {
		t.Errorf("the download is longer than the %d bytes of the file", len(big))
	}
	mustOK(t, "Close (226)", r.Close())
	if !bytes.Equal(got, big) {
		t.Errorf("download across the drive loss: got sha256 %s, want %s", sum(got), sum(big))
	}

	// The object is still whole for a fresh download with a drive gone.
	if again := retr(t, c, "big.bin", 150<<20); !bytes.Equal(again, big[150<<20:]) {
		t.Errorf("download after the drive loss from offset 150 MiB: %d bytes, not the file's tail", len(again))
	}
}

// loseDrive takes a MinIO drive away as a failed disk whose mount is gone
// does: the directory and every shard in it vanish, and a file in its
// place keeps MinIO from making a fresh drive there (which it does for an
// empty path within seconds). MinIO then counts the drive offline (mc
// admin info: "3 drives online, 1 drive offline"). chmod 000 would not do
// for a root test run, which ignores permissions.
func loseDrive(t *testing.T, dir string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("removing drive %s: %v", dir, err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatalf("blocking drive %s: %v", dir, err)
	}
}
