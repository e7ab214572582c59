package localfs_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
	"github.com/ferry-ftp/ferry/storage/storagetest"
)

// roots remembers the host directory of each file system newFS made, so the
// symlink hook can plant links in it.
var roots sync.Map // ftpserver.FileSystem → string

// newFS returns a file system over a fresh temporary directory and that
// directory.
func newFS(t *testing.T) (*localfs.FS, string) {
	t.Helper()
	dir := t.TempDir()
	fsys, err := localfs.New(dir)
	if err != nil {
		t.Fatalf("New(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := fsys.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	roots.Store(ftpserver.FileSystem(fsys), dir)
	return fsys, dir
}

// symlink plants a link at the virtual path link in the root of fsys.
func symlink(t *testing.T, fsys ftpserver.FileSystem, target, link string) {
	t.Helper()
	dir, ok := roots.Load(fsys)
	if !ok {
		t.Fatalf("symlink: unknown file system %v", fsys)
	}
	if err := os.Symlink(target, filepath.Join(dir.(string), filepath.FromSlash(link))); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) ftpserver.FileSystem {
		fsys, _ := newFS(t)
		return fsys
	}, storagetest.WithSymlink(symlink), storagetest.WithCapabilities(storagetest.AllCapabilities()...),
		storagetest.WithCapabilities(storagetest.HardLink, storagetest.Sync))
}
