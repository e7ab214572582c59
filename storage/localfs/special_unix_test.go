//go:build unix

package localfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// A FIFO or device inside the root is neither read nor written, and never
// blocks a call.
func TestSpecialFiles(t *testing.T) {
	fsys, dir := newFS(t)
	ctx := t.Context()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if r, err := fsys.Open(ctx, "/fifo", 0); err == nil {
			r.Close()
			t.Errorf("Open(/fifo) succeeded")
		} else if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Open(/fifo): %v, want fs.ErrPermission", err)
		}
		for _, upload := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect} {
			for _, mode := range []ftpserver.WriteMode{ftpserver.WriteTruncate, ftpserver.WriteAppend} {
				w, err := fsys.Create(ctx, "/fifo", ftpserver.CreateOptions{Upload: upload, Mode: mode})
				if err == nil {
					w.Abort(t.Context(), ftpserver.AbortInterrupted)
					t.Errorf("Create(/fifo, %s) succeeded", upload)
				}
			}
		}
		if l, err := fsys.List(ctx, "/fifo"); err == nil {
			l.Close()
			t.Errorf("List(/fifo) succeeded")
		}
		if _, err := fsys.Stat(ctx, "/fifo"); err != nil {
			t.Errorf("Stat(/fifo): %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("an operation on a FIFO blocked")
	}
	if info, err := os.Lstat(filepath.Join(dir, "fifo")); err != nil || info.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v, %v", info, err)
	}
}
