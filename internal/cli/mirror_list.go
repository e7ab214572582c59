package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

// mirrorFilter selects what a mirror looks at. A pattern (path.Match
// syntax) matches an entry when it matches its relative path, its base
// name, or one of its parent directories (by relative path or by name), so
// "--exclude build" leaves out everything under every directory named
// build and "--include 'docs/*'" takes the files of docs.
type mirrorFilter struct {
	include []string
	exclude []string
}

func newMirrorFilter(include, exclude []string) (mirrorFilter, error) {
	for _, p := range append(append([]string(nil), include...), exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			return mirrorFilter{}, fmt.Errorf("bad pattern %q: %w", p, err)
		}
	}
	return mirrorFilter{include: include, exclude: exclude}, nil
}

// mirrorMatch reports whether pattern matches rel or one of its parents.
func mirrorMatch(pattern, rel string) bool {
	for p := rel; p != "" && p != "."; p = path.Dir(p) {
		if ok, _ := path.Match(pattern, p); ok {
			return true
		}
		if ok, _ := path.Match(pattern, path.Base(p)); ok {
			return true
		}
	}
	return false
}

// excluded reports whether an --exclude pattern matches rel.
func (f mirrorFilter) excluded(rel string) bool {
	for _, p := range f.exclude {
		if mirrorMatch(p, rel) {
			return true
		}
	}
	return false
}

// wantsFile reports whether the file rel is mirrored: not excluded and,
// when there are --include patterns, matched by one. Directories are only
// subject to --exclude, so that an include pattern for files does not cut
// off the directories holding them.
func (f mirrorFilter) wantsFile(rel string) bool {
	if f.excluded(rel) {
		return false
	}
	if len(f.include) == 0 {
		return true
	}
	for _, p := range f.include {
		if mirrorMatch(p, rel) {
			return true
		}
	}
	return false
}

// mirrorReporter hears about problems met while mirroring: failures make
// the mirror's exit status non-zero, warnings do not.
type mirrorReporter interface {
	fail(what string, err error)
	warn(what string, err error)
}

// mirrorEntry is one file or directory of a tree being mirrored.
type mirrorEntry struct {
	dir   bool
	size  int64
	mtime time.Time   // zero when unknown
	mode  fs.FileMode // local entries only
}

// mirrorTree is what one side of a mirror holds, by slash-separated path
// relative to the root ("" is the root itself).
type mirrorTree struct {
	mu      sync.Mutex
	entries map[string]mirrorEntry
	// partial holds the directories that could not be listed (completely):
	// nothing below them is known, so nothing below them may be deleted.
	partial map[string]bool
	// kept holds the directories that contain something the mirror does
	// not touch (filtered out, unlisted, special files): they cannot be
	// removed.
	kept map[string]bool
}

func newMirrorTree() *mirrorTree {
	return &mirrorTree{entries: map[string]mirrorEntry{}, partial: map[string]bool{}, kept: map[string]bool{}}
}

func (t *mirrorTree) add(rel string, e mirrorEntry) {
	t.mu.Lock()
	t.entries[rel] = e
	t.mu.Unlock()
}

// keep marks dir and its parents as holding something left alone.
func (t *mirrorTree) keep(dir string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		t.kept[dir] = true
		if dir == "" {
			return
		}
		dir = mirrorParent(dir)
	}
}

func (t *mirrorTree) markPartial(dir string) {
	t.mu.Lock()
	t.partial[dir] = true
	t.mu.Unlock()
	t.keep(dir)
}

// underPartial reports whether rel is in or below a directory that could
// not be listed.
func (t *mirrorTree) underPartial(rel string) bool {
	for p := rel; ; p = mirrorParent(p) {
		if t.partial[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// mirrorParent is the relative path of rel's directory ("" for the root).
func mirrorParent(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

func mirrorJoin(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// mirrorDepth is the number of path elements of rel.
func mirrorDepth(rel string) int {
	if rel == "" {
		return 0
	}
	return strings.Count(rel, "/") + 1
}

// mirrorSafeName reports whether a name from a listing can be used as one
// path element: a server must not be able to make the mirror write
// outside its target with names like "../x" or "a/b".
func mirrorSafeName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00") && filepath.IsLocal(name)
}

// mirrorTempPrefix starts the names of the files a download is written to
// before it is renamed into place; listings of local trees skip them.
const mirrorTempPrefix = ".ferry-part-"

// mirrorRemotePath is the client path of rel below root.
func mirrorRemotePath(root, rel string) string {
	if rel == "" {
		return root
	}
	return path.Join(root, rel)
}

// mirrorIsSymlink reports whether a listing entry is a symbolic link.
func mirrorIsSymlink(e ftp.Entry) bool {
	return e.Mode&fs.ModeSymlink != 0 || strings.HasPrefix(strings.ToLower(e.Type), "os.unix=s")
}

// listRemoteTree lists the tree at root on the server, directories
// concurrently (up to parallel listings at once). Problems are given to
// report and leave the tree partial where they happened; only a failure
// to list the root is returned.
func listRemoteTree(ctx context.Context, c *ftpclient.Client, root string, parallel int, filter mirrorFilter, rep mirrorReporter) (*mirrorTree, error) {
	t := newMirrorTree()
	sem := make(chan struct{}, max(parallel, 1))
	var (
		wg      sync.WaitGroup
		rootErr error
	)
	var visit func(rel string)
	visit = func(rel string) {
		defer wg.Done()
		if ctx.Err() != nil {
			t.markPartial(rel)
			return
		}
		sem <- struct{}{}
		entries, err := c.List(ctx, mirrorRemotePath(root, rel))
		<-sem
		if err != nil {
			var le *ftpclient.ListError
			if rel == "" && !errors.As(err, &le) {
				rootErr = err
				return
			}
			t.markPartial(rel)
			rep.fail("list "+mirrorShow(rel), err)
			if !errors.As(err, &le) {
				return
			}
		}
		for _, e := range entries {
			if !mirrorSafeName(e.Name) {
				rep.warn("list "+mirrorShow(rel), fmt.Errorf("the server listed an unusable name %q", e.Name))
				t.keep(rel)
				continue
			}
			child := mirrorJoin(rel, e.Name)
			if mirrorIsSymlink(e) {
				// Follow links to files; a link to a directory could lead
				// back up the tree, and a server gives nothing to tell.
				sem <- struct{}{}
				st, err := c.Stat(ctx, mirrorRemotePath(root, child))
				<-sem
				if err != nil || st.IsDir() || mirrorIsSymlink(st) {
					if err == nil {
						err = errors.New("symbolic link to a directory, not followed")
					}
					rep.warn("follow "+mirrorShow(child), err)
					t.keep(rel)
					continue
				}
				e = st
			}
			switch {
			case e.IsDir():
				if filter.excluded(child) {
					t.keep(rel)
					continue
				}
				t.add(child, mirrorEntry{dir: true, mtime: e.ModTime})
				wg.Add(1)
				go visit(child)
			case e.Type == "" || strings.EqualFold(e.Type, "file"):
				if !filter.wantsFile(child) {
					t.keep(rel)
					continue
				}
				t.add(child, mirrorEntry{size: e.Size, mtime: e.ModTime})
			default: // devices, pipes and other things no transfer can copy
				t.keep(rel)
			}
		}
	}
	wg.Add(1)
	visit("")
	wg.Wait()
	if rootErr != nil {
		return nil, rootErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// listLocalTree lists the tree at root on the local disk. Symbolic links
// are followed, to files and to directories, except to a directory that
// is one of the link's own ancestors (a loop).
func listLocalTree(ctx context.Context, root string, filter mirrorFilter, rep mirrorReporter) (*mirrorTree, error) {
	t := newMirrorTree()
	rootInfo, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	var walk func(dir, rel string, ancestors []os.FileInfo)
	walk = func(dir, rel string, ancestors []os.FileInfo) {
		if ctx.Err() != nil {
			t.markPartial(rel)
			return
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.markPartial(rel)
			rep.fail("list "+mirrorShow(rel), err)
			// ReadDir returns what it read before the error.
		}
		for _, de := range entries {
			name := de.Name()
			if strings.HasPrefix(name, mirrorTempPrefix) {
				t.keep(rel)
				continue
			}
			child := mirrorJoin(rel, name)
			full := filepath.Join(dir, name)
			info, err := de.Info()
			if err == nil && info.Mode()&fs.ModeSymlink != 0 {
				info, err = os.Stat(full)
				if err != nil {
					rep.fail("follow "+mirrorShow(child), err)
				}
			}
			if err != nil {
				t.keep(rel)
				continue
			}
			switch {
			case info.IsDir():
				if filter.excluded(child) {
					t.keep(rel)
					continue
				}
				if mirrorHasSameFile(ancestors, info) {
					rep.warn("follow "+mirrorShow(child), errors.New("symbolic link loop, not followed"))
					t.keep(rel)
					continue
				}
				t.add(child, mirrorEntry{dir: true, mtime: info.ModTime(), mode: info.Mode()})
				walk(full, child, append(ancestors[:len(ancestors):len(ancestors)], info))
			case info.Mode().IsRegular():
				if !filter.wantsFile(child) {
					t.keep(rel)
					continue
				}
				t.add(child, mirrorEntry{size: info.Size(), mtime: info.ModTime(), mode: info.Mode()})
			default:
				t.keep(rel)
			}
		}
	}
	t.add("", mirrorEntry{dir: true, mtime: rootInfo.ModTime(), mode: rootInfo.Mode()})
	walk(root, "", []os.FileInfo{rootInfo})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

func mirrorHasSameFile(list []os.FileInfo, fi os.FileInfo) bool {
	for _, a := range list {
		if os.SameFile(a, fi) {
			return true
		}
	}
	return false
}

// mirrorShow is how a relative path is shown to the user.
func mirrorShow(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}
