package ftpclient_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// startDiskServer serves a temporary directory through localfs to alice;
// it returns the server and the directory.
func startDiskServer(t *testing.T, mutate ...func(*ftpserver.Server)) (*testServer, string) {
	t.Helper()
	dir := t.TempDir()
	lfs, err := localfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lfs.Close() })
	return (&testServer{}).start(t, aliceOnly(lfs), mutate...), dir
}

// TestLocalDisk checks the bytes that end up on disk through a server over
// a real directory, with uploads resumed and appended.
func TestLocalDisk(t *testing.T) {
	t.Parallel()
	ts, dir := startDiskServer(t)
	c := dial(t, ts.addr)
	ctx := testCtx(t)
	data := pattern(5<<20 + 99)

	if err := c.Mkdir(ctx, "/sub dir"); err != nil {
		t.Fatal(err)
	}
	cut := 2<<20 + 1
	if _, err := c.Store(ctx, "/sub dir/f.bin", bytes.NewReader(data[:cut]), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(ctx, "/sub dir/f.bin", bytes.NewReader(data[cut:4<<20]), int64(cut)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, "/sub dir/f.bin", bytes.NewReader(data[4<<20:])); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, "sub dir", "f.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("on disk: %d bytes, %v; want %d", len(onDisk), err, len(data))
	}

	// Download into a file: the bytes and the count agree.
	local, err := os.Create(filepath.Join(t.TempDir(), "down"))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	n, err := c.Retrieve(ctx, "/sub dir/f.bin", 0, local)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Retrieve: %d, %v", n, err)
	}
	if got, _ := os.ReadFile(local.Name()); !bytes.Equal(got, data) {
		t.Fatal("downloaded file differs")
	}
	if e, err := c.Stat(ctx, "/sub dir/f.bin"); err != nil || e.Size != int64(len(data)) || e.Unique == "" {
		t.Fatalf("Stat: %+v, %v", e, err)
	}
}
