package xferlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

func record(path string, dir ftpserver.Direction) ftpserver.TransferRecord {
	return ftpserver.TransferRecord{
		Remote: netip.MustParseAddrPort("127.0.0.1:4000"), User: "joe", Verb: "RETR", Direction: dir,
		Path: path, Started: time.Now(), Duration: time.Millisecond, Bytes: 3, Result: ftpserver.TransferOK,
	}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a line end: %q", path, data)
	}
	return strings.Split(string(data[:len(data)-1]), "\n")
}

func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	testwait.For(t, fmt.Sprintf("%d lines in %s", n, path), func() bool {
		data, _ := os.ReadFile(path)
		return bytes.Count(data, []byte("\n")) >= n
	})
	return lines(t, path)
}

// Sessions ending transfers at once each get their whole line; listings
// get none.
func TestWriterConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "xferlog")
	w, err := Open(path, Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	const sessions, each = 16, 200
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Go(func() {
			for i := range each {
				w.TransferEnded(record(fmt.Sprintf("/s%d/file-%d", s, i), ftpserver.Download))
				w.TransferEnded(record("/dir", ftpserver.Listing))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := lines(t, path)
	if len(got) != sessions*each {
		t.Fatalf("%d lines, want %d", len(got), sessions*each)
	}
	seen := map[string]bool{}
	for _, line := range got {
		e, err := ParseLineIn(line, time.UTC)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if e.Filename == "/dir" || seen[e.Filename] {
			t.Fatalf("unexpected or repeated line %q", line)
		}
		seen[e.Filename] = true
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: anonymous IDs are e-mail addresses", info.Mode().Perm())
	}
}

// logrotate's two ways: rename then Reopen (SIGHUP), and copytruncate,
// where the next line goes at the start of the emptied file, not after a
// hole as long as what was there.
func TestWriterRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "xferlog")
	w, err := Open(path, Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.TransferEnded(record("/one", ftpserver.Download))
	waitLines(t, path, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.TransferEnded(record("/two", ftpserver.Upload))
	if got := waitLines(t, path+".1", 2); !strings.Contains(got[1], " /two ") {
		t.Fatalf("before Reopen, the renamed file gets the line: %q", got)
	}
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	w.TransferEnded(record("/three", ftpserver.Download))
	got := waitLines(t, path, 1)
	if len(got) != 1 || !strings.Contains(got[0], " /three ") {
		t.Fatalf("after Reopen %s holds %q", path, got)
	}
	if old := lines(t, path+".1"); len(old) != 2 {
		t.Fatalf("the rotated file got more lines after Reopen: %q", old)
	}

	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	w.TransferEnded(record("/four", ftpserver.Download))
	got = waitLines(t, path, 1)
	if len(got) != 1 || !strings.HasPrefix(got[0], time.Now().UTC().Format("Mon Jan _2")) || !strings.Contains(got[0], " /four ") {
		t.Fatalf("after copytruncate %s holds %q", path, got)
	}
}

// A Reopen that cannot open the path keeps the file it has.
func TestWriterReopenFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "xferlog")
	os.Mkdir(filepath.Dir(path), 0o755)
	w, err := Open(path, Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := os.Rename(filepath.Dir(path), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err == nil {
		t.Fatal("Reopen of a path in a directory that is gone succeeded")
	}
	w.TransferEnded(record("/after", ftpserver.Download))
	if got := waitLines(t, filepath.Join(dir, "moved", "xferlog"), 1); !strings.Contains(got[0], " /after ") {
		t.Fatalf("got %q", got)
	}
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir"), Options{}); err == nil || !strings.Contains(err.Error(), "xferlog") {
		t.Fatalf("Open in a missing directory: %v", err)
	}
}

// A disk that refuses every write (/dev/full: ENOSPC) is logged once per
// interval with the count of lines lost, and never holds up the sessions.
func TestWriterFailingWritesLoggedOncePerInterval(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	logFile, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, nil))
	logs := func() string { data, _ := os.ReadFile(logFile.Name()); return string(data) }
	w, err := Open("/dev/full", Options{Logger: logger, Now: clock})
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer w.Close()
	count := func() int { return strings.Count(logs(), "xferlog: lines not written") }

	w.TransferEnded(record("/a", ftpserver.Download))
	testwait.For(t, "the first failure logged", func() bool { return count() == 1 })
	if !strings.Contains(logs(), "no space left on device") || !strings.Contains(logs(), "lost=1") {
		t.Errorf("log does not say why or how much: %s", logs())
	}
	for range 5 {
		w.TransferEnded(record("/b", ftpserver.Download))
	}
	advance(59 * time.Second)
	w.TransferEnded(record("/c", ftpserver.Download))
	testwait.For(t, "six failures within the minute counted, not logged", func() bool {
		w.errMu.Lock()
		defer w.errMu.Unlock()
		return w.failed == 6
	})
	if count() != 1 {
		t.Fatalf("failures within the minute logged: %s", logs())
	}
	advance(2 * time.Second)
	// This one is past the minute: logged, with the lines lost since.
	w.TransferEnded(record("/d", ftpserver.Download))
	testwait.For(t, "the failure a minute later logged", func() bool { return count() == 2 })
	if !strings.Contains(logs(), "lost=7") {
		t.Errorf("second log line does not count the 7 lines lost since: %s", logs())
	}
}

// Lines queued before Close are written; transfers ending after it are
// dropped without blocking.
func TestWriterClose(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "xferlog")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		w.TransferEnded(record(fmt.Sprintf("/f%d", i), ftpserver.Upload))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.TransferEnded(record("/late", ftpserver.Upload))
	if got := lines(t, path); len(got) != 100 {
		t.Fatalf("%d lines after Close, want 100", len(got))
	}
}

// A file that stops taking writes (here a pipe nobody reads) never holds
// a session for long: once the queue is full, a transfer's line is
// dropped after a short wait, and that is logged.
func TestWriterStalledFileDoesNotBlockSessions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "xferlog")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	reader, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	logFile, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	w, err := Open(fifo, Options{Logger: slog.New(slog.NewTextHandler(logFile, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// More lines than the pipe and the queue hold together.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range queueSize + 2000 {
			w.TransferEnded(record(fmt.Sprintf("/file-%d", i), ftpserver.Download))
		}
	}()
	select {
	case <-done:
	case <-time.After(testwait.Timeout):
		t.Fatal("sessions are blocked by a file that takes no writes")
	}
	if data, _ := os.ReadFile(logFile.Name()); !strings.Contains(string(data), "queue full") {
		t.Errorf("dropped lines not logged: %s", data)
	}
	// Nor does it hold up the server's stop.
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testwait.Timeout):
		t.Fatal("Close waits for ever on a file that takes no writes")
	}
}
