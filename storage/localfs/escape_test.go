package localfs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

var secret = []byte("SECRET: outside the root")

// jail is a root directory with a sentinel tree beside it:
//
//	base/secret.txt
//	base/outside/only-outside.txt
//	base/root/...          the file system
type jail struct {
	base, root, outside string
	fsys                *localfs.FS
	before              map[string]hostEntry
	// forbidden describes every file and directory outside the root, for
	// os.SameFile.
	forbidden []fs.FileInfo
}

func newJail(t testing.TB) *jail {
	t.Helper()
	base := t.TempDir()
	j := &jail{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	for _, err := range []error{
		os.WriteFile(filepath.Join(base, "secret.txt"), secret, 0o644),
		os.Mkdir(j.outside, 0o755),
		os.WriteFile(filepath.Join(j.outside, "only-outside.txt"), secret, 0o644),
		os.Mkdir(j.root, 0o755),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := localfs.New(j.root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	j.fsys = fsys
	j.before = j.snapshot(t)
	for p := range j.before {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		j.forbidden = append(j.forbidden, info)
	}
	return j
}

// isForbidden reports whether info describes something outside the root.
func (j *jail) isForbidden(info fs.FileInfo) bool {
	for _, f := range j.forbidden {
		if os.SameFile(f, info) {
			return true
		}
	}
	return false
}

type hostEntry struct {
	mode    fs.FileMode
	modTime time.Time
	content string
}

// snapshot records everything under base except the root itself.
func (j *jail) snapshot(t testing.TB) map[string]hostEntry {
	t.Helper()
	out := map[string]hostEntry{}
	err := filepath.WalkDir(j.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == j.root {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := hostEntry{mode: info.Mode(), modTime: info.ModTime()}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.content = string(b)
		}
		out[p] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkOutside fails t if anything outside the root changed.
func (j *jail) checkOutside(t testing.TB) {
	t.Helper()
	after := j.snapshot(t)
	for p, a := range after {
		b, ok := j.before[p]
		if !ok {
			t.Errorf("%s appeared outside the root", p)
		} else if a != b {
			t.Errorf("%s outside the root changed: %+v → %+v", p, b, a)
		}
	}
	for p := range j.before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s outside the root disappeared", p)
		}
	}
}

func (j *jail) symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(j.root, filepath.FromSlash(link))); err != nil {
		t.Fatal(err)
	}
}

// tryEverything runs every operation on name, and reports whether any of
// them reached something outside the root.
func (j *jail) tryEverything(t testing.TB, name string) (leaked bool) {
	return j.try(t, name, true)
}

// try is tryEverything; without commit, uploads are aborted rather than
// committed, which saves the fsyncs.
func (j *jail) try(t testing.TB, name string, commit bool) (leaked bool) {
	ctx := t.Context()
	fsys := j.fsys
	if info, err := fsys.Stat(ctx, name); err == nil && j.isForbidden(info) {
		t.Logf("Stat(%q) reached %s", name, info.Name())
		leaked = true
	}
	if r, err := fsys.Open(ctx, name, 0); err == nil {
		if info, err := r.(*os.File).Stat(); err == nil && j.isForbidden(info) {
			t.Logf("Open(%q) reached %s", name, info.Name())
			leaked = true
		}
		data, _ := io.ReadAll(r)
		r.Close()
		leaked = leaked || bytes.Contains(data, secret)
	}
	if l, err := fsys.List(ctx, name); err == nil {
		for {
			batch, err := l.Next(16)
			for _, info := range batch {
				if j.isForbidden(info) {
					t.Logf("List(%q) shows %s", name, info.Name())
					leaked = true
				}
			}
			if err != nil {
				break
			}
		}
		l.Close()
	}
	for _, upload := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect} {
		for _, mode := range []ftpserver.WriteMode{ftpserver.WriteTruncate, ftpserver.WriteAppend, ftpserver.WriteAt} {
			w, err := fsys.Create(ctx, name, ftpserver.CreateOptions{Mode: mode, Offset: 1, Upload: upload})
			if err == nil {
				w.Write([]byte("EVIL"))
				if commit {
					w.Commit(t.Context())
				} else {
					w.Abort(t.Context(), ftpserver.AbortInterrupted)
				}
			}
		}
	}
	fsys.Mkdir(ctx, name)
	fsys.SetModTime(ctx, name, time.Unix(0, 0))
	fsys.Chmod(ctx, name, 0o777)
	fsys.AvailableSpace(ctx, name)
	fsys.Rename(ctx, name, "/renamed")
	fsys.Rename(ctx, "/renamed", name)
	fsys.Remove(ctx, name)
	fsys.RemoveDir(ctx, name)
	return leaked
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	if _, err := localfs.New(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("New of a missing directory succeeded")
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := localfs.New(file); err == nil {
		t.Errorf("New of a file succeeded")
	}
	fsys, err := localfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat(t.Context(), "/file"); err == nil {
		t.Errorf("Stat after Close succeeded")
	}
}

func TestDotDotNames(t *testing.T) {
	j := newJail(t)
	ctx := t.Context()
	if err := os.MkdirAll(filepath.Join(j.root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"/../secret.txt", "/../outside/only-outside.txt", "/..", "/../outside", "..", "../secret.txt",
		"/a/../../secret.txt", "/a/b/../../../outside", "/a/b/../../..", "/./../secret.txt",
		"/a/..", "a/../../secret.txt", `/..\secret.txt`, `/a\..\..\secret.txt`,
	} {
		if j.tryEverything(t, name) {
			t.Errorf("%q read something outside the root", name)
		}
		if name[0] != '/' || path.Clean(name) != name {
			_, err := j.fsys.Stat(ctx, name)
			if !errors.Is(err, ftpserver.ErrInvalidName) {
				t.Errorf("Stat(%q): %v, want ErrInvalidName", name, err)
			}
		}
	}
	j.checkOutside(t)
}

func TestHostPathNames(t *testing.T) {
	j := newJail(t)
	ctx := t.Context()
	// The host's absolute paths are virtual paths below the root like any.
	for _, host := range []string{
		filepath.Join(j.base, "secret.txt"),
		filepath.Join(j.outside, "only-outside.txt"),
		j.outside,
		"/etc/passwd",
		"/etc",
		"/proc/self/root/etc/passwd",
	} {
		name := filepath.ToSlash(host)
		for _, probe := range []func() error{
			func() error { _, err := j.fsys.Stat(ctx, name); return err },
			func() error { _, err := j.fsys.Open(ctx, name, 0); return err },
			func() error { _, err := j.fsys.List(ctx, name); return err },
		} {
			if err := probe(); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: %v, want fs.ErrNotExist", name, err)
			}
		}
		if strings.Count(name, "/") > 1 {
			_, err := j.fsys.Create(ctx, name, ftpserver.CreateOptions{})
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Create(%s): %v, want fs.ErrNotExist (no parent below the root)", name, err)
			}
		}
		if j.tryEverything(t, name) {
			t.Errorf("%s read something outside the root", name)
		}
	}
	j.checkOutside(t)
	// Such a name is just a name below the root.
	put(t, j.fsys, "/etc", []byte("mine"))
	if got, err := os.ReadFile(filepath.Join(j.root, "etc")); err != nil || string(got) != "mine" {
		t.Errorf("root/etc = %q, %v; want mine", got, err)
	}
}

func TestSymlinkToEtc(t *testing.T) {
	j := newJail(t)
	ctx := t.Context()
	j.symlink(t, "/etc", "/etc")
	j.symlink(t, "/etc/passwd", "/passwd")
	j.symlink(t, "../../../../../../../../../../etc", "/etc-rel")
	for _, name := range []string{"/etc", "/etc/passwd", "/passwd", "/etc-rel", "/etc-rel/passwd", "/etc/ferry-localfs-test"} {
		_, err := j.fsys.Stat(ctx, name)
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Stat(%s): %v, want fs.ErrPermission", name, err)
		}
		if r, err := j.fsys.Open(ctx, name, 0); err == nil {
			r.Close()
			t.Errorf("Open(%s) succeeded", name)
		}
		if l, err := j.fsys.List(ctx, name); err == nil {
			l.Close()
			t.Errorf("List(%s) succeeded", name)
		}
		w, err := j.fsys.Create(ctx, name, ftpserver.CreateOptions{Upload: ftpserver.UploadDirect})
		if err == nil {
			w.Abort(t.Context(), ftpserver.AbortInterrupted)
			t.Errorf("Create(%s) succeeded", name)
		}
	}
	if _, err := os.Lstat("/etc/ferry-localfs-test"); err == nil {
		t.Errorf("/etc/ferry-localfs-test was created")
	}
	j.checkOutside(t)
}

func TestSymlinkedDirOutside(t *testing.T) {
	j := newJail(t)
	ctx := t.Context()
	j.symlink(t, j.outside, "/abs")
	j.symlink(t, "../outside", "/rel")
	if err := os.Mkdir(filepath.Join(j.root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	j.symlink(t, "../../outside", "/sub/rel2")
	for _, link := range []string{"/abs", "/rel", "/sub/rel2"} {
		for _, name := range []string{link, link + "/only-outside.txt", link + "/new.txt", link + "/newdir"} {
			if j.tryEverything(t, name) {
				t.Errorf("%s read something outside the root", name)
			}
		}
		if err := j.fsys.Rename(ctx, "/sub", link+"/moved"); err == nil {
			t.Errorf("Rename(/sub, %s/moved) succeeded", link)
		}
	}
	j.checkOutside(t)
}

// TestSwapRace swaps a directory for a link leading outside while other
// goroutines use paths through it: os.Root must never follow the link,
// whichever moment the swap happens.
func TestSwapRace(t *testing.T) {
	j := newJail(t)
	ctx := t.Context()
	d := filepath.Join(j.root, "d")
	parked := filepath.Join(j.root, "d.real")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "only-outside.txt"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			// d is the real directory, then a link to the outside.
			if err := os.Rename(d, parked); err != nil {
				t.Error(err)
				return
			}
			if err := os.Symlink(j.outside, d); err != nil {
				t.Error(err)
				return
			}
			if err := os.Remove(d); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(parked, d); err != nil {
				t.Error(err)
				return
			}
			swaps.Add(1)
		}
	})

	deadline := time.Now().Add(time.Second)
	var leaks, reads, writes int
	for i := 0; time.Now().Before(deadline); i++ {
		if r, err := j.fsys.Open(ctx, "/d/only-outside.txt", 0); err == nil {
			data, _ := io.ReadAll(r)
			r.Close()
			reads++
			if bytes.Contains(data, secret) {
				leaks++
			}
		}
		if l, err := j.fsys.List(ctx, "/d"); err == nil {
			batch, _ := l.Next(10)
			l.Close()
			for _, info := range batch {
				if j.isForbidden(info) {
					leaks++
				}
			}
		}
		upload := []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect}[i%3]
		if w, err := j.fsys.Create(ctx, "/d/new-"+upload.String(), ftpserver.CreateOptions{Upload: upload}); err == nil {
			w.Write([]byte("x"))
			if w.Commit(t.Context()) == nil {
				writes++
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if leaks > 0 {
		t.Errorf("%d operations reached outside the root", leaks)
	}
	t.Logf("%d swaps; %d reads and %d uploads went through", swaps.Load(), reads, writes)
	j.checkOutside(t)
}

func TestReservedTempNames(t *testing.T) {
	fsys, dir := newFS(t)
	ctx := t.Context()
	w, err := fsys.Create(ctx, "/target", ftpserver.CreateOptions{Upload: ftpserver.UploadAtomic})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort(t.Context(), ftpserver.AbortInterrupted)
	if localfs.StagesUnnamed(dir) {
		// The upload has no name: play the named temporary file of a
		// system without unnamed files.
		if err := os.WriteFile(filepath.Join(dir, ".ferry-upload-named"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".ferry-upload-") {
		t.Fatalf("root holds %v during an atomic upload, want one temporary file", entries)
	}
	temp := "/" + entries[0].Name()
	for _, name := range []string{temp, "/.ferry-upload-x", "/.ferry-upload-dir/f"} {
		_, err := fsys.Stat(ctx, name)
		if !errors.Is(err, ftpserver.ErrInvalidName) {
			t.Errorf("Stat(%s): %v, want ErrInvalidName", name, err)
		}
		_, err = fsys.Open(ctx, name, 0)
		if !errors.Is(err, ftpserver.ErrInvalidName) {
			t.Errorf("Open(%s): %v, want ErrInvalidName", name, err)
		}
		_, err = fsys.Create(ctx, name, ftpserver.CreateOptions{Upload: ftpserver.UploadDirect})
		if !errors.Is(err, ftpserver.ErrInvalidName) {
			t.Errorf("Create(%s): %v, want ErrInvalidName", name, err)
		}
		if err := fsys.Remove(ctx, name); !errors.Is(err, ftpserver.ErrInvalidName) {
			t.Errorf("Remove(%s): %v, want ErrInvalidName", name, err)
		}
	}
	if err := fsys.Rename(ctx, temp, "/stolen"); !errors.Is(err, ftpserver.ErrInvalidName) {
		t.Errorf("Rename of the temporary file: %v, want ErrInvalidName", err)
	}
	if _, err := os.Stat(filepath.Join(dir, entries[0].Name())); err != nil {
		t.Errorf("the temporary file of a running upload is gone: %v", err)
	}
	// Names merely containing the prefix are fine.
	put(t, fsys, "/x.ferry-upload-y", []byte("ok"))
}
