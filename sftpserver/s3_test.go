package sftpserver_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestOpenSSHS3: OpenSSH's sftp over the S3 back end (MinIO): a
// multipart put, get and reget (the streamed, ranged reads) byte-
// identical, rename, mkdir and rmdir; the object lands in the bucket.
func TestOpenSSHS3(t *testing.T) {
	t.Parallel()
	f, bucket, srv := startS3(t, 5<<20)
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 12<<20+11)
	if err := os.WriteFile(filepath.Join(local, "partial.bin"), data[:3<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.sftpBatch(t, local, "alice", password, "", "put up.bin\nmkdir dir\nrename up.bin dir/moved.bin\nget dir/moved.bin down.bin\nreget dir/moved.bin partial.bin\nmkdir gone\nrmdir gone\n")
	if r.code != 0 {
		t.Fatalf("sftp failed: %v", r)
	}
	for _, name := range []string{"down.bin", "partial.bin"} {
		if got, _ := os.ReadFile(filepath.Join(local, name)); !bytes.Equal(got, data) {
			t.Errorf("%s differs at %d (%d of %d bytes)", name, firstDiff(got, data), len(got), len(data))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obj, err := srv.Client(t).GetObject(ctx, bucket, "home/dir/moved.bin", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(stored, data) {
		t.Errorf("object in the bucket: %d bytes of %d, %v", len(stored), len(data), err)
	}
}
