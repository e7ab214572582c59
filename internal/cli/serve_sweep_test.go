package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testwait"
)

// TestServeSweepsStaleUploadTemps: temporary upload files that a crashed
// ferry left under the root are removed when "ferry serve" starts, each
// logged with its size and age and then the total; an upload's fresh one
// stays, and so does anything not ferry's.
func TestServeSweepsStaleUploadTemps(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	plant := func(rel string, size int, age time.Duration) string {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		mtime := time.Now().Add(-age)
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := []string{
		plant(".ferry-upload-crash1", 1000, 2*time.Hour),
		plant("sub/.ferry-upload-crash2", 2000, 26*time.Hour),
	}
	kept := []string{
		plant("sub/.ferry-upload-running", 10, time.Minute),
		plant("sub/notes.txt", 10, 48*time.Hour),
	}
	// The running upload holds its file's lock, as ferry's uploads do.
	running, err := os.Open(kept[0])
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	if err := syscall.Flock(int(running.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	_, _, logs := startServe(t, "--listen", "127.0.0.1:0", "--root", root)

	testwait.For(t, "the sweep's total in the log", func() bool {
		return strings.Contains(logs.String(), "swept stale upload temp files")
	})
	log := logs.String()
	for _, want := range []string{
		`msg="removed a stale upload temp file" .*file=/\.ferry-upload-crash1 size=1000 age=2h0m\d+s`,
		`msg="removed a stale upload temp file" .*file=/sub/\.ferry-upload-crash2 size=2000 age=26h0m\d+s`,
		`msg="swept stale upload temp files" .*files=2 bytes=3000`,
	} {
		if !regexp.MustCompile(want).MatchString(log) {
			t.Errorf("log lacks a line matching %s:\n%s", want, log)
		}
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
