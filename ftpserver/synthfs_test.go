package ftpserver_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// synthFS is memfs plus two synthetic names that would be slow to build
// for real: "/many", a directory of entries files, and "/endless", a file
// of endlessSize zero bytes whose reads are counted and whose readers say
// when they are closed.
type synthFS struct {
	*memfs.FS
	entries     int
	endlessSize int64
	reads       atomic.Int64
	closeOnce   sync.Once
	closed      chan struct{} // closed when the first "/endless" reader is
}

func newSynthFS(entries int, endlessSize int64) *synthFS {
	return &synthFS{FS: memfs.New(), entries: entries, endlessSize: endlessSize, closed: make(chan struct{})}
}

type synthInfo struct {
	name string
	size int64
	dir  bool
}

func (fi synthInfo) Name() string { return fi.name }
func (fi synthInfo) Size() int64  { return fi.size }
func (fi synthInfo) Mode() fs.FileMode {
	if fi.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (fi synthInfo) ModTime() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
func (fi synthInfo) IsDir() bool        { return fi.dir }
func (fi synthInfo) Sys() any           { return nil }

func (f *synthFS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	switch name {
	case "/many":
		return synthInfo{name: "many", dir: true}, nil
	case "/endless":
		return synthInfo{name: "endless", size: f.endlessSize}, nil
	}
	return f.FS.Stat(ctx, name)
}

func (f *synthFS) List(ctx context.Context, name string) (ftpserver.DirLister, error) {
	if name == "/many" {
		return &synthLister{left: f.entries}, nil
	}
	return f.FS.List(ctx, name)
}

func (f *synthFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if name == "/endless" {
		return &endlessReader{fs: f}, nil
	}
	return f.FS.Open(ctx, name, offset)
}

type synthLister struct{ left, next int }

func (l *synthLister) Next(n int) ([]fs.FileInfo, error) {
	if l.left == 0 {
		return nil, io.EOF
	}
	n = min(n, l.left)
	batch := make([]fs.FileInfo, n)
	for i := range batch {
		batch[i] = synthInfo{name: fmt.Sprintf("file-%07d", l.next)}
		l.next++
	}
	l.left -= n
	return batch, nil
}

func (l *synthLister) Close() error { return nil }

// endlessReader reads zeros for as long as it is asked to.
type endlessReader struct{ fs *synthFS }

func (r *endlessReader) Read(p []byte) (int, error) {
	r.fs.reads.Add(1)
	clear(p)
	return len(p), nil
}

func (r *endlessReader) Close() error {
	r.fs.closeOnce.Do(func() { close(r.fs.closed) })
	return nil
}

// withFS makes alice's account use fsys.
func withFS(fsys ftpserver.FileSystem) func(*ftpserver.Server) {
	return func(s *ftpserver.Server) {
		auth := s.Auth
		s.Auth = ftpserver.AuthFunc(func(ctx context.Context, c ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "alice" && pass == "secret" {
				return &ftpserver.Account{User: "alice", FS: fsys, Write: true}, nil
			}
			return auth.Authenticate(ctx, c, user, pass)
		})
	}
}
