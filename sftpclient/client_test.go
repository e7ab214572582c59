package sftpclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/sftpclient"
)

func TestStoreRetrieve(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.dial(t, s.config())
	ctx := testContext(t)
	data := randomBytes(t, 3<<20+12345)

	n, err := c.Store(ctx, "big.bin", bytes.NewReader(data), 0)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Store: %d, %v", n, err)
	}
	got, err := os.ReadFile(filepath.Join(s.Root, "big.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file on disk differs from what was stored (%d bytes, %v)", len(got), err)
	}
	var buf bytes.Buffer
	n, err = c.Retrieve(ctx, "/big.bin", 0, &buf)
	if err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("Retrieve: %d, %v; same bytes: %v", n, err, bytes.Equal(buf.Bytes(), data))
	}
	buf.Reset()
	if _, err := c.Retrieve(ctx, "big.bin", 1<<20, &buf); err != nil || !bytes.Equal(buf.Bytes(), data[1<<20:]) {
		t.Fatalf("Retrieve from 1 MiB: %v, %d bytes", err, buf.Len())
	}

	// Resume an upload: the first half, then the rest at its offset.
	half := int64(len(data) / 2)
	if _, err := c.Store(ctx, "resumed.bin", bytes.NewReader(data[:half]), 0); err != nil {
		t.Fatal(err)
	}
	if size, err := c.Size(ctx, "resumed.bin"); err != nil || size != half {
		t.Fatalf("Size: %d, %v; want %d", size, err, half)
	}
	if _, err := c.Store(ctx, "resumed.bin", bytes.NewReader(data[half:]), half); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(s.Root, "resumed.bin")); !bytes.Equal(got, data) {
		t.Fatalf("resumed upload differs (%d bytes)", len(got))
	}
	if _, err := c.Append(ctx, "resumed.bin", strings.NewReader("tail")); err != nil {
		t.Fatal(err)
	}
	rd, err := c.Open(ctx, "resumed.bin", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(rd)
	rd.Close()
	if err != nil || string(tail) != "tail" {
		t.Fatalf("Open at the old end: %q, %v", tail, err)
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.dial(t, s.config())
	ctx := testContext(t)

	if c.Home() != "/" {
		t.Errorf("Home = %q, want /", c.Home())
	}
	if _, err := c.Stat(ctx, "missing"); !ftpclient.IsNotExist(err) {
		t.Errorf("Stat of a missing file: %v, want one wrapping fs.ErrNotExist", err)
	}
	if err := c.Mkdir(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(ctx, "d/a.txt", strings.NewReader("hello"), 0); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2020, 5, 17, 10, 20, 30, 0, time.UTC)
	if err := c.SetModTime(ctx, "d/a.txt", when); err != nil {
		t.Fatal(err)
	}
	if mt, err := c.ModTime(ctx, "d/a.txt"); err != nil || !mt.Equal(when) {
		t.Errorf("ModTime = %v, %v; want %v", mt, err, when)
	}
	entries, err := c.List(ctx, "d")
	if err != nil || len(entries) != 1 {
		t.Fatalf("List: %v, %v", entries, err)
	}
	if e := entries[0]; e.Name != "a.txt" || e.Type != "file" || e.Size != 5 || !e.ModTime.Equal(when) {
		t.Errorf("entry %+v", e)
	}
	if e, err := c.Stat(ctx, "d"); err != nil || !e.IsDir() || e.Name != "d" {
		t.Errorf("Stat(d) = %+v, %v", e, err)
	}
	if err := c.Remove(ctx, "d"); err == nil {
		t.Error("Remove of a directory succeeded")
	}
	if err := c.Rename(ctx, "d/a.txt", "b.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDir(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "b.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "b.txt")); !os.IsNotExist(err) {
		t.Errorf("b.txt still there: %v", err)
	}
	if err := c.Remove(ctx, "b.txt"); !ftpclient.IsNotExist(err) {
		t.Errorf("second Remove: %v, want not-exist", err)
	}
	c.Close()
	if _, err := c.Stat(ctx, "."); !errors.Is(err, sftpclient.ErrClosed) {
		t.Errorf("Stat after Close: %v", err)
	}
}

func TestWalkConcurrent(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, d := range []string{"a/b/c", "a/x", "z"} {
		if err := os.MkdirAll(filepath.Join(s.Root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"a/1", "a/b/2", "a/b/c/3", "z/4", "top"} {
		if err := os.WriteFile(filepath.Join(s.Root, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := s.dial(t, s.config())
	var (
		mu   sync.Mutex
		seen []string
	)
	err := c.WalkConcurrent(testContext(t), "/", 3, func(p string, e ftp.Entry, err error) error {
		if err != nil {
			return err
		}
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
		if p == "/a/x" {
			return nil
		}
		if p == "/z" {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	want := []string{"/", "/a", "/a/1", "/a/b", "/a/b/2", "/a/b/c", "/a/b/c/3", "/a/x", "/top", "/z"}
	if !slices.Equal(seen, want) {
		t.Errorf("walked %q, want %q", seen, want)
	}
}

// A transfer whose context ends returns at once, and the client dials a
// new connection for the next call.
func TestCancelTransfer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	data := randomBytes(t, 8<<20)
	if err := os.WriteFile(filepath.Join(s.Root, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c := s.dial(t, s.config())
	ctx, cancel := context.WithCancel(testContext(t))
	w := &cancelWriter{cancel: cancel}
	_, err := c.Retrieve(ctx, "f", 0, w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Retrieve after cancel: %v, want context.Canceled", err)
	}
	if n, err := c.Size(testContext(t), "f"); err != nil || n != int64(len(data)) {
		t.Fatalf("Size after a cancelled transfer: %d, %v", n, err)
	}
}

type cancelWriter struct {
	cancel context.CancelFunc
	n      int
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.cancel()
	return len(p), nil
}
