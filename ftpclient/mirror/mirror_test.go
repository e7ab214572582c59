package mirror_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpclient/mirror"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// server is a real ferry server on 127.0.0.1:0 over a memfs, for
// alice/secret with write access; wrap, when given, wraps the file system.
type server struct {
	fs   *memfs.FS
	addr string
}

func startServer(t *testing.T, wrap func(ftpserver.FileSystem) ftpserver.FileSystem) *server {
	t.Helper()
	mfs := memfs.New()
	var fsys ftpserver.FileSystem = mfs
	if wrap != nil {
		fsys = wrap(mfs)
	}
	srv := &ftpserver.Server{
		LoginFailDelay: -1,
		Logger:         slog.New(slog.DiscardHandler),
		Auth: ftpserver.AuthFunc(func(ctx context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "alice" && pass == "secret" {
				return &ftpserver.Account{User: user, FS: fsys, Write: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return &server{fs: mfs, addr: ln.Addr().String()}
}

func (s *server) dial(t *testing.T) *ftpclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ftpclient.Dial(ctx, s.addr, ftpclient.WithLogin("alice", "secret"),
		ftpclient.WithPoolSize(4), ftpclient.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var then = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// put writes a file on the server with the modification time then.
func (s *server) put(t *testing.T, name, content string) {
	t.Helper()
	if err := s.fs.WriteFile(name, []byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := s.fs.SetModTime(context.Background(), name, then); err != nil {
		t.Fatal(err)
	}
}

func writeLocal(t *testing.T, name, content string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// localFiles returns the files below dir with their contents.
func localFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// events collects what a mirror reports.
type events struct {
	mu   sync.Mutex
	list []mirror.Event
}

func (e *events) report(ev mirror.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
}

func (e *events) failures() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.list {
		if ev.Err != nil && !ev.Warning {
			out = append(out, ev.What())
		}
	}
	return out
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestDownloadThenUpToDate(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	want := map[string]string{
		"a.txt":            "alpha",
		"empty":            "",
		"sub dir/b.txt":    "beta",
		"sub dir/深い/c.bin": strings.Repeat("c", 100<<10),
	}
	for name, content := range want {
		s.put(t, "/src/"+name, content)
	}
	c := s.dial(t)
	ctx := testCtx(t)
	dst := filepath.Join(t.TempDir(), "copy")

	var ev events
	var progress sync.Mutex
	var moved int64
	res, err := mirror.Run(ctx, c, "/src", dst, mirror.Options{
		Report:   ev.report,
		Progress: func(n int64) { progress.Lock(); moved += n; progress.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := localFiles(t, dst); !maps.Equal(got, want) {
		t.Fatalf("downloaded %v, want %v", got, want)
	}
	total := int64(len("alpha") + len("beta") + 100<<10)
	if res.Transferred != 4 || res.Bytes != total || res.Failed != 0 || moved != total {
		t.Errorf("result %+v, progress %d; want 4 files, %d bytes", res, moved, total)
	}
	fi, err := os.Stat(filepath.Join(dst, "sub dir", "b.txt"))
	if err != nil || !fi.ModTime().Equal(then) {
		t.Errorf("b.txt's time: %v, %v; want the server's, %v", fi.ModTime(), err, then)
	}
	var gets []string
	for _, e := range ev.list {
		if e.Op == mirror.OpGet && e.Err == nil {
			gets = append(gets, e.Path+" "+e.Reason)
		}
	}
	slices.Sort(gets)
	if want := []string{"a.txt new", "empty new", "sub dir/b.txt new", "sub dir/深い/c.bin new"}; !slices.Equal(gets, want) {
		t.Errorf("reported %q, want %q", gets, want)
	}

	// Nothing to do the second time.
	plan, err := mirror.Compare(ctx, c, "/src", dst, mirror.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Copies) != 0 || plan.UpToDate != 4 || plan.MakeRoot || len(plan.Mkdirs) != 0 {
		t.Errorf("a second plan: %+v", plan)
	}
}

func TestUpload(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.dial(t)
	ctx := testCtx(t)
	src := t.TempDir()
	writeLocal(t, filepath.Join(src, "x.txt"), "ex", then)
	writeLocal(t, filepath.Join(src, "deep", "er", "y.txt"), "why", then)

	res, err := mirror.Run(ctx, c, "/made/here", src, mirror.Options{Direction: mirror.Upload})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transferred != 2 || res.Bytes != 5 {
		t.Errorf("result %+v", res)
	}
	for name, want := range map[string]string{"/made/here/x.txt": "ex", "/made/here/deep/er/y.txt": "why"} {
		if got, err := s.fs.ReadFile(name); err != nil || string(got) != want {
			t.Errorf("%s on the server: %q, %v; want %q", name, got, err, want)
		}
	}
	fi, err := s.fs.Stat(ctx, "/made/here/x.txt")
	if err != nil || !fi.ModTime().Equal(then) {
		t.Errorf("x.txt's time on the server: %v, %v; want %v (MFMT)", fi.ModTime(), err, then)
	}
	plan, err := mirror.Compare(ctx, c, "/made/here", src, mirror.Options{Direction: mirror.Upload})
	if err != nil || len(plan.Copies) != 0 || plan.UpToDate != 2 {
		t.Errorf("a second plan: %+v, %v", plan, err)
	}
}

// TestPlanChangesNothing is what a dry run shows: the plan, in detail,
// with both sides left as they were.
func TestPlanChangesNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.put(t, "/src/same.txt", "same")
	s.put(t, "/src/changed.txt", "new content")
	s.put(t, "/src/sub/new.txt", "n")
	s.put(t, "/src/excluded/x.txt", "x")
	dst := t.TempDir()
	writeLocal(t, filepath.Join(dst, "same.txt"), "same", then)
	writeLocal(t, filepath.Join(dst, "changed.txt"), "old", then)
	writeLocal(t, filepath.Join(dst, "gone", "old.txt"), "o", then)
	writeLocal(t, filepath.Join(dst, "stale.txt"), "s", then)
	before := localFiles(t, dst)
	c := s.dial(t)

	plan, err := mirror.Compare(testCtx(t), c, "/src", dst, mirror.Options{Delete: true, Exclude: []string{"excluded"}})
	if err != nil {
		t.Fatal(err)
	}
	var copies []string
	for _, cp := range plan.Copies {
		copies = append(copies, cp.Path+": "+cp.Reason)
	}
	switch {
	case plan.MakeRoot,
		!slices.Equal(copies, []string{"changed.txt: size differs", "sub/new.txt: new"}),
		!slices.Equal(plan.Mkdirs, []string{"sub"}),
		!slices.Equal(plan.Removes, []string{"gone/old.txt", "stale.txt"}),
		!slices.Equal(plan.Rmdirs, []string{"gone"}),
		plan.UpToDate != 1, plan.Bytes != int64(len("new content")+1), plan.Failed != 0:
		t.Errorf("plan %+v (copies %q)", plan, copies)
	}
	if after := localFiles(t, dst); !maps.Equal(after, before) {
		t.Errorf("Compare changed the local tree: %v", after)
	}

	// Run does it.
	res, err := plan.Run(testCtx(t))
	if err != nil || res.Transferred != 2 || res.Deleted != 3 || res.UpToDate != 1 {
		t.Fatalf("Run: %+v, %v", res, err)
	}
	want := map[string]string{"same.txt": "same", "changed.txt": "new content", "sub/new.txt": "n"}
	if got := localFiles(t, dst); !maps.Equal(got, want) {
		t.Errorf("after Run: %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(dst, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("gone was not removed: %v", err)
	}
}

func TestDeleteOnServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.put(t, "/t/keep.txt", "k")
	s.put(t, "/t/old/x.txt", "x")
	s.put(t, "/t/old/deeper/y.txt", "y")
	src := t.TempDir()
	writeLocal(t, filepath.Join(src, "keep.txt"), "k", then)
	c := s.dial(t)

	var ev events
	res, err := mirror.Run(testCtx(t), c, "/t", src, mirror.Options{Direction: mirror.Upload, Delete: true, Report: ev.report})
	if err != nil || res.Deleted != 4 || res.Transferred != 0 {
		t.Fatalf("Run: %+v, %v", res, err)
	}
	for _, gone := range []string{"/t/old/x.txt", "/t/old/deeper", "/t/old"} {
		if _, err := s.fs.Stat(context.Background(), gone); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still on the server: %v", gone, err)
		}
	}
	var rmdirs []string
	for _, e := range ev.list {
		if e.Op == mirror.OpRmdir {
			rmdirs = append(rmdirs, e.Path)
		}
	}
	if !slices.Equal(rmdirs, []string{"old/deeper", "old"}) {
		t.Errorf("rmdir events %q, want deepest first", rmdirs)
	}
}

// failingFS refuses to open or create the files named bad.
type failingFS struct {
	ftpserver.FileSystem
	bad string
}

func (f failingFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if path.Base(name) == f.bad {
		return nil, fs.ErrPermission
	}
	return f.FileSystem.Open(ctx, name, offset)
}

func (f failingFS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	if path.Base(name) == f.bad {
		return nil, fs.ErrPermission
	}
	return f.FileSystem.Create(ctx, name, opts)
}

func TestFailuresPerFile(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(fsys ftpserver.FileSystem) ftpserver.FileSystem { return failingFS{fsys, "bad.txt"} })
	for _, name := range []string{"/s/a.txt", "/s/bad.txt", "/s/d/b.txt"} {
		s.put(t, name, name)
	}
	c := s.dial(t)
	dst := t.TempDir()

	var ev events
	var tries []string
	var mu sync.Mutex
	res, err := mirror.Run(testCtx(t), c, "/s", dst, mirror.Options{
		Report: ev.report,
		Retry: func(ctx context.Context, what string, try func() error) error {
			mu.Lock()
			tries = append(tries, what)
			mu.Unlock()
			return try()
		},
	})
	if !errors.Is(err, mirror.ErrIncomplete) || res.Failed != 1 || res.Transferred != 2 {
		t.Fatalf("Run: %+v, %v; want one failure", res, err)
	}
	if f := ev.failures(); !slices.Equal(f, []string{"get bad.txt"}) {
		t.Errorf("failures reported: %q", f)
	}
	slices.Sort(tries)
	if !slices.Equal(tries, []string{"get a.txt", "get bad.txt", "get d/b.txt"}) {
		t.Errorf("Retry ran %q", tries)
	}
	want := map[string]string{"a.txt": "/s/a.txt", "d/b.txt": "/s/d/b.txt"}
	if got := localFiles(t, dst); !maps.Equal(got, want) {
		t.Errorf("copied %v, want %v (and no temporary file)", got, want)
	}

	// Uploading, the server refuses the file.
	writeLocal(t, filepath.Join(dst, "bad.txt"), "refused", then)
	ev = events{}
	res, err = mirror.Run(testCtx(t), c, "/up", dst, mirror.Options{Direction: mirror.Upload, Report: ev.report})
	if !errors.Is(err, mirror.ErrIncomplete) || res.Failed != 1 || res.Transferred != 2 {
		t.Fatalf("upload: %+v, %v; want one failure", res, err)
	}
	if f := ev.failures(); !slices.Equal(f, []string{"put bad.txt"}) {
		t.Errorf("failures reported: %q", f)
	}
}

// stallFS serves the file named slow: the first chunk, then nothing until
// released.
type stallFS struct {
	ftpserver.FileSystem
	slow    string
	release chan struct{}
}

type stallReader struct {
	io.ReadCloser
	sent    bool
	release chan struct{}
}

func (r *stallReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return r.ReadCloser.Read(p[:min(len(p), 4096)])
	}
	<-r.release
	return 0, errors.New("released")
}

func (f stallFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	rc, err := f.FileSystem.Open(ctx, name, offset)
	if err != nil || path.Base(name) != f.slow {
		return rc, err
	}
	return &stallReader{ReadCloser: rc, release: f.release}, nil
}

// TestCancelPublishesNothing cancels a mirror in the middle of a
// download, which the server will never finish: Run returns with the
// context's error, and the file is not left, truncated, under its name,
// nor under a temporary one.
func TestCancelPublishesNothing(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := startServer(t, func(fsys ftpserver.FileSystem) ftpserver.FileSystem { return stallFS{fsys, "big.bin", release} })
	t.Cleanup(func() { close(release) }) // before the server's shutdown, which waits for the transfer
	s.put(t, "/s/big.bin", strings.Repeat("b", 1<<20))
	s.put(t, "/s/small.txt", "s")
	c := s.dial(t)
	dst := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		res mirror.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := mirror.Run(ctx, c, "/s", dst, mirror.Options{
			Parallel: 1,
			// The first bytes of big.bin have arrived: cancel.
			Progress: func(n int64) { cancel() },
		})
		done <- outcome{res, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run goes on after its context was cancelled")
	}
	if !errors.Is(o.err, context.Canceled) || o.res.Transferred != 0 {
		t.Fatalf("Run: %+v, %v; want context.Canceled and nothing transferred", o.res, o.err)
	}
	entries, err := os.ReadDir(dst)
	if err != nil || len(entries) != 0 {
		t.Errorf("left in the target: %v, %v", entries, err)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, o := range []mirror.Options{
		{Parallel: -1},
		{Exclude: []string{"[a-"}},
		{Include: []string{"\\"}},
		{Direction: 7},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: valid", o)
		}
	}
	if err := (&mirror.Options{Include: []string{"*.txt"}, Exclude: []string{"build"}}).Validate(); err != nil {
		t.Error(err)
	}
}
