package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

// filter selects what a mirror looks at. A pattern (path.Match syntax)
// matches an entry when it matches its relative path, its base name, or
// one of its parent directories (by relative path or by name), so
// "build" leaves out everything under every directory named build and
// "docs/*" takes the files of docs.
type filter struct {
	include []string
	exclude []string
}

func newFilter(include, exclude []string) (filter, error) {
	for _, p := range append(append([]string(nil), include...), exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			return filter{}, fmt.Errorf("bad pattern %q: %w", p, err)
		}
	}
	return filter{include: include, exclude: exclude}, nil
}

// match reports whether pattern matches rel or one of its parents.
func match(pattern, rel string) bool {
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

// excluded reports whether an Exclude pattern matches rel.
func (f filter) excluded(rel string) bool {
	for _, p := range f.exclude {
		if match(p, rel) {
			return true
		}
	}
	return false
}

// wantsFile reports whether the file rel is mirrored: not excluded and,
// when there are Include patterns, matched by one. Directories are only
// subject to Exclude, so that an include pattern for files does not cut
// off the directories holding them.
func (f filter) wantsFile(rel string) bool {
	if f.excluded(rel) {
		return false
	}
	if len(f.include) == 0 {
		return true
	}
	for _, p := range f.include {
		if match(p, rel) {
			return true
		}
	}
	return false
}

// entry is one file or directory of a tree being mirrored.
type entry struct {
	dir   bool
	size  int64
	mtime time.Time   // zero when unknown
	mode  fs.FileMode // local entries only
}

// tree is what one side of a mirror holds, by slash-separated path
// relative to the root ("" is the root itself).
type tree struct {
	mu      sync.Mutex
	entries map[string]entry
	// partial holds the directories that could not be listed (completely):
	// nothing below them is known, so nothing below them may be deleted.
	partial map[string]bool
	// kept holds the directories that contain something the mirror does
	// not touch (filtered out, unlisted, special files): they cannot be
	// removed.
	kept map[string]bool
}

func newTree() *tree {
	return &tree{entries: map[string]entry{}, partial: map[string]bool{}, kept: map[string]bool{}}
}

func (t *tree) add(rel string, e entry) {
	t.mu.Lock()
	t.entries[rel] = e
	t.mu.Unlock()
}

// keep marks dir and its parents as holding something left alone.
func (t *tree) keep(dir string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		t.kept[dir] = true
		if dir == "" {
			return
		}
		dir = parent(dir)
	}
}

func (t *tree) markPartial(dir string) {
	t.mu.Lock()
	t.partial[dir] = true
	t.mu.Unlock()
	t.keep(dir)
}

// underPartial reports whether rel is in or below a directory that could
// not be listed.
func (t *tree) underPartial(rel string) bool {
	for p := rel; ; p = parent(p) {
		if t.partial[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// parent is the relative path of rel's directory ("" for the root).
func parent(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// depth is the number of path elements of the relative path rel.
func depth(rel string) int {
	if rel == "" {
		return 0
	}
	return strings.Count(rel, "/") + 1
}

// DeepestFirst sorts relative paths deepest first, by name within a
// depth: the order in which directories can be removed.
func DeepestFirst(rels []string) {
	sort.Slice(rels, func(i, j int) bool {
		di, dj := depth(rels[i]), depth(rels[j])
		if di != dj {
			return di > dj
		}
		return rels[i] < rels[j]
	})
}

// underAny reports whether rel is below one of dirs.
func underAny(rel string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

// SafeName reports whether a name from a listing can be used as one path
// element: a server must not be able to make a mirror write outside its
// target with names like "../x" or "a/b".
func SafeName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00") && filepath.IsLocal(name)
}

// TempPrefix starts the names of the files a download is written to
// before it is renamed into place; listings of local trees skip them.
const TempPrefix = ".ferry-part-"

// remotePath is the client path of rel below root.
func remotePath(root, rel string) string {
	if rel == "" {
		return root
	}
	return path.Join(root, rel)
}

// IsSymlink reports whether a listing entry is a symbolic link.
func IsSymlink(e ftp.Entry) bool {
	return e.Mode&fs.ModeSymlink != 0 || strings.HasPrefix(strings.ToLower(e.Type), "os.unix=s")
}

// show is how a relative path is shown: "." for the root.
func show(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// listRemote lists the tree at j.remote on the server, up to Parallel
// directories at once. Problems are reported and leave the tree partial
// where they happened; only a failure to describe or list the root is
// returned.
func (j *job) listRemote(ctx context.Context) (*tree, error) {
	t := newTree()
	var (
		rootSeen bool
		prefix   string // of every path below the root
	)
	err := j.client.WalkConcurrent(ctx, j.remote, j.opts.parallel(), func(p string, e ftp.Entry, err error) error {
		if !rootSeen {
			// The root's call comes first, alone.
			rootSeen = true
			prefix = strings.TrimSuffix(p, "/") + "/"
			if err != nil {
				return err
			}
			if !e.IsDir() {
				return fmt.Errorf("%s is not a directory on the server", j.remote)
			}
			t.add("", entry{dir: true, mtime: e.ModTime})
			return nil
		}
		rel := strings.TrimPrefix(p, prefix)
		if p+"/" == prefix {
			rel = ""
		}
		if err != nil { // the directory rel could not be listed (wholly)
			var le *ftpclient.ListError
			if rel == "" && !errors.As(err, &le) {
				return err
			}
			t.markPartial(rel)
			j.fail(OpList, rel, err)
			if !errors.As(err, &le) {
				return fs.SkipDir
			}
			return nil // go on with the lines that could be read
		}
		if !SafeName(e.Name) {
			dir := ""
			if d, ok := strings.CutSuffix(rel, "/"+e.Name); ok {
				dir = d
			}
			j.warn(OpList, dir, fmt.Errorf("the server listed an unusable name %q", e.Name))
			t.keep(dir)
			return skipIfDir(e)
		}
		dir := parent(rel)
		if IsSymlink(e) {
			// Follow links to files; a link to a directory could lead
			// back up the tree, and a server gives nothing to tell.
			st, err := j.client.Stat(ctx, p)
			if err != nil || st.IsDir() || IsSymlink(st) {
				if err == nil {
					err = errors.New("symbolic link to a directory, not followed")
				}
				j.warn(OpFollow, rel, err)
				t.keep(dir)
				return nil
			}
			e = st
		}
		switch {
		case e.IsDir():
			if j.filter.excluded(rel) {
				t.keep(dir)
				return fs.SkipDir
			}
			t.add(rel, entry{dir: true, mtime: e.ModTime})
		case e.Type == "" || strings.EqualFold(e.Type, "file"):
			if !j.filter.wantsFile(rel) {
				t.keep(dir)
				return nil
			}
			t.add(rel, entry{size: e.Size, mtime: e.ModTime})
		default: // devices, pipes and other things no transfer can copy
			t.keep(dir)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func skipIfDir(e ftp.Entry) error {
	if e.IsDir() {
		return fs.SkipDir
	}
	return nil
}

// listLocal lists the tree at j.local. Symbolic links are followed, to
// files and to directories, except to a directory that is one of the
// link's own ancestors (a loop).
func (j *job) listLocal(ctx context.Context) (*tree, error) {
	t := newTree()
	rootInfo, err := os.Stat(j.local)
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
			j.fail(OpList, rel, err)
			// ReadDir returns what it read before the error.
		}
		for _, de := range entries {
			name := de.Name()
			if strings.HasPrefix(name, TempPrefix) {
				t.keep(rel)
				continue
			}
			child := join(rel, name)
			full := filepath.Join(dir, name)
			info, err := de.Info()
			if err == nil && info.Mode()&fs.ModeSymlink != 0 {
				info, err = os.Stat(full)
				if err != nil {
					j.fail(OpFollow, child, err)
				}
			}
			if err != nil {
				t.keep(rel)
				continue
			}
			switch {
			case info.IsDir():
				if j.filter.excluded(child) {
					t.keep(rel)
					continue
				}
				if hasSameFile(ancestors, info) {
					j.warn(OpFollow, child, errors.New("symbolic link loop, not followed"))
					t.keep(rel)
					continue
				}
				t.add(child, entry{dir: true, mtime: info.ModTime(), mode: info.Mode()})
				walk(full, child, append(ancestors[:len(ancestors):len(ancestors)], info))
			case info.Mode().IsRegular():
				if !j.filter.wantsFile(child) {
					t.keep(rel)
					continue
				}
				t.add(child, entry{size: info.Size(), mtime: info.ModTime(), mode: info.Mode()})
			default:
				t.keep(rel)
			}
		}
	}
	t.add("", entry{dir: true, mtime: rootInfo.ModTime(), mode: rootInfo.Mode()})
	walk(j.local, "", []os.FileInfo{rootInfo})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func hasSameFile(list []os.FileInfo, fi os.FileInfo) bool {
	for _, a := range list {
		if os.SameFile(a, fi) {
			return true
		}
	}
	return false
}
