package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// mirrorTestServer is a real ferry server on 127.0.0.1:0 over a directory,
// for user "mirror", password "pw", with write access.
type mirrorTestServer struct {
	root      string // the served directory
	url       string // ftp://mirror:pw@127.0.0.1:PORT
	transfers atomic.Int64
}

// mirrorTransferCounter counts the server's "transfer" log lines: one per RETR,
// STOR or APPE.
type mirrorTransferCounter struct{ n *atomic.Int64 }

func (h mirrorTransferCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h mirrorTransferCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "transfer" {
		h.n.Add(1)
	}
	return nil
}
func (h mirrorTransferCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h mirrorTransferCounter) WithGroup(string) slog.Handler      { return h }

// startMirrorServer serves root; wrap, when given, wraps its file system
// (to make chosen operations fail or slow down).
func startMirrorServer(t testing.TB, root string, wrap func(ftpserver.FileSystem) ftpserver.FileSystem) *mirrorTestServer {
	t.Helper()
	lfs, err := localfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lfs.Close() })
	var fsys ftpserver.FileSystem = lfs
	if wrap != nil {
		fsys = wrap(fsys)
	}
	ts := &mirrorTestServer{root: root}
	srv := &ftpserver.Server{
		LoginFailDelay: -1,
		Logger:         slog.New(mirrorTransferCounter{&ts.transfers}),
		Auth: ftpserver.AuthFunc(func(ctx context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "mirror" && pass == "pw" {
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
	ts.url = "ftp://mirror:pw@" + ln.Addr().String()
	return ts
}

// mirrorRun runs a ferry command line in-process and returns its output.
func mirrorRun(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = Run(ctx, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}, args)
	return out.String(), errOut.String(), err
}

// mustMirror runs ferry mirror and fails the test if it fails.
func mustMirror(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := mirrorRun(t, append([]string{"mirror"}, args...)...)
	if err != nil {
		t.Fatalf("ferry mirror %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, errOut)
	}
	if errOut != "" {
		t.Fatalf("ferry mirror %q wrote on stderr:\n%s", args, errOut)
	}
	return out
}

// makeMirrorTree writes n files into dir, in nested directories whose
// names, like the files', hold spaces and UTF-8, with sizes from 0 to a
// few KiB and a few larger ones.
func makeMirrorTree(t testing.TB, dir string, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	dirs := []string{"", "docs", "a b", "a b/ünïcödé ñ", "a b/ünïcödé ñ/深い", "empty dir", "x/y/z"}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		d := dirs[i%len(dirs)]
		if d == "empty dir" {
			d = "docs"
		}
		names := []string{"file %d.txt", "naïve café %d.bin", "data-%d.log", "  spaced %d  .dat", "日本語 %d"}
		name := fmt.Sprintf(names[i%len(names)], i)
		size := rng.IntN(4096)
		if i%97 == 0 {
			size = 256<<10 + rng.IntN(1<<16)
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(d), name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mirrorDigest describes every file (by content hash) and directory below dir.
func mirrorDigest(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[rel] = hex.EncodeToString(sum[:8])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mirrorSameTrees(t testing.TB, want, got string) {
	t.Helper()
	w, g := mirrorDigest(t, want), mirrorDigest(t, got)
	for rel, h := range w {
		if g[rel] != h {
			t.Errorf("%s: %q in the copy, want %q", rel, g[rel], h)
		}
	}
	for rel := range g {
		if _, ok := w[rel]; !ok {
			t.Errorf("%s: in the copy only", rel)
		}
	}
}

func mirrorWriteFile(t testing.TB, name, content string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(name, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func mirrorReadFile(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestMirrorBothWays(t *testing.T) {
	t.Parallel()
	ts := startMirrorServer(t, t.TempDir(), nil)
	src := filepath.Join(ts.root, "tree")
	makeMirrorTree(t, src, 300)
	local := filepath.Join(t.TempDir(), "local copy")

	out := mustMirror(t, "--parallel", "8", ts.url+"/tree", local)
	mirrorSameTrees(t, src, local)
	if !strings.Contains(out, "300 files transferred") {
		t.Errorf("summary: %s", out)
	}
	if n := ts.transfers.Load(); n != 300 {
		t.Errorf("the server saw %d transfers, want 300", n)
	}
	// Times were copied: a second run transfers nothing.
	before := ts.transfers.Load()
	out = mustMirror(t, ts.url+"/tree", local)
	if n := ts.transfers.Load() - before; n != 0 || !strings.Contains(out, "0 files transferred") || !strings.Contains(out, "300 up to date") {
		t.Errorf("second download: %d transfers; %s", n, out)
	}
	fi, _ := os.Stat(filepath.Join(src, "file 0.txt"))
	li, _ := os.Stat(filepath.Join(local, "file 0.txt"))
	if fi == nil || li == nil || !fi.ModTime().Truncate(time.Second).Equal(li.ModTime().Truncate(time.Second)) {
		t.Errorf("modification time not copied: %v, %v", fi, li)
	}

	// Upload the copy to a new directory, two levels down.
	before = ts.transfers.Load()
	out = mustMirror(t, "--reverse", "-P", "8", local, ts.url+"/up/load ü")
	mirrorSameTrees(t, local, filepath.Join(ts.root, "up", "load ü"))
	if n := ts.transfers.Load() - before; n != 300 || !strings.Contains(out, "300 files transferred") {
		t.Errorf("upload: %d transfers; %s", n, out)
	}
	before = ts.transfers.Load()
	out = mustMirror(t, "--reverse", local, ts.url+"/up/load ü")
	if n := ts.transfers.Load() - before; n != 0 || !strings.Contains(out, "0 files transferred") {
		t.Errorf("second upload: %d transfers; %s", n, out)
	}
}

func TestMirrorDelete(t *testing.T) {
	t.Parallel()
	for _, reverse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reverse=%v", reverse), func(t *testing.T) {
			ts := startMirrorServer(t, t.TempDir(), nil)
			src, dst := filepath.Join(ts.root, "d"), filepath.Join(t.TempDir(), "d")
			args := []string{ts.url + "/d", dst}
			if reverse {
				src, dst = dst, src
				args = []string{"-R", src, ts.url + "/d"}
			}
			makeMirrorTree(t, src, 40)
			mustMirror(t, args...)
			mirrorSameTrees(t, src, dst)

			os.RemoveAll(filepath.Join(src, "x"))
			os.Remove(filepath.Join(src, "file 0.txt"))
			mirrorWriteFile(t, filepath.Join(src, "new", "n.txt"), "new", time.Time{})
			// A file where the target has a directory, and the reverse.
			os.RemoveAll(filepath.Join(src, "a b", "ünïcödé ñ", "深い"))
			mirrorWriteFile(t, filepath.Join(src, "a b", "ünïcödé ñ", "深い"), "now a file", time.Time{})
			os.Remove(filepath.Join(src, "a b", "data-2.log"))
			mirrorWriteFile(t, filepath.Join(src, "a b", "data-2.log", "inside"), "now a dir", time.Time{})

			// Without --delete, what the source lost stays; what is in the way fails.
			_, errOut, err := mirrorRun(t, append([]string{"mirror"}, args...)...)
			if err == nil || !strings.Contains(errOut, "in the way") {
				t.Errorf("a type clash without --delete: %v\n%s", err, errOut)
			}
			if _, err := os.Stat(filepath.Join(dst, "x", "y", "z")); err != nil {
				t.Errorf("deleted without --delete: %v", err)
			}
			out := mustMirror(t, append([]string{"--delete", "-v"}, args...)...)
			mirrorSameTrees(t, src, dst)
			if !strings.Contains(out, "rmdir x/y/z") || !strings.Contains(out, "delete file 0.txt") {
				t.Errorf("verbose output:\n%s", out)
			}
		})
	}
}

// mirrorSnapshot records names, contents and times of a tree.
func mirrorSnapshot(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %s", p, fi.IsDir(), fi.Size(), fi.ModTime())
		if !fi.IsDir() {
			b.WriteString(" " + mirrorReadFile(t, p))
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

func TestMirrorDryRun(t *testing.T) {
	t.Parallel()
	ts := startMirrorServer(t, t.TempDir(), nil)
	src, dst := filepath.Join(ts.root, "s"), filepath.Join(t.TempDir(), "t")
	mirrorWriteFile(t, filepath.Join(src, "same.txt"), "same", time.Unix(1e9, 0))
	mirrorWriteFile(t, filepath.Join(src, "changed.txt"), "new content", time.Unix(1e9, 0))
	mirrorWriteFile(t, filepath.Join(src, "sub dir", "new.txt"), "new", time.Time{})
	mirrorWriteFile(t, filepath.Join(dst, "same.txt"), "same", time.Unix(1e9, 0))
	mirrorWriteFile(t, filepath.Join(dst, "changed.txt"), "old", time.Unix(1e9, 0))
	mirrorWriteFile(t, filepath.Join(dst, "gone", "old.txt"), "old", time.Time{})
	before := mirrorSnapshot(t, dst)

	for _, args := range [][]string{{ts.url + "/s", dst}, {"-R", dst, ts.url + "/s"}} {
		serverBefore := mirrorSnapshot(t, ts.root)
		out := mustMirror(t, append([]string{"--dry-run", "--delete"}, args...)...)
		if after := mirrorSnapshot(t, dst); after != before {
			t.Errorf("dry run changed the local tree:\n%s\nwas:\n%s", after, before)
		}
		if after := mirrorSnapshot(t, ts.root); after != serverBefore {
			t.Errorf("dry run changed the server's tree:\n%s\nwas:\n%s", after, serverBefore)
		}
		if ts.transfers.Load() != 0 {
			t.Errorf("dry run transferred %d files", ts.transfers.Load())
		}
		t.Logf("%q:\n%s", args, out)
		if args[0] != "-R" {
			for _, want := range []string{"get changed.txt (size differs", "mkdir sub dir", "get sub dir/new.txt (new", "delete gone/old.txt", "rmdir gone", "dry run: 2 files to transfer"} {
				if !strings.Contains(out, want) {
					t.Errorf("plan lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "same.txt") {
				t.Errorf("plan copies an unchanged file:\n%s", out)
			}
		} else if !strings.Contains(out, "put changed.txt") || !strings.Contains(out, "put gone/old.txt (new") || !strings.Contains(out, "delete sub dir/new.txt") {
			t.Errorf("reverse plan:\n%s", out)
		}
	}
}

func TestMirrorOnlyNewer(t *testing.T) {
	t.Parallel()
	ts := startMirrorServer(t, t.TempDir(), nil)
	src, dst := filepath.Join(ts.root, "s"), filepath.Join(t.TempDir(), "t")
	old, recent := time.Unix(1.5e9, 0), time.Unix(1.7e9, 0)
	mirrorWriteFile(t, filepath.Join(src, "target newer.txt"), "source", old)
	mirrorWriteFile(t, filepath.Join(dst, "target newer.txt"), "target, edited", recent)
	mirrorWriteFile(t, filepath.Join(src, "source newer.txt"), "source", recent)
	mirrorWriteFile(t, filepath.Join(dst, "source newer.txt"), "target", old)
	mirrorWriteFile(t, filepath.Join(src, "same time.txt"), "source", old)
	mirrorWriteFile(t, filepath.Join(dst, "same time.txt"), "target, different", old)

	mustMirror(t, "--only-newer", ts.url+"/s", dst)
	for name, want := range map[string]string{"target newer.txt": "target, edited", "source newer.txt": "source", "same time.txt": "target, different"} {
		if got := mirrorReadFile(t, filepath.Join(dst, name)); got != want {
			t.Errorf("--only-newer: %s holds %q, want %q", name, got, want)
		}
	}
	// Without it, any difference in size or time is copied.
	mustMirror(t, ts.url+"/s", dst)
	mirrorSameTrees(t, src, dst)

	// And the same when uploading.
	mirrorWriteFile(t, filepath.Join(dst, "target newer.txt"), "local, older", old.Add(-time.Hour))
	mirrorWriteFile(t, filepath.Join(dst, "source newer.txt"), "local, newer", recent.Add(time.Hour))
	mirrorWriteFile(t, filepath.Join(ts.root, "s", "target newer.txt"), "remote, newer", recent)
	mustMirror(t, "-R", "--only-newer", dst, ts.url+"/s")
	if got := mirrorReadFile(t, filepath.Join(src, "target newer.txt")); got != "remote, newer" {
		t.Errorf("upload --only-newer replaced a newer file: %q", got)
	}
	if got := mirrorReadFile(t, filepath.Join(src, "source newer.txt")); got != "local, newer" {
		t.Errorf("upload --only-newer did not send a newer file: %q", got)
	}
}

func TestMirrorIncludeExclude(t *testing.T) {
	t.Parallel()
	ts := startMirrorServer(t, t.TempDir(), nil)
	src := filepath.Join(ts.root, "s")
	for _, f := range []string{"a.txt", "b.log", "keep/c.txt", "keep/d.bin", "node_modules/x.txt", "deep/node_modules/y.txt", "deep/e.txt", "build/out.txt"} {
		mirrorWriteFile(t, filepath.Join(src, f), f, time.Time{})
	}
	dst := filepath.Join(t.TempDir(), "t")
	mirrorWriteFile(t, filepath.Join(dst, "local.log"), "mine", time.Time{})
	mustMirror(t, "--delete", "--exclude", "*.log", "--exclude", "node_modules", "--exclude", "build/*", ts.url+"/s", dst)
	got := mirrorDigest(t, dst)
	for _, f := range []string{"a.txt", "keep/c.txt", "keep/d.bin", "deep/e.txt", "local.log"} {
		if _, ok := got[f]; !ok {
			t.Errorf("%s missing", f)
		}
	}
	for _, f := range []string{"b.log", "node_modules", "deep/node_modules", "build/out.txt"} {
		if _, ok := got[f]; ok {
			t.Errorf("%s copied despite --exclude", f)
		}
	}

	dst2 := filepath.Join(t.TempDir(), "t2")
	mustMirror(t, "--include", "*.txt", "--exclude", "deep", ts.url+"/s", dst2)
	got = mirrorDigest(t, dst2)
	var files []string
	for rel, h := range got {
		if h != "dir" {
			files = append(files, rel)
		}
	}
	want := "a.txt build/out.txt keep/c.txt node_modules/x.txt"
	if got := strings.Join(slices.Sorted(slices.Values(files)), " "); got != want {
		t.Errorf("--include '*.txt' --exclude deep copied %q, want %q", got, want)
	}

	// Upload with a pattern on the relative path.
	mustMirror(t, "-R", "--include", "keep/*", dst, ts.url+"/up")
	if up := mirrorDigest(t, filepath.Join(ts.root, "up")); up["keep/c.txt"] == "" || up["keep/d.bin"] == "" || up["a.txt"] != "" {
		t.Errorf("upload --include keep/*: %v", up)
	}

	if _, _, err := mirrorRun(t, "mirror", "--exclude", "[", ts.url+"/s", dst); err == nil {
		t.Error("a bad pattern was accepted")
	}
}

// mirrorFailingFS refuses to open or create files named bad.
type mirrorFailingFS struct {
	ftpserver.FileSystem
	bad string
}

func (f mirrorFailingFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if path.Base(name) == f.bad {
		return nil, fs.ErrPermission
	}
	return f.FileSystem.Open(ctx, name, offset)
}

func (f mirrorFailingFS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	if path.Base(name) == f.bad {
		return nil, fs.ErrPermission
	}
	return f.FileSystem.Create(ctx, name, opts)
}

func TestMirrorFailureKeepsGoing(t *testing.T) {
	t.Parallel()
	ts := startMirrorServer(t, t.TempDir(), func(fsys ftpserver.FileSystem) ftpserver.FileSystem {
		return mirrorFailingFS{fsys, "bad file.txt"}
	})
	src := filepath.Join(ts.root, "s")
	makeMirrorTree(t, src, 30)
	mirrorWriteFile(t, filepath.Join(src, "a b", "bad file.txt"), "unreadable", time.Time{})
	dst := filepath.Join(t.TempDir(), "t")

	out, errOut, err := mirrorRun(t, "mirror", ts.url+"/s", dst)
	if !errors.Is(err, errMirrorFailed) || !strings.Contains(errOut, "bad file.txt") || !strings.Contains(out, "1 failed") {
		t.Fatalf("mirror with an unreadable file: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dst, "a b", "bad file.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the failed file exists locally: %v", err)
	}
	os.Remove(filepath.Join(src, "a b", "bad file.txt"))
	mirrorSameTrees(t, src, dst) // everything else arrived
	if leftovers, _ := filepath.Glob(filepath.Join(dst, "*", mirrorTempPrefix+"*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Uploading: the server refuses one file.
	mirrorWriteFile(t, filepath.Join(dst, "docs", "bad file.txt"), "refused", time.Time{})
	out, errOut, err = mirrorRun(t, "mirror", "-R", dst, ts.url+"/up")
	if !errors.Is(err, errMirrorFailed) || !strings.Contains(errOut, "bad file.txt") {
		t.Fatalf("upload with a refused file: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	os.Remove(filepath.Join(dst, "docs", "bad file.txt"))
	mirrorSameTrees(t, dst, filepath.Join(ts.root, "up"))

	// The exit status of the binary is non-zero: Run's error.
	if _, _, err := mirrorRun(t, "mirror", ts.url+"/no such dir", dst); err == nil {
		t.Error("mirroring a missing directory succeeded")
	}
}

func TestMirrorFollowsLocalSymlinks(t *testing.T) {
	t.Parallel()
	ts := startMirrorServer(t, t.TempDir(), nil)
	local := t.TempDir()
	outside := t.TempDir()
	mirrorWriteFile(t, filepath.Join(outside, "real.txt"), "through a link", time.Time{})
	mirrorWriteFile(t, filepath.Join(local, "dir", "f.txt"), "f", time.Time{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(outside, "real.txt"), filepath.Join(local, "link.txt")))
	must(os.Symlink(outside, filepath.Join(local, "linked dir")))
	must(os.Symlink("..", filepath.Join(local, "dir", "loop")))
	must(os.Symlink("nowhere", filepath.Join(local, "dangling")))

	out, errOut, err := mirrorRun(t, "mirror", "-R", local, ts.url+"/up")
	if !strings.Contains(errOut, "loop") {
		t.Errorf("no word about the loop: %s", errOut)
	}
	if err == nil || !strings.Contains(errOut, "dangling") {
		t.Errorf("a dangling link is not reported as a failure: %v\n%s", err, errOut)
	}
	up := filepath.Join(ts.root, "up")
	for name, want := range map[string]string{"link.txt": "through a link", "linked dir/real.txt": "through a link", "dir/f.txt": "f"} {
		if got := mirrorReadFile(t, filepath.Join(up, filepath.FromSlash(name))); got != want {
			t.Errorf("%s: %q", name, got)
		}
	}
	if _, err := os.Lstat(filepath.Join(up, "dir", "loop")); err == nil {
		t.Error("the loop was followed")
	}
	t.Log(out)
}

func TestMirrorArguments(t *testing.T) {
	t.Parallel()
	ts := startMirrorServer(t, t.TempDir(), nil)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"mirror", dir, ts.url},                                                 // local first without --reverse
		{"mirror", "-R", ts.url, dir},                                           // URL first with it
		{"mirror", ts.url, ts.url},                                              // two servers
		{"mirror", "-P", "0", ts.url, dir},                                      // no parallelism
		{"mirror", ts.url + "/x", "a", "b"},                                     // too many
		{"mirror", "ftp://mirror:bad@" + ts.url[len("ftp://mirror:pw@"):], dir}, // wrong password
	} {
		if _, _, err := mirrorRun(t, args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	mirrorWriteFile(t, filepath.Join(dir, "file"), "x", time.Time{})
	if _, _, err := mirrorRun(t, "mirror", ts.url, filepath.Join(dir, "file")); err == nil {
		t.Error("mirrored into a file")
	}
}

// TestMirrorThousandFiles is the check at its size: 1,000 small
// files both ways with --parallel 8, then nothing to do.
func TestMirrorThousandFiles(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("slow")
	}
	ts := startMirrorServer(t, t.TempDir(), nil)
	src := filepath.Join(ts.root, "src")
	makeMirrorTree(t, src, 1000)
	local := filepath.Join(t.TempDir(), "copy")
	mustMirror(t, "-P", "8", ts.url+"/src", local)
	mirrorSameTrees(t, src, local)
	mustMirror(t, "-R", "-P", "8", local, ts.url+"/back")
	mirrorSameTrees(t, local, filepath.Join(ts.root, "back"))
	before := ts.transfers.Load()
	if out := mustMirror(t, "-P", "8", ts.url+"/src", local); !strings.Contains(out, "1000 up to date") {
		t.Errorf("second download: %s", out)
	}
	if out := mustMirror(t, "-R", "-P", "8", local, ts.url+"/back"); !strings.Contains(out, "1000 up to date") {
		t.Errorf("second upload: %s", out)
	}
	if n := ts.transfers.Load() - before; n != 0 {
		t.Errorf("second runs transferred %d files", n)
	}
}

// BenchmarkMirror1000 downloads and uploads 1,000 small files with
// --parallel 8 (compare: lftp -e 'mirror --parallel=8 ...').
func BenchmarkMirror1000(b *testing.B) {
	ts := startMirrorServer(b, b.TempDir(), nil)
	src := filepath.Join(ts.root, "src")
	makeMirrorTree(b, src, 1000)
	b.Run("download", func(b *testing.B) {
		for i := range b.N {
			mustMirror(b, "-P", "8", ts.url+"/src", filepath.Join(b.TempDir(), fmt.Sprint(i)))
		}
	})
	b.Run("upload", func(b *testing.B) {
		for i := range b.N {
			mustMirror(b, "-R", "-P", "8", src, ts.url+"/up"+fmt.Sprint(i))
		}
	})
}

// TestMirrorRetriesTemporaryFailures: a file whose transfer breaks off with
// a 4xx reply is sent again, both ways, and the mirror completes; with no
// retries allowed the same breakage is a failure.
func TestMirrorRetriesTemporaryFailures(t *testing.T) {
	t.Parallel()
	down := &flakyFS{breakdowns: breakdowns{failures: 3, cut: 10}}
	up := &flakyUploads{breakdowns: breakdowns{failures: 3, cut: 10}}
	ts := startMirrorServer(t, t.TempDir(), func(fsys ftpserver.FileSystem) ftpserver.FileSystem {
		down.FileSystem = fsys
		up.FileSystem = down
		return up
	})
	src := filepath.Join(ts.root, "s")
	makeMirrorTree(t, src, 30)
	dst := filepath.Join(t.TempDir(), "t")

	for _, args := range [][]string{
		{"mirror", "--retry-wait", "10ms", ts.url + "/s", dst},
		{"mirror", "--retry-wait", "10ms", "--reverse", dst, ts.url + "/up"},
	} {
		_, errOut, err := mirrorRun(t, args...)
		if err != nil || strings.Count(errOut, "retrying in") != 3 {
			t.Fatalf("%q: %v, want success after 3 retries; stderr:\n%s", args, err, errOut)
		}
	}
	mirrorSameTrees(t, src, dst)
	mirrorSameTrees(t, dst, filepath.Join(ts.root, "up"))

	down.mu.Lock()
	down.failures = 1
	down.mu.Unlock()
	again := filepath.Join(t.TempDir(), "again")
	if _, _, err := mirrorRun(t, "mirror", "--retries", "0", ts.url+"/s", again); !errors.Is(err, errMirrorFailed) {
		t.Fatalf("a broken transfer with --retries 0: %v", err)
	}
}
