package localfs_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// TestLink: a hard link gives a regular file a second name inside the
// root; links that would reach outside it, replace a name, or name a
// directory, a symbolic link or a temporary upload are refused, and
// nothing outside the root changes.
func TestLink(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "sub"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, data string) {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "a"), "data of a")
	write(filepath.Join(outside, "secret"), "secret")
	for link, target := range map[string]string{
		"out":     outside,                          // a directory outside
		"outfile": filepath.Join(outside, "secret"), // a file outside
		"in":      "a",                              // a file inside
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := localfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	ctx := context.Background()

	if err := fsys.Link(ctx, "/a", "/sub/b"); err != nil {
		t.Fatalf("link /a /sub/b: %v", err)
	}
	a, _ := os.Stat(filepath.Join(root, "a"))
	b, err := os.Stat(filepath.Join(root, "sub", "b"))
	if err != nil || !os.SameFile(a, b) {
		t.Fatalf("/sub/b is not /a: %v", err)
	}

	for _, k := range []struct {
		old, new string
		want     error
	}{
		{"/outfile", "/x", fs.ErrPermission},      // a link to outside
		{"/in", "/x", fs.ErrPermission},           // a symbolic link, even inside
		{"/a", "/out/x", fs.ErrPermission},        // a new name through a link outside
		{"/out/secret", "/x", fs.ErrPermission},   // an old name through a link outside
		{"/a", "/sub/b", fs.ErrExist},             // never replaces
		{"/sub", "/x", ftpserver.ErrIsDir},        // directories are not linked
		{"/missing", "/x", fs.ErrNotExist},        //
		{"/a", "/nodir/x", fs.ErrNotExist},        //
		{"/a", "/../x", ftpserver.ErrInvalidName}, // not a clean path
		{"/a", "/", fs.ErrPermission},             //
		{"/a", "/.ferry-upload-x", ftpserver.ErrInvalidName},
	} {
		err := fsys.Link(ctx, k.old, k.new)
		if !errors.Is(err, k.want) {
			t.Errorf("link %s %s: %v, want %v", k.old, k.new, err, k.want)
		}
		if err != nil && bytes.Contains([]byte(err.Error()), []byte(base)) {
			t.Errorf("link %s %s: the host path is in the error: %v", k.old, k.new, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "x")); !os.IsNotExist(err) {
		t.Errorf("a refused link left /x: %v", err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("outside the root now holds %d entries, want 1", len(entries))
	}
}
