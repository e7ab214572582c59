package quotafs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/storage/localfs"
	"github.com/ferry-ftp/ferry/storage/memfs"
	"github.com/ferry-ftp/ferry/storage/quotafs"
)

// backends are the file systems the quota is tested over: memfs (plain
// Write) and localfs (ReadFrom, splice from the data connection).
var backends = []struct {
	name string
	new  func(t *testing.T) ftpserver.FileSystem
}{
	{"memfs", func(t *testing.T) ftpserver.FileSystem { return memfs.New() }},
	{"localfs", func(t *testing.T) ftpserver.FileSystem {
		fsys, err := localfs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return fsys
	}},
}

// serve starts a server on 127.0.0.1 whose one user sees inner through a
// quota kept in ledger, and returns a logged-in client.
func serve(t *testing.T, inner ftpserver.FileSystem, ledger quotafs.Ledger) *ftpclient.Client {
	t.Helper()
	fsys := quotafs.New(inner, ledger)
	addr := ftptest.Serve(t, fsys)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ftpclient.Dial(ctx, addr, ftpclient.WithLogin("alice", "x"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eachBackend runs test in parallel over every backend.
func eachBackend(t *testing.T, test func(t *testing.T, inner ftpserver.FileSystem)) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b.new(t))
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, what string, err error, code int) {
	t.Helper()
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("%s: err = %v, want reply %d", what, err, code)
	}
}

func wantUsage(t *testing.T, ledger quotafs.Ledger, want quotafs.Usage) {
	t.Helper()
	_, got, err := ledger.Read(context.Background())
	if err != nil || got != want {
		t.Fatalf("usage = %+v, %v; want %+v", got, err, want)
	}
}

func wantAbsent(t *testing.T, inner ftpserver.FileSystem, name string) {
	t.Helper()
	if _, err := inner.Stat(context.Background(), name); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat(%s) = %v; want it gone", name, err)
	}
}

func TestUploadPastQuotaRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, inner ftpserver.FileSystem) {
		ledger := quotafs.NewMemLedger(quotafs.Limits{Bytes: 100_000}, quotafs.Usage{})
		c := serve(t, inner, ledger)
		ctx := ctxT(t)
		if _, err := c.Store(ctx, "/small", bytes.NewReader(make([]byte, 60_000)), 0); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, ledger, quotafs.Usage{Bytes: 60_000, Files: 1})
		// Far past the limit: refused while the data flows.
		_, err := c.Store(ctx, "/big", bytes.NewReader(make([]byte, 1<<20)), 0)
		wantCode(t, "STOR past the quota", err, 552)
		wantAbsent(t, inner, "/big")
		wantUsage(t, ledger, quotafs.Usage{Bytes: 60_000, Files: 1})
		// Exactly up to the limit is allowed.
		if _, err := c.Store(ctx, "/fits", bytes.NewReader(make([]byte, 40_000)), 0); err != nil {
			t.Fatalf("STOR up to the quota: %v", err)
		}
		wantUsage(t, ledger, quotafs.Usage{Bytes: 100_000, Files: 2})
		_, err = c.Store(ctx, "/one-more", bytes.NewReader([]byte{1}), 0)
		wantCode(t, "STOR of one byte over", err, 552)
		wantAbsent(t, inner, "/one-more")
	})
}

func TestReplaceDeleteRenameKeepUsageExact(t *testing.T) {
	eachBackend(t, func(t *testing.T, inner ftpserver.FileSystem) {
		ledger := quotafs.NewMemLedger(quotafs.Limits{Bytes: 10_000}, quotafs.Usage{})
		c := serve(t, inner, ledger)
		ctx := ctxT(t)
		store := func(name string, n int) {
			t.Helper()
			if _, err := c.Store(ctx, name, bytes.NewReader(make([]byte, n)), 0); err != nil {
				t.Fatalf("STOR %s: %v", name, err)
			}
		}
		store("/a", 6000)
		// Replacing counts only the difference: 6000 -> 9000 fits in
		// 10000 although 6000 + 9000 would not.
		store("/a", 9000)
		wantUsage(t, ledger, quotafs.Usage{Bytes: 9000, Files: 1})
		store("/a", 3000)
		wantUsage(t, ledger, quotafs.Usage{Bytes: 3000, Files: 1})
		if _, err := c.Append(ctx, "/a", bytes.NewReader(make([]byte, 1000))); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, ledger, quotafs.Usage{Bytes: 4000, Files: 1})
		store("/b", 2000)
		wantUsage(t, ledger, quotafs.Usage{Bytes: 6000, Files: 2})
		// Renaming b over a frees a.
		if err := c.Rename(ctx, "/b", "/a"); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, ledger, quotafs.Usage{Bytes: 2000, Files: 1})
		if err := c.Remove(ctx, "/a"); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, ledger, quotafs.Usage{})
		if err := c.Mkdir(ctx, "/d"); err != nil {
			t.Fatal(err)
		}
		if err := c.RemoveDir(ctx, "/d"); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, ledger, quotafs.Usage{})
	})
}

func TestFileLimit(t *testing.T) {
	t.Parallel()
	inner := memfs.New()
	ledger := quotafs.NewMemLedger(quotafs.Limits{Files: 2}, quotafs.Usage{})
	c := serve(t, inner, ledger)
	ctx := ctxT(t)
	for _, name := range []string{"/1", "/2", "/2"} { // replacing is no new file
		if _, err := c.Store(ctx, name, bytes.NewReader([]byte("x")), 0); err != nil {
			t.Fatalf("STOR %s: %v", name, err)
		}
	}
	_, err := c.Store(ctx, "/3", bytes.NewReader([]byte("x")), 0)
	wantCode(t, "third file", err, 552)
	wantAbsent(t, inner, "/3")
	wantUsage(t, ledger, quotafs.Usage{Bytes: 2, Files: 2})
}

func TestAVBLAnswersTheRemainder(t *testing.T) {
	t.Parallel()
	inner := memfs.New()
	ledger := quotafs.NewMemLedger(quotafs.Limits{Bytes: 5000}, quotafs.Usage{})
	c := serve(t, inner, ledger)
	ctx := ctxT(t)
	if _, err := c.Store(ctx, "/f", bytes.NewReader(make([]byte, 1200)), 0); err != nil {
		t.Fatal(err)
	}
	code, msg, err := c.Quote(ctx, "AVBL")
	if err != nil || code != 213 || msg != "3800" {
		t.Fatalf("AVBL = %d %q, %v; want 213 3800", code, msg, err)
	}
	// The disk is smaller than what the quota leaves: the disk answers.
	inner.SetCapacity(2000)
	code, msg, err = c.Quote(ctx, "AVBL")
	if err != nil || code != 213 || msg != strconv.Itoa(2000-1200) {
		t.Fatalf("AVBL = %d %q, %v; want 213 800", code, msg, err)
	}
}

// Two uploads that each fit but not together: the one committed second is
// refused at Commit, and nothing of it is published.
func TestCommitIsTheCheck(t *testing.T) {
	eachBackend(t, func(t *testing.T, inner ftpserver.FileSystem) {
		ledger := quotafs.NewMemLedger(quotafs.Limits{Bytes: 1000}, quotafs.Usage{})
		fsys := quotafs.New(inner, ledger)
		ctx := context.Background()
		w1, err := fsys.Create(ctx, "/one", ftpserver.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w2, err := fsys.Create(ctx, "/two", ftpserver.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []ftpserver.FileWriter{w1, w2} {
			if _, err := w.Write(make([]byte, 600)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w1.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w2.Commit(ctx); !errors.Is(err, ftpserver.ErrQuota) {
			t.Fatalf("second Commit = %v; want ErrQuota", err)
		}
		wantAbsent(t, inner, "/two")
		wantUsage(t, ledger, quotafs.Usage{Bytes: 600, Files: 1})
	})
}

// An interrupted upload whose data the backend keeps (atomic-resume) is
// counted; one that failed is not.
func TestAbortCountsWhatWasPublished(t *testing.T) {
	t.Parallel()
	inner := memfs.New()
	ledger := quotafs.NewMemLedger(quotafs.Limits{Bytes: 1000}, quotafs.Usage{})
	fsys := quotafs.New(inner, ledger)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		why  ftpserver.AbortReason
		want quotafs.Usage
	}{
		{"/failed", ftpserver.AbortFailed, quotafs.Usage{}},
		{"/interrupted", ftpserver.AbortInterrupted, quotafs.Usage{Bytes: 300, Files: 1}},
	} {
		w, err := fsys.Create(ctx, c.name, ftpserver.CreateOptions{Upload: ftpserver.UploadAtomicResume})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(ctx, c.why); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, ledger, c.want)
	}
}

func TestWalkCountsFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, size := range map[string]int{"a": 10, "d/b": 20, "d/e/c": 30} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	fsys, err := localfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := quotafs.Walk(context.Background(), fsys, "/")
	if err != nil || got != (quotafs.Usage{Bytes: 60, Files: 3}) {
		t.Fatalf("Walk = %+v, %v; want 60 bytes in 3 files", got, err)
	}
}
