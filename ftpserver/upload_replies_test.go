package ftpserver_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// TestDataResetDuringStorIs426: a client that resets its data connection
// mid-upload lost the connection (426, RFC 959), whatever way the server
// copies from the socket: spliced into a file (localfs) or through a
// buffer (memfs, TYPE A).
func TestDataResetDuringStorIs426(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"localfs", "memfs", "localfs-ascii"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var ts *testServer
			if strings.HasPrefix(backend, "localfs") {
				ts, _ = startDiskServer(t, ftpserver.UploadAtomic)
			} else {
				ts = startServer(t, func(s *ftpserver.Server) { s.Upload = ftpserver.UploadAtomic })
			}
			c := ts.login(t)
			if strings.HasSuffix(backend, "ascii") {
				c.cmd(200, "TYPE A")
			}
			data := c.transfer("STOR target")
			if _, err := data.Write(bytes.Repeat([]byte("partial\n"), 8192)); err != nil {
				t.Fatal(err)
			}
			data.(*net.TCPConn).SetLinger(0)
			data.Close()
			if msg := c.expect(426); strings.Contains(msg, "local error") {
				t.Errorf("426 %q", msg)
			}
			c.cmd(200, "NOOP") // the session goes on
		})
	}
}

// TestRestBeyondAnyFileIs501: a restart marker no file can reach is the
// client's error (501), on every transfer command that uses it and every
// backend, never a local error (451).
func TestRestBeyondAnyFileIs501(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"localfs", "memfs"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var ts *testServer
			if backend == "localfs" {
				var dir string
				ts, dir = startDiskServer(t, ftpserver.UploadAtomicResume)
				os.WriteFile(filepath.Join(dir, "file"), []byte("content"), 0o644)
			} else {
				ts = startServer(t)
				ts.fs.WriteFile("/file", []byte("content"))
			}
			c := ts.login(t)
			for _, verb := range []string{"RETR", "STOR"} {
				c.cmd(350, "REST 9223372036854775807")
				c.pasv()
				c.cmd(501, "%s file", verb)
			}
			// APPE ignores a restart marker: it appends.
			c.cmd(350, "REST 9223372036854775807")
			c.stor("APPE", "file", []byte("+more"))
			if got := c.retr("file"); string(got) != "content+more" {
				t.Fatalf("file = %q", got)
			}
		})
	}
}

// TestRMDWithCrashedUploadTemp: a directory that lists empty but holds the
// temporary file of an upload whose process crashed can be removed; one
// holding an upload in progress is not empty.
func TestRMDWithCrashedUploadTemp(t *testing.T) {
	t.Parallel()
	ts, dir := startDiskServer(t, ftpserver.UploadAtomic)
	for name, age := range map[string]time.Duration{"crashed": 2 * time.Hour, "running": time.Second} {
		p := filepath.Join(dir, name, ".ferry-upload-x")
		os.Mkdir(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("partial"), 0o644)
		mtime := time.Now().Add(-age)
		os.Chtimes(p, mtime, mtime)
		if name == "running" {
			// A running upload holds its file's lock.
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := ts.login(t)
	if lines := c.listing("NLST crashed"); len(lines) != 0 {
		t.Fatalf("NLST crashed = %q, want nothing", lines)
	}
	c.cmd(250, "RMD crashed")
	c.cmd(550, "RMD running")
	if names := dirNames(t, dir); strings.Join(names, ",") != "running" {
		t.Fatalf("root holds %q", names)
	}
}
