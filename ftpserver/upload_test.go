package ftpserver_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// startDiskServer serves a temp directory through localfs with the given
// upload mode; alice may write.
func startDiskServer(t *testing.T, mode ftpserver.UploadMode) (*testServer, string) {
	t.Helper()
	return startWrappedDiskServer(t, mode, nil)
}

// startWrappedDiskServer is startDiskServer with the file system passed
// through wrap (when not nil) first.
func startWrappedDiskServer(t *testing.T, mode ftpserver.UploadMode, wrap func(ftpserver.FileSystem) ftpserver.FileSystem) (*testServer, string) {
	t.Helper()
	dir := t.TempDir()
	return startDiskServerAt(t, dir, mode, wrap), dir
}

// startDiskServerAt is startWrappedDiskServer on a given directory;
// mutate adjusts the Server further.
func startDiskServerAt(t *testing.T, dir string, mode ftpserver.UploadMode, wrap func(ftpserver.FileSystem) ftpserver.FileSystem, mutate ...func(*ftpserver.Server)) *testServer {
	t.Helper()
	lfs, err := localfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lfs.Close() })
	var fsys ftpserver.FileSystem = lfs
	if wrap != nil {
		fsys = wrap(lfs)
	}
	ts := startServer(t, func(s *ftpserver.Server) {
		s.Upload = mode
		s.Logger = slog.New(slog.DiscardHandler)
		s.Auth = ftpserver.AuthFunc(func(ctx context.Context, c ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "alice" && pass == "secret" {
				return &ftpserver.Account{User: "alice", FS: fsys, Write: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		})
		for _, m := range mutate {
			m(s)
		}
	})
	return ts
}

// waitSessions waits until the server has no session left.
func waitSessions(t *testing.T, ts *testServer) {
	t.Helper()
	waitUntil(t, func() string {
		if ts.srv.SessionCount() > 0 {
			return "sessions did not end"
		}
		return ""
	})
}

// killMidStor starts an upload of target, sends part of the data and then
// drops both connections the way the kernel does for a killed client:
// control first (the lower descriptor), then data.
func killMidStor(t *testing.T, ts *testServer, target string, sent []byte) {
	t.Helper()
	c := ts.login(t)
	data := c.transfer("STOR %s", target)
	if _, err := data.Write(sent); err != nil {
		t.Fatal(err)
	}
	// Let the server take bytes in: a partial of none is kept by no mode.
	waitUntil(t, func() string {
		msg := c.cmd(211, "STAT")
		if strings.Contains(msg, ": 0 of") {
			return "the server received nothing: " + msg
		}
		return ""
	})
	c.conn.Close()
	data.Close()
	waitSessions(t, ts)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestKilledUploadAtomicKeepsPreviousVersion(t *testing.T) {
	t.Parallel()
	ts, dir := startDiskServer(t, ftpserver.UploadAtomic)
	os.WriteFile(filepath.Join(dir, "target"), []byte("previous version"), 0o644)
	os.WriteFile(filepath.Join(dir, "other"), []byte("bystander"), 0o644)
	killMidStor(t, ts, "target", bytes.Repeat([]byte("new"), 300000))
	if got, _ := os.ReadFile(filepath.Join(dir, "target")); string(got) != "previous version" {
		t.Fatalf("target now holds %d bytes, want the previous version", len(got))
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "other")); string(got) != "bystander" {
		t.Fatal("another file was touched")
	}
	if names := dirNames(t, dir); strings.Join(names, ",") != "other,target" {
		t.Fatalf("directory holds %q: a temp file outlived its session", names)
	}
}

func TestKilledUploadAtomicResumeLeavesResumablePartial(t *testing.T) {
	t.Parallel()
	ts, dir := startDiskServer(t, ftpserver.UploadAtomicResume)
	os.WriteFile(filepath.Join(dir, "target"), []byte("previous version"), 0o644)
	os.WriteFile(filepath.Join(dir, "other"), []byte("bystander"), 0o644)
	sent := bytes.Repeat([]byte("0123456789"), 100000)
	killMidStor(t, ts, "target", sent)
	got, _ := os.ReadFile(filepath.Join(dir, "target"))
	if len(got) == 0 || !bytes.HasPrefix(sent, got) {
		t.Fatalf("target holds %d bytes, want a non-empty prefix of the %d sent", len(got), len(sent))
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "other")); string(got) != "bystander" {
		t.Fatal("another file was touched")
	}
	if names := dirNames(t, dir); strings.Join(names, ",") != "other,target" {
		t.Fatalf("directory holds %q: a temp file outlived its session", names)
	}
	// The client comes back and resumes where the data stopped.
	c := ts.login(t)
	size := c.cmd(213, "SIZE target")
	c.cmd(350, "REST %s", size)
	c.stor("STOR", "target", sent[len(got):])
	if final, _ := os.ReadFile(filepath.Join(dir, "target")); !bytes.Equal(final, sent) {
		t.Fatalf("after resume: %d bytes, want %d identical", len(final), len(sent))
	}
}

func TestUploadModesCompleteNormally(t *testing.T) {
	t.Parallel()
	for _, mode := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect} {
		t.Run(mode.String(), func(t *testing.T) {
			ts, dir := startDiskServer(t, mode)
			os.WriteFile(filepath.Join(dir, "target"), []byte("previous version"), 0o644)
			c := ts.login(t)
			c.stor("STOR", "target", []byte("replacement"))
			c.stor("APPE", "target", []byte("+more"))
			c.cmd(350, "REST 3")
			c.stor("STOR", "target", []byte("LACE"))
			if got, _ := os.ReadFile(filepath.Join(dir, "target")); string(got) != "repLACE" {
				t.Fatalf("target = %q", got)
			}
			if names := dirNames(t, dir); strings.Join(names, ",") != "target" {
				t.Fatalf("directory holds %q", names)
			}
		})
	}
}

func TestAbortedUploadAtomic(t *testing.T) {
	t.Parallel()
	ts, dir := startDiskServer(t, ftpserver.UploadAtomic)
	os.WriteFile(filepath.Join(dir, "target"), []byte("previous version"), 0o644)
	c := ts.login(t)
	data := c.transfer("STOR target")
	data.Write(bytes.Repeat([]byte("x"), 1<<20))
	c.send("ABOR")
	c.expect(426)
	c.expect(226)
	if got, _ := os.ReadFile(filepath.Join(dir, "target")); string(got) != "previous version" {
		t.Fatalf("target holds %d bytes after ABOR", len(got))
	}
	if names := dirNames(t, dir); strings.Join(names, ",") != "target" {
		t.Fatalf("directory holds %q", names)
	}
}

func TestLocalTraversalRefused(t *testing.T) {
	t.Parallel()
	ts, dir := startDiskServer(t, ftpserver.UploadAtomicResume)
	outside := filepath.Join(filepath.Dir(dir), "outside-secret")
	os.WriteFile(outside, []byte("secret"), 0o644)
	t.Cleanup(func() { os.Remove(outside) })
	os.Symlink(outside, filepath.Join(dir, "link"))
	c := ts.login(t)
	c.pasv()
	c.cmd(550, "RETR ../outside-secret")
	c.pasv()
	c.cmd(550, "RETR link")
	c.pasv()
	c.cmd(550, "RETR /etc/passwd")
	c.pasv()
	c.cmd(550, "RETR ../../etc/passwd")
}

// TestLocalDownloadsWholeAndExact downloads files from disk of sizes around
// the copy buffer, several at once (more than there are CPUs, so both the
// buffered loopback copy and sendfile serve), in both types and from a
// restart offset, and checks every byte.
func TestLocalDownloadsWholeAndExact(t *testing.T) {
	t.Parallel()
	ts, dir := startDiskServer(t, ftpserver.UploadAtomicResume)
	sizes := []int{0, 1, 4096, 64<<10 - 1, 64 << 10, 64<<10 + 1, 1<<20 + 12345, 3 << 20}
	files := map[string][]byte{}
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte('a' + (j*7+i)%26)
			if j%100 == 99 {
				b[j] = '\n' // lines, for TYPE A
			}
		}
		name := fmt.Sprintf("f%d.bin", i)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	var wg sync.WaitGroup
	for w := range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ts.login(t)
			for name, want := range files {
				if got := c.retr(name); !bytes.Equal(got, want) {
					t.Errorf("worker %d: RETR %s: %d bytes, want %d identical ones", w, name, len(got), len(want))
				}
				if len(want) > 10 {
					c.cmd(350, "REST %d", len(want)-10)
					if got := c.retr(name); !bytes.Equal(got, want[len(want)-10:]) {
						t.Errorf("worker %d: REST + RETR %s = %q, want the last 10 bytes", w, name, got)
					}
				}
			}
			c.cmd(200, "TYPE A")
			name := fmt.Sprintf("f%d.bin", len(sizes)-1)
			want := bytes.ReplaceAll(files[name], []byte("\n"), []byte("\r\n"))
			if got := c.retr(name); !bytes.Equal(got, want) {
				t.Errorf("worker %d: TYPE A RETR %s: %d bytes, want %d", w, name, len(got), len(want))
			}
		}()
	}
	wg.Wait()
}
