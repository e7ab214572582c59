package sftpclient_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/sftptest"
)

// climbFS lists, in /w, a directory named "/" beside the file f, as a
// hostile or broken server could. (pkg/sftp's client keeps only the last
// element of a name, so "../w" would come as "w": "/" is the name left
// that does not name an entry of the directory.)
type climbFS struct {
	ftpserver.FileSystem
	lists atomic.Int64 // listings of /w
}

func (c *climbFS) List(ctx context.Context, name string) (ftpserver.DirLister, error) {
	if name != "/w" {
		return c.FileSystem.List(ctx, name)
	}
	c.lists.Add(1)
	dir, err := c.FileSystem.Stat(ctx, "/w")
	if err != nil {
		return nil, err
	}
	file, err := c.FileSystem.Stat(ctx, "/w/f")
	if err != nil {
		return nil, err
	}
	return &infoLister{infos: []fs.FileInfo{named{dir, "/"}, file}}, nil
}

// named is a FileInfo under another name.
type named struct {
	fs.FileInfo
	name string
}

func (n named) Name() string { return n.name }

// infoLister hands out infos.
type infoLister struct{ infos []fs.FileInfo }

func (l *infoLister) Next(n int) ([]fs.FileInfo, error) {
	if len(l.infos) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(l.infos))
	page := l.infos[:n]
	l.infos = l.infos[n:]
	return page, nil
}

func (l *infoLister) Close() error { return nil }

// TestWalkNamesThatClimb: a server that lists a directory named "/"
// inside /w must not make a walk list /w again and again (path.Join makes
// "/w" of "/w" and "/"): such a name is reported in a ListError, and the
// other entries are still walked.
func TestWalkNamesThatClimb(t *testing.T) {
	t.Parallel()
	cfs := &climbFS{}
	s := &server{sftptest.StartWrapped(t, func(fsys ftpserver.FileSystem) ftpserver.FileSystem {
		cfs.FileSystem = fsys
		return cfs
	})}
	if err := os.Mkdir(s.File("w"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.File("w/f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := s.dial(t, s.config())

	var (
		mu      sync.Mutex
		seen    []string
		listErr *ftpclient.ListError
	)
	err := c.WalkConcurrent(testContext(t), "/w", 2, func(p string, e ftp.Entry, err error) error {
		mu.Lock()
		defer mu.Unlock()
		if errors.As(err, &listErr) {
			return nil
		}
		if err != nil {
			return err
		}
		seen = append(seen, p)
		if len(seen) > 20 {
			return errors.New("walking in circles")
		}
		return nil
	})
	if err != nil || !slices.Equal(seen, []string{"/w", "/w/f"}) || cfs.lists.Load() != 1 {
		t.Errorf("WalkConcurrent: %v; saw %q in %d listings of /w, want /w and /w/f in one", err, seen, cfs.lists.Load())
	}
	if listErr == nil || listErr.Path != "/w" || !slices.Equal(listErr.Lines, []string{"/"}) {
		t.Errorf("the names that climb are not reported: %#v", listErr)
	}

	// List itself says the same.
	entries, err := c.List(testContext(t), "/w")
	if !errors.As(err, &listErr) || len(entries) != 1 || entries[0].Name != "f" {
		t.Errorf("List: %v, %v; want the entry f and a ListError", entries, err)
	}
}
