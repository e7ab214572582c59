package ftpserver_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// mountTmpfs mounts a tmpfs of size bytes for the test: a disk that fills
// up. It needs root, which CI has; elsewhere the test is skipped.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root to mount a small tmpfs; this run is not root")
		}
		t.Skip("needs root to mount a tmpfs (set CI to make this a failure)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// storUntilRefused sends size bytes for verb name, ignoring the data
// connection's failure once the server stops taking them, and returns the
// final reply's code.
func storUntilRefused(c *client, verb, name string, size int64) int {
	c.t.Helper()
	data := c.transfer("%s %s", verb, name)
	io.Copy(data, io.LimitReader(zeros{}, size)) // fails when the server gives up
	data.Close()
	code, _ := c.read()
	return code
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestDiskFullKeepsPreviousVersion: a 100 MiB upload over a 10 MiB file on
// a disk with room for less fails with 452 (RFC 959: insufficient storage
// space) and leaves the 10 MiB file as it was and no temporary file, in
// every mode that does not write into the target.
func TestDiskFullKeepsPreviousVersion(t *testing.T) {
	t.Parallel()
	previous := bytes.Repeat([]byte("previous"), 10<<20/8)
	for _, tc := range []struct {
		mode ftpserver.UploadMode
		verb string
	}{
		{ftpserver.UploadAtomicResume, "STOR"},
		{ftpserver.UploadAtomicResume, "APPE"},
		{ftpserver.UploadAtomic, "STOR"},
		{ftpserver.UploadAtomic, "APPE"},
	} {
		t.Run(tc.mode.String()+"-"+tc.verb, func(t *testing.T) {
			t.Parallel()
			dir := mountTmpfs(t, 24<<20)
			if err := os.WriteFile(filepath.Join(dir, "target"), previous, 0o644); err != nil {
				t.Fatal(err)
			}
			ts := startDiskServerAt(t, dir, tc.mode, nil, func(s *ftpserver.Server) { s.DataTimeout = time.Minute })
			c := ts.login(t)
			if code := storUntilRefused(c, tc.verb, "target", 100<<20); code != 452 {
				t.Errorf("%s on a full disk answered %d, want 452", tc.verb, code)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "target")); !bytes.Equal(got, previous) {
				t.Errorf("target holds %d bytes, want the previous %d", len(got), len(previous))
			}
			if names := dirNames(t, dir); strings.Join(names, ",") != "target" {
				t.Errorf("directory holds %q", names)
			}
			// The session goes on, and the space is back.
			c.stor("STOR", "small", []byte("fits"))
		})
	}
}

// TestMemoryFullKeepsPreviousVersion is the same over memfs with a
// capacity, the backend-neutral sentinel ftpserver.ErrNoSpace.
func TestMemoryFullKeepsPreviousVersion(t *testing.T) {
	t.Parallel()
	previous := bytes.Repeat([]byte("previous"), 10<<20/8)
	for _, mode := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic} {
		for _, verb := range []string{"STOR", "APPE"} {
			t.Run(mode.String()+"-"+verb, func(t *testing.T) {
				t.Parallel()
				// A generous data timeout: a slow machine must not turn
				// the disk-full failure into a client timeout (426).
				ts := startServer(t, func(s *ftpserver.Server) { s.Upload, s.DataTimeout = mode, time.Minute })
				ts.fs.SetCapacity(24 << 20)
				if err := ts.fs.WriteFile("/target", previous); err != nil {
					t.Fatal(err)
				}
				c := ts.login(t)
				if code := storUntilRefused(c, verb, "target", 100<<20); code != 452 {
					t.Errorf("%s with no space left answered %d, want 452", verb, code)
				}
				if got, _ := ts.fs.ReadFile("/target"); !bytes.Equal(got, previous) {
					t.Errorf("target holds %d bytes, want the previous %d", len(got), len(previous))
				}
				c.stor("STOR", "small", []byte("fits"))
			})
		}
	}
}
