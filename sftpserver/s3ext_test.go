package sftpserver_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ftp/ferry/internal/miniotest"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

// TestS3Extensions: over the S3 back end, an upload cannot be made
// durable before it is committed, so fsync is "unsupported" and "put -f"
// still uploads; hard links are refused; check-file hashes objects.
func TestS3Extensions(t *testing.T) {
	t.Parallel()
	f, _, _ := startS3(t, 0)
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 300_000)
	r := f.sftpBatch(t, local, "alice", password, "", "put -f up.bin\n-ln up.bin linked.bin\nget up.bin down.bin")
	if r.code != 0 {
		t.Fatalf("sftp: %v", r)
	}
	if got, _ := os.ReadFile(filepath.Join(local, "down.bin")); !bytes.Equal(got, data) {
		t.Errorf("put -f over S3: the object differs (%d bytes of %d)", len(got), len(data))
	}
	if !strings.Contains(strings.ToLower(r.out), "unsupported") {
		t.Errorf("sftp did not report fsync and ln unsupported:\n%s", r.out)
	}

	c := f.dialRaw(t)
	wh := c.call(3, "/w.bin", uint32(0x1a), uint32(0)).handle(t)
	if code, _ := c.call(6, wh, uint64(0), []byte("abc")).status(); code != 0 {
		t.Fatalf("write: status %d", code)
	}
	if code, _ := c.call(200, "fsync@openssh.com", wh).status(); code != 8 {
		t.Errorf("fsync of an S3 upload: status %d, want op-unsupported (8)", code)
	}
	if code, _ := c.call(4, wh).status(); code != 0 {
		t.Fatalf("close: status %d", code)
	}
	if code, _ := c.call(200, "hardlink@openssh.com", "/w.bin", "/l.bin").status(); code != 8 {
		t.Errorf("hardlink on S3: status %d, want op-unsupported (8)", code)
	}
	wantMD5, wantSHA := md5.Sum(data), sha256.Sum256(data[1000:2000])
	if algo, sum := checkFile(t, c, "check-file-name", "/up.bin", "md5", 0, 0, 0); algo != "md5" || !bytes.Equal(sum, wantMD5[:]) {
		t.Errorf("md5 of the object: %s %x, want %x", algo, sum, wantMD5)
	}
	if algo, sum := checkFile(t, c, "check-file-name", "/up.bin", "sha256", 1000, 1000, 0); algo != "sha256" || !bytes.Equal(sum, wantSHA[:]) {
		t.Errorf("sha256 of a range of the object: %s %x, want %x", algo, sum, wantSHA)
	}
}

// startS3 runs a server whose accounts have the S3 back end over a new
// bucket of the shared MinIO (home/ in it), with uploads in parts of
// partSize (0: the default); it returns the bucket and MinIO too.
func startS3(t *testing.T, partSize int64) (*fixture, string, *miniotest.Server) {
	t.Helper()
	srv := miniotest.Shared(t)
	bucket := miniotest.NewBucket(t, srv)
	store, err := s3fs.Connect(s3fs.Options{
		Endpoint:    srv.URL(),
		PathStyle:   true,
		Credentials: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		PartSize:    partSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fsys, err := store.FS(ctx, bucket, "home")
	if err != nil {
		t.Fatal(err)
	}
	return startFS(t, fsys, nil), bucket, srv
}
