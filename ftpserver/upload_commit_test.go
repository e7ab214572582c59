package ftpserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// hangingCommitFS is a backend whose commit, a network call in an object
// store, never answers until its context ends.
type hangingCommitFS struct {
	*memfs.FS
	committing chan struct{}
}

func (f hangingCommitFS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	w, err := f.FS.Create(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	return hangingCommit{w, f.committing}, nil
}

type hangingCommit struct {
	ftpserver.FileWriter
	committing chan struct{}
}

func (w hangingCommit) Commit(ctx context.Context) error {
	close(w.committing)
	<-ctx.Done()
	w.FileWriter.Abort(context.Background(), ftpserver.AbortFailed)
	return ctx.Err()
}

// A backend whose Commit hangs holds the upload no longer than the data
// timeout: the client gets a final reply, not 226, and the session goes on.
func TestUploadCommitBounded(t *testing.T) {
	t.Parallel()
	fsys := hangingCommitFS{memfs.New(), make(chan struct{})}
	ts := startServer(t, withFS(fsys), func(s *ftpserver.Server) { s.DataTimeout = 300 * time.Millisecond })
	c := ts.login(t)
	data := c.transfer("STOR f")
	data.Write([]byte("content"))
	data.Close()
	<-fsys.committing
	if code, msg := c.read(); code != 451 {
		t.Fatalf("STOR with a commit that never returns: %d %q, want 451", code, msg)
	}
	c.cmd(200, "NOOP")
	if _, err := fsys.Stat(context.Background(), "/f"); err == nil {
		t.Error("an upload whose commit failed is visible")
	}
}
