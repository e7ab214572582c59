package localfs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

func put(t *testing.T, fsys *localfs.FS, name string, data []byte) {
	t.Helper()
	w, err := fsys.Create(t.Context(), name, ftpserver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// hostTemps lists the upload temporary files anywhere under dir.
func hostTemps(t *testing.T, dir string) []string {
	t.Helper()
	var temps []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".ferry-upload-") {
			temps = append(temps, p)
		}
		return nil
	})
	return temps
}

func TestTempFilesNeverLeftBehind(t *testing.T) {
	uploads := []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect}
	modes := []ftpserver.WriteMode{ftpserver.WriteTruncate, ftpserver.WriteAppend, ftpserver.WriteAt}
	for _, upload := range uploads {
		for _, mode := range modes {
			for _, commit := range []bool{true, false} {
				for _, data := range [][]byte{nil, []byte("data")} {
					fsys, dir := newFS(t)
					if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
						t.Fatal(err)
					}
					put(t, fsys, "/sub/f", []byte("old content"))
					w, err := fsys.Create(t.Context(), "/sub/f", ftpserver.CreateOptions{Mode: mode, Offset: 2, Upload: upload})
					if err != nil {
						t.Fatal(err)
					}
					w.Write(data)
					temps := hostTemps(t, dir)
					staged := upload == ftpserver.UploadAtomic || (upload == ftpserver.UploadAtomicResume && mode == ftpserver.WriteTruncate)
					if staged && localfs.StagesUnnamed(dir) {
						// Staged in an unnamed file: nothing to see.
						if len(temps) != 0 {
							t.Errorf("%s/%d: temporary files %q while uploading in an unnamed file", upload, mode, temps)
						}
					} else if staged {
						// The temporary file sits beside its target.
						if len(temps) != 1 || filepath.Dir(temps[0]) != filepath.Join(dir, "sub") {
							t.Errorf("%s/%d: temporary files %q while uploading, want one in sub", upload, mode, temps)
						}
					} else if len(temps) != 0 {
						t.Errorf("%s/%d writes in place but made %q", upload, mode, temps)
					}
					if commit {
						err = w.Commit(t.Context())
					} else {
						err = w.Abort(t.Context(), ftpserver.AbortInterrupted)
					}
					if err != nil {
						t.Fatal(err)
					}
					if temps := hostTemps(t, dir); len(temps) != 0 {
						t.Errorf("%s/%d commit=%v data=%q: left %q", upload, mode, commit, data, temps)
					}
				}
			}
		}
	}
}

// A failed Commit also removes its temporary file.
func TestFailedCommitCleansUp(t *testing.T) {
	fsys, dir := newFS(t)
	w, err := fsys.Create(t.Context(), "/f", ftpserver.CreateOptions{Upload: ftpserver.UploadAtomic})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("data"))
	// A directory takes the name meanwhile: the rename cannot replace it.
	if err := os.Mkdir(filepath.Join(dir, "f"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "f", "keep"), nil, 0o644)
	if err := w.Commit(t.Context()); err == nil {
		t.Fatal("Commit over a directory succeeded")
	}
	if temps := hostTemps(t, dir); len(temps) != 0 {
		t.Errorf("failed Commit left %q", temps)
	}
}

// An upload finishes in the directory it started in, even if that
// directory is renamed meanwhile.
func TestUploadFollowsRenamedDirectory(t *testing.T) {
	for _, upload := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic} {
		fsys, dir := newFS(t)
		ctx := t.Context()
		if err := fsys.Mkdir(ctx, "/a"); err != nil {
			t.Fatal(err)
		}
		w, err := fsys.Create(ctx, "/a/f", ftpserver.CreateOptions{Upload: upload})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("data"))
		if err := fsys.Rename(ctx, "/a", "/b"); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(t.Context()); err != nil {
			t.Fatalf("%s: Commit after the directory moved: %v", upload, err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "b", "f")); err != nil || string(got) != "data" {
			t.Errorf("%s: b/f = %q, %v; want data", upload, got, err)
		}
		if temps := hostTemps(t, dir); len(temps) != 0 {
			t.Errorf("%s: left %q", upload, temps)
		}
	}
}

func TestErrorsHideHostPath(t *testing.T) {
	fsys, dir := newFS(t)
	ctx := t.Context()
	put(t, fsys, "/file", []byte("content"))
	fsys.Mkdir(ctx, "/dir")
	put(t, fsys, "/dir/inner", nil)
	os.Symlink("/etc/passwd", filepath.Join(dir, "escape"))
	os.Symlink("../../../../../../../../../../etc", filepath.Join(dir, "escape-dir"))

	type namedErr struct {
		name string // the virtual path the error must name
		err  error
	}
	var errs []namedErr
	collect := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("operation %d on %s succeeded, want an error", len(errs), name)
		}
		errs = append(errs, namedErr{name, err})
	}
	collect2 := func(name string) func(any, error) {
		return func(_ any, err error) { t.Helper(); collect(name, err) }
	}

	collect2("/missing")(fsys.Stat(ctx, "/missing"))
	collect2("/file/x")(fsys.Stat(ctx, "/file/x"))
	collect2("/escape")(fsys.Stat(ctx, "/escape"))
	collect2("/escape-dir/passwd")(fsys.Stat(ctx, "/escape-dir/passwd"))
	collect2("/dir")(fsys.Open(ctx, "/dir", 0))
	collect2("/missing")(fsys.Open(ctx, "/missing", 0))
	collect2("/escape")(fsys.Open(ctx, "/escape", 0))
	collect2("/file")(fsys.Open(ctx, "/file", -1))
	collect2("/missing/f")(fsys.Create(ctx, "/missing/f", ftpserver.CreateOptions{}))
	collect2("/file/f")(fsys.Create(ctx, "/file/f", ftpserver.CreateOptions{}))
	collect2("/file/f")(fsys.Create(ctx, "/file/f", ftpserver.CreateOptions{Upload: ftpserver.UploadDirect}))
	collect2("/dir")(fsys.Create(ctx, "/dir", ftpserver.CreateOptions{Upload: ftpserver.UploadDirect}))
	collect2("/file")(fsys.Create(ctx, "/file", ftpserver.CreateOptions{Exclusive: true}))
	collect2("/file")(fsys.Create(ctx, "/file", ftpserver.CreateOptions{Mode: ftpserver.WriteAt, Offset: 100}))
	collect2("/escape")(fsys.Create(ctx, "/escape", ftpserver.CreateOptions{}))
	collect2("/escape-dir/x")(fsys.Create(ctx, "/escape-dir/x", ftpserver.CreateOptions{Upload: ftpserver.UploadDirect}))
	collect2("/file")(fsys.List(ctx, "/file"))
	collect2("/missing")(fsys.List(ctx, "/missing"))
	collect2("/escape-dir")(fsys.List(ctx, "/escape-dir"))
	collect("/dir", fsys.Mkdir(ctx, "/dir"))
	collect("/missing/x", fsys.Mkdir(ctx, "/missing/x"))
	collect("/dir", fsys.Remove(ctx, "/dir"))
	collect("/missing", fsys.Remove(ctx, "/missing"))
	collect("/dir", fsys.RemoveDir(ctx, "/dir"))
	collect("/file", fsys.RemoveDir(ctx, "/file"))
	collect("/missing", fsys.Rename(ctx, "/missing", "/x"))
	collect("/missing/x", fsys.Rename(ctx, "/file", "/missing/x"))
	collect("/dir", fsys.Rename(ctx, "/file", "/dir"))
	collect("/escape-dir/x", fsys.Rename(ctx, "/file", "/escape-dir/x"))
	collect("/missing", fsys.SetModTime(ctx, "/missing", time.Now()))
	collect("/escape", fsys.SetModTime(ctx, "/escape", time.Now()))
	collect("/missing", fsys.Chmod(ctx, "/missing", 0o644))
	collect("/escape", fsys.Chmod(ctx, "/escape", 0o644))
	collect2("/missing")(fsys.AvailableSpace(ctx, "/missing"))

	// Errors from the *os.File that Open returns name the virtual path.
	r, err := fsys.Open(ctx, "/file", 0)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := r.(*os.File)
	if !ok {
		t.Fatalf("Open returned %T, want *os.File", r)
	}
	if f.Name() != "/file" {
		t.Errorf("Open(/file).Name() = %q, want /file", f.Name())
	}
	f.Close()
	collect2("/file")(f.Read(make([]byte, 1)))
	collect2("/file")(f.Stat())

	// And errors from a writer.
	w, err := fsys.Create(ctx, "/new", ftpserver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Commit(t.Context())
	collect2("/new")(w.Write([]byte("x")))
	collect("/new", w.Commit(t.Context()))

	for i, e := range errs {
		if e.err == nil {
			continue
		}
		msg := e.err.Error()
		if strings.Contains(msg, dir) || strings.Contains(msg, filepath.Base(filepath.Dir(dir))) {
			t.Errorf("error %d names the host path: %s", i, msg)
		}
		if !strings.Contains(msg, e.name) {
			t.Errorf("error %d does not name %s: %s", i, e.name, msg)
		}
	}
}

func TestOpenAndCreateUseOSFiles(t *testing.T) {
	fsys, _ := newFS(t)
	ctx := t.Context()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// Upload: io.Copy from a TCP connection into the writer uses its
	// ReadFrom (splice on Linux).
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		c.Write(data)
		c.Close()
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	w, err := fsys.Create(ctx, "/up", ftpserver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(io.ReaderFrom); !ok {
		t.Fatalf("%T does not implement io.ReaderFrom", w)
	}
	n, err := io.Copy(w, conn)
	conn.Close()
	if err != nil || n != int64(len(data)) {
		t.Fatalf("upload copied %d bytes, %v", n, err)
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Download: io.Copy from the *os.File to a TCP connection (sendfile).
	r, err := fsys.Open(ctx, "/up", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*os.File); !ok {
		t.Fatalf("Open returned %T, want *os.File", r)
	}
	received := make(chan []byte)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- nil
			return
		}
		b, _ := io.ReadAll(c)
		c.Close()
		received <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(c, r); err != nil {
		t.Fatal(err)
	}
	c.Close()
	r.Close()
	if got := <-received; !bytes.Equal(got, data[1000:]) {
		t.Errorf("download received %d bytes, want the %d after offset 1000", len(got), len(data)-1000)
	}
}

func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 || runtime.GOOS == "windows" {
		t.Skip("needs an unprivileged Unix user")
	}
	fsys, dir := newFS(t)
	ctx := t.Context()
	fsys.Mkdir(ctx, "/ro")
	put(t, fsys, "/ro/f", []byte("x"))
	os.Chmod(filepath.Join(dir, "ro"), 0o500)
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "ro"), 0o755) })
	for _, upload := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect} {
		_, err := fsys.Create(ctx, "/ro/new", ftpserver.CreateOptions{Upload: upload})
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Create in a read-only directory (%s): %v, want fs.ErrPermission", upload, err)
		}
	}
	if err := fsys.Remove(ctx, "/ro/f"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Remove in a read-only directory: %v, want fs.ErrPermission", err)
	}
}

func TestListShowsLinksAsLinks(t *testing.T) {
	fsys, dir := newFS(t)
	fsys.Mkdir(t.Context(), "/d")
	os.Symlink("d", filepath.Join(dir, "link"))
	l, err := fsys.List(t.Context(), "/")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	infos, err := l.Next(10)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.Name() == "link" && info.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("List shows link with mode %v, want a symbolic link", info.Mode())
		}
	}
	if info, err := fsys.Stat(t.Context(), "/link"); err != nil || !info.IsDir() {
		t.Errorf("Stat(/link) = %v, %v; want the directory it points to", info, err)
	}
}
