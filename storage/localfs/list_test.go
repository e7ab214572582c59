//go:build unix

package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// eachLister runs f with the platform's lister and with the os.Root one.
func eachLister(t *testing.T, f func(t *testing.T)) {
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) {
			defer func(old bool) { fastListing = old }(fastListing)
			fastListing = fast
			f(t)
		})
	}
}

// bigDir fills a directory with n files of different sizes and times, a
// few directories, a symbolic link, a FIFO and upload temporary files.
func bigDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f-%05d", i))
		if err := os.WriteFile(p, make([]byte, i%97), 0o640); err != nil {
			t.Fatal(err)
		}
		mt := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		os.Chtimes(p, mt, mt)
	}
	for i := range 5 {
		os.Mkdir(filepath.Join(dir, fmt.Sprintf("d-%d", i)), 0o750)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s%d", tempPrefix, i)), []byte("partial"), 0o600)
	}
	os.Symlink("f-00001", filepath.Join(dir, "link"))
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600)
	return dir
}

func TestListLargeDirectory(t *testing.T) {
	eachLister(t, func(t *testing.T) {
		dir := bigDir(t, 3000)
		fsys, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer fsys.Close()
		want := map[string]fs.FileInfo{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if isTemp(e.Name()) {
				continue
			}
			fi, err := os.Lstat(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			want[e.Name()] = fi
		}
		l, err := fsys.List(t.Context(), "/")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		got := map[string]bool{}
		for {
			batch, err := l.Next(100)
			if len(batch) > 100 {
				t.Fatalf("Next(100) returned %d entries", len(batch))
			}
			for _, fi := range batch {
				w, ok := want[fi.Name()]
				switch {
				case !ok:
					t.Errorf("listed %q, which is not in the directory (or is a temporary file)", fi.Name())
					continue
				case got[fi.Name()]:
					t.Errorf("listed %q twice", fi.Name())
				}
				got[fi.Name()] = true
				if fi.Mode() != w.Mode() || fi.Size() != w.Size() || !fi.ModTime().Equal(w.ModTime()) || fi.IsDir() != w.IsDir() {
					t.Errorf("%s: mode %v size %d time %v dir %v; os.Lstat says %v %d %v %v",
						fi.Name(), fi.Mode(), fi.Size(), fi.ModTime(), fi.IsDir(), w.Mode(), w.Size(), w.ModTime(), w.IsDir())
				}
				st, ok := fi.Sys().(*syscall.Stat_t)
				if !ok || st.Ino != w.Sys().(*syscall.Stat_t).Ino {
					t.Errorf("%s: Sys() = %#v, want the *syscall.Stat_t of the entry", fi.Name(), fi.Sys())
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != len(want) {
			t.Errorf("listed %d entries, want %d", len(got), len(want))
		}
		if _, err := l.Next(10); !errors.Is(err, io.EOF) {
			t.Errorf("Next after the end = %v, want io.EOF", err)
		}
	})
}

// A listing abandoned halfway (the client aborted) leaves no goroutine and
// no descriptor behind.
func TestListClosedEarly(t *testing.T) {
	eachLister(t, func(t *testing.T) {
		dir := bigDir(t, 5000)
		fsys, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer fsys.Close()
		before := runtime.NumGoroutine()
		for range 20 {
			l, err := fsys.List(t.Context(), "/")
			if err != nil {
				t.Fatal(err)
			}
			if batch, err := l.Next(10); err != nil || len(batch) != 10 {
				t.Fatalf("Next(10) = %d entries, %v", len(batch), err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Next(10); !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("Next after Close = %v, want fs.ErrClosed", err)
			}
		}
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("%d goroutines after closing the listers, %d before", n, before)
		}
	})
}

func TestListContextCancelled(t *testing.T) {
	eachLister(t, func(t *testing.T) {
		dir := bigDir(t, 2000)
		fsys, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer fsys.Close()
		ctx, cancel := context.WithCancel(t.Context())
		l, err := fsys.List(ctx, "/")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := l.Next(10); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := l.Next(10); !errors.Is(err, context.Canceled) {
			t.Errorf("Next after cancel = %v, want context.Canceled", err)
		}
	})
}
