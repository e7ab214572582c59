package ftpclient_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testwait"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// walkTree writes a tree of dirs directories (two levels) with files in
// each below root, and returns every path in it, root included.
func walkTree(t *testing.T, mfs *memfs.FS, root string, dirs int) []string {
	t.Helper()
	all := []string{root}
	for i := range dirs {
		d := fmt.Sprintf("%s/d%02d", root, i)
		all = append(all, d, d+"/sub")
		for _, f := range []string{d + "/a", d + "/b", d + "/sub/c"} {
			if err := mfs.WriteFile(f, []byte(f)); err != nil {
				t.Fatal(err)
			}
			all = append(all, f)
		}
	}
	if err := mfs.WriteFile(root+"/top", nil); err != nil {
		t.Fatal(err)
	}
	all = append(all, root+"/top")
	slices.Sort(all)
	return all
}

// walkRecorder records WalkConcurrent's calls, which come from several
// goroutines.
type walkRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *walkRecorder) add(p string) {
	r.mu.Lock()
	r.seen = append(r.seen, p)
	r.mu.Unlock()
}

func TestWalkConcurrent(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	want := walkTree(t, ts.fs, "/w", 12)
	c := dial(t, ts.addr, ftpclient.WithPoolSize(4))
	ctx := testCtx(t)

	var rec walkRecorder
	err := c.WalkConcurrent(ctx, "/w", 4, func(p string, e ftp.Entry, err error) error {
		if err != nil {
			return err
		}
		if path.Base(p) != e.Name && p != "/w" {
			t.Errorf("%s: entry named %q", p, e.Name)
		}
		rec.add(p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(slices.Values(rec.seen)); !slices.Equal(got, want) {
		t.Fatalf("WalkConcurrent saw\n%v\nwant\n%v", got, want)
	}
	// A directory comes before its entries, and the entries of one
	// directory come in lexical order.
	index := map[string]int{}
	for i, p := range rec.seen {
		index[p] = i
	}
	for _, p := range want[1:] {
		if index[path.Dir(p)] > index[p] {
			t.Errorf("%s was walked before its directory", p)
		}
	}
	for _, dir := range []string{"/w", "/w/d03", "/w/d07"} {
		var children []string
		for _, p := range rec.seen {
			if path.Dir(p) == dir {
				children = append(children, p)
			}
		}
		if !slices.IsSorted(children) {
			t.Errorf("the entries of %s came as %v", dir, children)
		}
	}
}

func TestWalkConcurrentSkipAndStop(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	walkTree(t, ts.fs, "/w", 6)
	c := dial(t, ts.addr, ftpclient.WithPoolSize(3))
	ctx := testCtx(t)

	// SkipDir on a directory leaves out what is in it; on a file, the
	// rest of its directory.
	var rec walkRecorder
	err := c.WalkConcurrent(ctx, "/w", 3, func(p string, e ftp.Entry, err error) error {
		if err != nil {
			return err
		}
		rec.add(p)
		if p == "/w/d01" || p == "/w/d02/a" {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rec.seen {
		if path.Dir(p) == "/w/d01" || p == "/w/d02/b" || p == "/w/d02/sub" {
			t.Errorf("%s walked after SkipDir", p)
		}
	}
	if !slices.Contains(rec.seen, "/w/d03/sub/c") {
		t.Errorf("the walk stopped short: %v", rec.seen)
	}

	// An error stops the walk and is returned; SkipAll stops it too, and
	// returns nil.
	stop := errors.New("stop here")
	for _, give := range []error{stop, fs.SkipAll} {
		var calls atomic.Int64
		err = c.WalkConcurrent(ctx, "/w", 3, func(p string, e ftp.Entry, err error) error {
			calls.Add(1)
			if p == "/w/d00" {
				return give
			}
			return nil
		})
		if give == stop && !errors.Is(err, stop) || give == fs.SkipAll && err != nil {
			t.Errorf("fn returned %v: the walk returned %v", give, err)
		}
		// The root's entries are passed on one goroutine, in order, and
		// nothing else is listed yet: after d00 nothing comes.
		if n := calls.Load(); n != 2 {
			t.Errorf("fn returned %v, and was called %d times in all", give, n)
		}
	}

	// The root's errors go to fn, as Walk's do.
	err = c.WalkConcurrent(ctx, "/nothing", 3, func(p string, e ftp.Entry, err error) error { return err })
	if !ftpclient.IsNotExist(err) {
		t.Fatalf("WalkConcurrent of a missing root: %v", err)
	}
}

// listGate is a file system whose directory listings wait until released,
// counting how many wait at once.
type listGate struct {
	ftpserver.FileSystem
	mu       sync.Mutex
	inFlight int
	most     int
	release  chan struct{}
}

func (g *listGate) List(ctx context.Context, name string) (ftpserver.DirLister, error) {
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.FileSystem.List(ctx, name)
}

func (g *listGate) counts() (inFlight, most int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight, g.most
}

func TestWalkConcurrentBound(t *testing.T) {
	t.Parallel()
	mfs := memfs.New()
	want := walkTree(t, mfs, "/w", 10)
	gate := &listGate{FileSystem: mfs, release: make(chan struct{})}
	ts := (&testServer{fs: mfs}).start(t, aliceOnly(gate))
	// A pool larger than the bound, so that the bound is the walk's.
	c := dial(t, ts.addr, ftpclient.WithPoolSize(8))
	ctx := testCtx(t)

	const parallel = 3
	var rec walkRecorder
	done := make(chan error, 1)
	go func() {
		done <- c.WalkConcurrent(ctx, "/w", parallel, func(p string, e ftp.Entry, err error) error {
			rec.add(p)
			return err
		})
	}()
	// The root is listed alone; once it is released, its ten directories
	// are listed parallel at a time.
	waitFor(t, func() bool { n, _ := gate.counts(); return n == 1 })
	gate.release <- struct{}{}
	waitFor(t, func() bool { n, _ := gate.counts(); return n == parallel })
	close(gate.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, most := gate.counts(); most != parallel {
		t.Errorf("%d listings at once, want %d", most, parallel)
	}
	if got := slices.Sorted(slices.Values(rec.seen)); !slices.Equal(got, want) {
		t.Errorf("saw %v, want %v", got, want)
	}
}

func TestWalkConcurrentCancel(t *testing.T) {
	t.Parallel()
	mfs := memfs.New()
	walkTree(t, mfs, "/w", 4)
	gate := &listGate{FileSystem: mfs, release: make(chan struct{})}
	ts := (&testServer{fs: mfs}).start(t, aliceOnly(gate))
	c := dial(t, ts.addr, ftpclient.WithPoolSize(2))
	ctx, cancel := context.WithCancel(testCtx(t))

	var calls atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- c.WalkConcurrent(ctx, "/w", 2, func(p string, e ftp.Entry, err error) error {
			calls.Add(1)
			return err
		})
	}()
	waitFor(t, func() bool { n, _ := gate.counts(); return n == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled walk returned %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fn called %d times; want once, for the root", n)
	}
}

// waitFor polls cond until it holds (testwait.For).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testwait.For(t, "the walk's state", cond)
}

// TestWalkNamesThatClimb: a server that lists a directory named "../w"
// inside /w must not make a walk list /w again and again (path.Join makes
// "/w/../w" "/w"), nor hand fn a path that names another file: such a
// name is a listing line not understood.
func TestWalkNamesThatClimb(t *testing.T) {
	t.Parallel()
	fake := startFake(t)
	var lists atomic.Int64
	fake.handle("LIST", func(s *fakeSession, arg string) {
		if arg == "/" {
			s.sendData([]byte("drwxr-xr-x 1 u g 0 Jan 01 2024 w\r\n"))
			return
		}
		lists.Add(1)
		s.sendData([]byte("drwxr-xr-x 1 u g 0 Jan 01 2024 ../w\r\n" +
			"drwxr-xr-x 1 u g 0 Jan 01 2024 a/b\r\n" +
			"-rw-r--r-- 1 u g 3 Jan 01 2024 f\r\n"))
	})
	for name, walk := range map[string]func(*ftpclient.Client, context.Context, string, ftpclient.WalkFunc) error{
		"Walk": (*ftpclient.Client).Walk,
		"WalkConcurrent": func(c *ftpclient.Client, ctx context.Context, root string, fn ftpclient.WalkFunc) error {
			return c.WalkConcurrent(ctx, root, 2, fn)
		},
	} {
		lists.Store(0)
		c := dial(t, fake.addr)
		var (
			rec     walkRecorder
			listErr *ftpclient.ListError
		)
		err := walk(c, testCtx(t), "/w", func(p string, e ftp.Entry, err error) error {
			if errors.As(err, &listErr) {
				return nil
			}
			if err != nil {
				return err
			}
			rec.add(p)
			if len(rec.seen) > 20 {
				return errors.New("walking in circles")
			}
			return nil
		})
		if err != nil || !slices.Equal(rec.seen, []string{"/w", "/w/f"}) || lists.Load() != 1 {
			t.Errorf("%s: %v; saw %q in %d listings of /w, want /w and /w/f in one", name, err, rec.seen, lists.Load())
		}
		if listErr == nil || len(listErr.Lines) != 2 || !strings.HasSuffix(listErr.Lines[0], " ../w") {
			t.Errorf("%s: the names that climb are not reported: %v", name, listErr)
		}
	}
}

// TestWalkConcurrentCancelDuringEntries: once ctx is done, fn is called no
// more, even for the rest of the directory whose entries are being passed.
func TestWalkConcurrentCancelDuringEntries(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	walkTree(t, ts.fs, "/w", 6)
	c := dial(t, ts.addr, ftpclient.WithPoolSize(2))
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()

	var rec walkRecorder
	err := c.WalkConcurrent(ctx, "/w", 2, func(p string, e ftp.Entry, err error) error {
		rec.add(p)
		if p == "/w/d01" {
			cancel()
		}
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a walk cancelled by fn returned %v", err)
	}
	// The root's entries come in order on one goroutine, and nothing
	// below them is listed before they are all passed.
	if want := []string{"/w", "/w/d00", "/w/d01"}; !slices.Equal(rec.seen, want) {
		t.Errorf("fn saw %q, want %q", rec.seen, want)
	}
}
