// Package memfs is an in-memory ftpserver.FileSystem: the reference backend
// used by the server's tests and examples, and the executable statement of
// the semantics every other backend (see storage/storagetest) must match.
//
// Directories are real nodes, files have modification times and permission
// bits (0644 for new files, 0755 for new directories), and List returns
// entries in name order. An FS is safe for concurrent use; a FileWriter or a
// reader returned by Open, like an *os.File, belongs to one goroutine.
//
// Names must be clean absolute slash-separated paths ("/", "/a/b.txt"), as
// ftpserver promises to send; anything else ("", "a", "/a/../b", "/a/")
// fails with ftpserver.ErrInvalidName. A backslash is an ordinary byte.
//
// Uploads emulate what storage/localfs does on disk:
//
//   - UploadAtomic buffers the upload; Commit replaces the target with the
//     buffer, Abort discards it. WriteAppend and WriteAt start the buffer
//     with the existing content (all of it, or its first Offset bytes).
//   - UploadAtomicResume buffers a WriteTruncate upload the same way, but
//     Abort(ftpserver.AbortInterrupted) installs whatever arrived, provided
//     at least one byte did (an upload interrupted before any data leaves
//     the previous version); Abort(ftpserver.AbortFailed) discards it. For
//     WriteAppend and WriteAt on an existing file it writes into the target
//     in place, because the existing prefix is already where it belongs;
//     with WriteAt the old content after the data written is dropped when
//     the upload ends (by Commit, or by an interrupted Abort if anything
//     arrived); a failed Abort cuts the file back to where the upload
//     began.
//   - UploadDirect writes into the target: WriteTruncate empties it and
//     WriteAt cuts it at Offset when Create returns.
//
// WriteAt with Offset 0 is WriteTruncate; with Offset > 0 the file must exist
// (fs.ErrNotExist) and be at least Offset bytes long (fs.ErrInvalid).
// An upload that writes into the target (UploadDirect, or in place) holds it
// until Commit or Abort; another such upload of the same file fails with
// ftpserver.ErrBusy meanwhile.
//
// Exclusive fails with fs.ErrExist if the target exists when Create is called
// or, for the buffered modes, when the upload is installed. A replaced file
// keeps its permission bits.
//
// Every method checks its context first and fails with the context's error
// once it is done; a DirLister also stops when the context of its List call
// ends. A FileWriter is not bound to the context of Create.
//
// Link (ftpserver.Linker) gives a file a second name, as a hard link
// does: writes in place show under both, an upload installed at one
// name (Commit of a buffered upload) replaces that name only, and the
// file's bytes are freed with its last name.
//
// After Commit or Abort, Write and Commit fail with fs.ErrClosed and Abort
// returns nil, so "defer w.Abort(ctx, ftpserver.AbortFailed)" is safe. A failed Commit has already
// discarded its buffer rather than install it.
package memfs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

const (
	defaultFileMode fs.FileMode = 0o644
	defaultDirMode  fs.FileMode = 0o755

	// availableSpace is what AvailableSpace reports: memory is not a quota.
	availableSpace int64 = 1 << 40

	// defaultBatch is how many entries DirLister.Next returns for n <= 0.
	defaultBatch = 128
)

// FS is an in-memory file system. The zero value is not usable; call New.
type FS struct {
	mu   sync.RWMutex
	root *node
	// capacity bounds used when > 0 (SetCapacity); used counts the bytes
	// of every file and every upload buffer, as a disk holds files and
	// temporary files.
	capacity int64
	used     int64
}

// SetCapacity makes the file system hold at most n bytes of file content,
// upload buffers included (n <= 0: no limit). A write beyond it fails with
// ftpserver.ErrNoSpace, as a full disk does; AvailableSpace reports what
// is left.
func (fsys *FS) SetCapacity(n int64) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	fsys.capacity = n
}

// reserve accounts for n more bytes, or fails with ftpserver.ErrNoSpace
// when they do not fit. fsys.mu must be held.
func (fsys *FS) reserve(n int64) error {
	if fsys.capacity > 0 && fsys.used+n > fsys.capacity {
		return ftpserver.ErrNoSpace
	}
	fsys.used += n
	return nil
}

// node is a file or a directory. Fields are guarded by FS.mu.
type node struct {
	dir      bool
	perm     fs.FileMode
	mtime    time.Time
	data     []byte           // files
	children map[string]*node // directories
	// writer is set while an upload writes into the file in place: a
	// second one is refused with ftpserver.ErrBusy, as localfs's lock.
	writer bool
	// extraNames counts the file's hard links beyond its first name
	// (Link): its bytes stay accounted for until the last name goes.
	extraNames int
}

var (
	_ ftpserver.FileSystem    = (*FS)(nil)
	_ ftpserver.Chmoder       = (*FS)(nil)
	_ ftpserver.SpaceReporter = (*FS)(nil)
)

// New returns an empty file system holding only the root directory.
func New() *FS {
	return &FS{root: newDir(time.Now())}
}

func newDir(mtime time.Time) *node {
	return &node{dir: true, perm: defaultDirMode, mtime: mtime, children: map[string]*node{}}
}

// split validates a virtual path and returns its components ("/" has none).
func split(op, name string) ([]string, error) {
	if name == "" || name[0] != '/' || path.Clean(name) != name || strings.IndexByte(name, 0) >= 0 {
		return nil, &fs.PathError{Op: op, Path: name, Err: ftpserver.ErrInvalidName}
	}
	if name == "/" {
		return nil, nil
	}
	return strings.Split(name[1:], "/"), nil
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func ctxErr(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return pathErr(op, name, err)
	}
	return nil
}

// resolve is how every context-taking method starts: it fails once ctx is
// done, then validates name and returns its components.
func resolve(ctx context.Context, op, name string) ([]string, error) {
	if err := ctxErr(ctx, op, name); err != nil {
		return nil, err
	}
	return split(op, name)
}

// lookup finds the node at parts. fsys.mu must be held.
func (fsys *FS) lookup(parts []string) (*node, error) {
	n := fsys.root
	for _, p := range parts {
		if !n.dir {
			return nil, fs.ErrNotExist
		}
		child, ok := n.children[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = child
	}
	return n, nil
}

// parentDir finds the directory that holds parts (which must not be the
// root) and returns it with the last component. fsys.mu must be held.
func (fsys *FS) parentDir(parts []string) (*node, string, error) {
	dir, err := fsys.lookup(parts[:len(parts)-1])
	if err != nil {
		return nil, "", err
	}
	if !dir.dir {
		return nil, "", fs.ErrNotExist
	}
	return dir, parts[len(parts)-1], nil
}

// fileInfo is an immutable snapshot of a node.
type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }

// info snapshots n under the given base name. fsys.mu must be held.
func (n *node) info(name string) *fileInfo {
	fi := &fileInfo{name: name, mode: n.perm, mtime: n.mtime}
	if n.dir {
		fi.mode |= fs.ModeDir
	} else {
		fi.size = int64(len(n.data))
	}
	return fi
}

func baseName(parts []string) string {
	if len(parts) == 0 {
		return "/"
	}
	return parts[len(parts)-1]
}

// Stat implements ftpserver.FileSystem.
func (fsys *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	parts, err := resolve(ctx, "stat", name)
	if err != nil {
		return nil, err
	}
	fsys.mu.RLock()
	defer fsys.mu.RUnlock()
	n, err := fsys.lookup(parts)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return n.info(baseName(parts)), nil
}

// Open implements ftpserver.FileSystem. The reader sees the file as it is
// when each Read runs, like an open file on disk: writes in place show, and
// a file replaced by a later upload or rename keeps being read as it was.
func (fsys *FS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	parts, err := resolve(ctx, "open", name)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, pathErr("open", name, fmt.Errorf("negative offset: %w", fs.ErrInvalid))
	}
	fsys.mu.RLock()
	defer fsys.mu.RUnlock()
	n, err := fsys.lookup(parts)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if n.dir {
		return nil, pathErr("open", name, ftpserver.ErrIsDir)
	}
	return &reader{fsys: fsys, name: name, node: n, pos: offset}, nil
}

type reader struct {
	fsys   *FS
	name   string
	node   *node
	pos    int64
	closed bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, pathErr("read", r.name, fs.ErrClosed)
	}
	r.fsys.mu.RLock()
	defer r.fsys.mu.RUnlock()
	if r.pos >= int64(len(r.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, r.node.data[r.pos:])
	r.pos += int64(n)
	return n, nil
}

func (r *reader) Close() error {
	if r.closed {
		return pathErr("close", r.name, fs.ErrClosed)
	}
	r.closed = true
	return nil
}

// List implements ftpserver.FileSystem. It snapshots the directory's entries
// (names and metadata, not content) when called and returns them in name
// order.
func (fsys *FS) List(ctx context.Context, name string) (ftpserver.DirLister, error) {
	parts, err := resolve(ctx, "list", name)
	if err != nil {
		return nil, err
	}
	fsys.mu.RLock()
	defer fsys.mu.RUnlock()
	n, err := fsys.lookup(parts)
	if err != nil {
		return nil, pathErr("list", name, err)
	}
	if !n.dir {
		return nil, pathErr("list", name, ftpserver.ErrNotDir)
	}
	names := make([]string, 0, len(n.children))
	for child := range n.children {
		names = append(names, child)
	}
	slices.Sort(names)
	infos := make([]fs.FileInfo, len(names))
	for i, child := range names {
		infos[i] = n.children[child].info(child)
	}
	return &lister{ctx: ctx, name: name, infos: infos}, nil
}

type lister struct {
	ctx    context.Context
	name   string
	infos  []fs.FileInfo
	closed bool
}

func (l *lister) Next(n int) ([]fs.FileInfo, error) {
	if l.closed {
		return nil, pathErr("readdir", l.name, fs.ErrClosed)
	}
	if err := ctxErr(l.ctx, "readdir", l.name); err != nil {
		return nil, err
	}
	if len(l.infos) == 0 {
		return nil, io.EOF
	}
	if n <= 0 {
		n = defaultBatch
	}
	n = min(n, len(l.infos))
	batch := l.infos[:n:n]
	l.infos = l.infos[n:]
	return batch, nil
}

func (l *lister) Close() error {
	l.closed = true
	l.infos = nil
	return nil
}

// Mkdir implements ftpserver.FileSystem.
func (fsys *FS) Mkdir(ctx context.Context, name string) error {
	parts, err := resolve(ctx, "mkdir", name)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return pathErr("mkdir", name, fs.ErrExist)
	}
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	dir, base, err := fsys.parentDir(parts)
	if err != nil {
		return pathErr("mkdir", name, err)
	}
	if _, ok := dir.children[base]; ok {
		return pathErr("mkdir", name, fs.ErrExist)
	}
	now := time.Now()
	dir.children[base] = newDir(now)
	dir.mtime = now
	return nil
}

// Remove implements ftpserver.FileSystem.
func (fsys *FS) Remove(ctx context.Context, name string) error {
	return fsys.unlink(ctx, "remove", name, ftpserver.ErrIsDir, func(n *node) error {
		if n.dir {
			return ftpserver.ErrIsDir
		}
		return nil
	})
}

// RemoveDir implements ftpserver.FileSystem. The root cannot be removed
// (fs.ErrPermission).
func (fsys *FS) RemoveDir(ctx context.Context, name string) error {
	return fsys.unlink(ctx, "rmdir", name, fs.ErrPermission, func(n *node) error {
		switch {
		case !n.dir:
			return ftpserver.ErrNotDir
		case len(n.children) > 0:
			return ftpserver.ErrDirNotEmpty
		}
		return nil
	})
}

// unlink deletes the entry at name from its directory once canRemove accepts
// it. Naming the root fails with rootErr.
func (fsys *FS) unlink(ctx context.Context, op, name string, rootErr error, canRemove func(*node) error) error {
	parts, err := resolve(ctx, op, name)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return pathErr(op, name, rootErr)
	}
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	dir, base, err := fsys.parentDir(parts)
	if err != nil {
		return pathErr(op, name, err)
	}
	n, ok := dir.children[base]
	if !ok {
		return pathErr(op, name, fs.ErrNotExist)
	}
	if err := canRemove(n); err != nil {
		return pathErr(op, name, err)
	}
	fsys.dropName(n)
	delete(dir.children, base)
	dir.mtime = time.Now()
	return nil
}

// Rename implements ftpserver.FileSystem. It replaces a file at to, never a
// directory (ftpserver.ErrIsDir), and a directory only moves onto a free
// name (ftpserver.ErrNotDir if to is a file). Moving a directory into itself
// fails with ftpserver.ErrInvalidName; the root cannot be moved or replaced
// (fs.ErrPermission). A file keeps its modification time.
func (fsys *FS) Rename(ctx context.Context, from, to string) error {
	fail := func(err error) error {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	fromParts, toParts, err := resolvePair(ctx, from, to)
	if err != nil {
		return fail(err)
	}
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	fromDir, fromBase, err := fsys.parentDir(fromParts)
	if err != nil {
		return fail(err)
	}
	n, ok := fromDir.children[fromBase]
	if !ok {
		return fail(fs.ErrNotExist)
	}
	if from == to {
		return nil
	}
	if strings.HasPrefix(to, from+"/") {
		return fail(fmt.Errorf("cannot move a directory into itself: %w", ftpserver.ErrInvalidName))
	}
	toDir, toBase, err := fsys.parentDir(toParts)
	if err != nil {
		return fail(err)
	}
	if old, ok := toDir.children[toBase]; ok {
		if old == n {
			// Two names of one file (Link): rename(2) leaves both.
			return nil
		}
		if old.dir {
			return fail(ftpserver.ErrIsDir)
		}
		if n.dir {
			return fail(ftpserver.ErrNotDir)
		}
		fsys.dropName(old)
	}
	delete(fromDir.children, fromBase)
	toDir.children[toBase] = n
	now := time.Now()
	fromDir.mtime = now
	toDir.mtime = now
	return nil
}

// resolvePair starts the two-name methods (Rename, Link): it fails once
// ctx is done, then validates both names, neither of which may be the
// root, and returns their components. The error is the bare cause, for
// the caller's *os.LinkError.
func resolvePair(ctx context.Context, from, to string) (fromParts, toParts []string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	fromParts, err = split("", from)
	if err != nil {
		return nil, nil, ftpserver.ErrInvalidName
	}
	toParts, err = split("", to)
	if err != nil {
		return nil, nil, ftpserver.ErrInvalidName
	}
	if len(fromParts) == 0 || len(toParts) == 0 {
		return nil, nil, fs.ErrPermission
	}
	return fromParts, toParts, nil
}

// SetModTime implements ftpserver.FileSystem.
func (fsys *FS) SetModTime(ctx context.Context, name string, mtime time.Time) error {
	return fsys.update(ctx, "chtimes", name, func(n *node) { n.mtime = mtime })
}

// Chmod implements ftpserver.Chmoder. Only the permission bits (0o777) of
// mode are used: setuid, setgid and sticky bits are dropped.
func (fsys *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	return fsys.update(ctx, "chmod", name, func(n *node) { n.perm = mode.Perm() })
}

// update applies change to the node at name, file or directory.
func (fsys *FS) update(ctx context.Context, op, name string, change func(*node)) error {
	parts, err := resolve(ctx, op, name)
	if err != nil {
		return err
	}
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	n, err := fsys.lookup(parts)
	if err != nil {
		return pathErr(op, name, err)
	}
	change(n)
	return nil
}

// AvailableSpace implements ftpserver.SpaceReporter: what SetCapacity
// leaves, or a fixed 1 TiB without a capacity.
func (fsys *FS) AvailableSpace(ctx context.Context, name string) (int64, error) {
	parts, err := resolve(ctx, "statfs", name)
	if err != nil {
		return 0, err
	}
	fsys.mu.RLock()
	defer fsys.mu.RUnlock()
	if _, err := fsys.lookup(parts); err != nil {
		return 0, pathErr("statfs", name, err)
	}
	if fsys.capacity > 0 {
		return max(fsys.capacity-fsys.used, 0), nil
	}
	return availableSpace, nil
}

// WriteFile stores a copy of data at name, creating missing parent
// directories and replacing an existing file. It is a shortcut for tests and
// examples.
func (fsys *FS) WriteFile(name string, data []byte) error {
	parts, err := split("writefile", name)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return pathErr("writefile", name, ftpserver.ErrIsDir)
	}
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	now := time.Now()
	dir := fsys.root
	for _, p := range parts[:len(parts)-1] {
		child, ok := dir.children[p]
		if !ok {
			child = newDir(now)
			dir.children[p] = child
			dir.mtime = now
		}
		if !child.dir {
			return pathErr("writefile", name, ftpserver.ErrNotDir)
		}
		dir = child
	}
	base := parts[len(parts)-1]
	n, ok := dir.children[base]
	switch {
	case !ok:
		n = &node{perm: defaultFileMode}
		dir.children[base] = n
		dir.mtime = now
	case n.dir:
		return pathErr("writefile", name, ftpserver.ErrIsDir)
	}
	if err := fsys.reserve(int64(len(data) - len(n.data))); err != nil {
		return pathErr("writefile", name, err)
	}
	n.data = slices.Clone(data)
	n.mtime = now
	return nil
}

// ReadFile returns a copy of the content of the file at name.
func (fsys *FS) ReadFile(name string) ([]byte, error) {
	parts, err := split("readfile", name)
	if err != nil {
		return nil, err
	}
	fsys.mu.RLock()
	defer fsys.mu.RUnlock()
	n, err := fsys.lookup(parts)
	if err != nil {
		return nil, pathErr("readfile", name, err)
	}
	if n.dir {
		return nil, pathErr("readfile", name, ftpserver.ErrIsDir)
	}
	return slices.Clone(n.data), nil
}
