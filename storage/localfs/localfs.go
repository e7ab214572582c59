// Package localfs is an ftpserver.FileSystem over a directory on local disk.
//
// Every access goes through an os.Root opened on that directory, so nothing
// outside it can be named: not by "..", not by an absolute path, not by a
// symbolic link leading out (os.Root resolves links itself, one component at
// a time, and refuses any that escape or are absolute), not by a directory
// swapped for such a link between two calls. Links that stay inside the root
// work. What refuses to leave the root reports fs.ErrPermission.
//
// # Names
//
// Virtual names are clean absolute slash-separated paths, as ftpserver
// promises: "/a/b.txt" is "a/b.txt" below the root and "/" is the root
// itself. Anything else ("", "a", "/a/../b", "/a/", a NUL byte) fails with
// ftpserver.ErrInvalidName rather than being cleaned, so a misbehaving
// caller is noticed. A backslash is an ordinary byte on Unix; where the OS
// treats it (or ':') as a separator, names containing it are refused.
//
// Upload temporary files are named ".ferry-upload-<random>" in the target's
// directory. List hides them, and every method refuses a name with such a
// component (ftpserver.ErrInvalidName) so that no session can read, replace
// or delete another session's upload in flight. On Linux an upload is
// staged in an unnamed file (O_TMPFILE) that gets a name only as it is
// published (linked under a temporary name and renamed onto the target, or
// linked straight to the target when exclusive), so a process that dies
// mid-upload leaves nothing: the kernel frees the file. Elsewhere, or on a
// file system without O_TMPFILE, the temporary file is named from the
// start. A temporary file is never left behind by Commit or Abort; one
// orphaned by a crash stays hidden until
// SweepTemp removes it (a server calls it at start) or RemoveDir removes
// its directory: a directory holding nothing but temporary files older than
// TempGrace counts as empty.
//
// # Uploads
//
// Commit returns only after the file is fsynced and, when a directory entry
// was created or replaced, its directory too.
//
//   - UploadAtomic writes a temporary file and renames it onto the target on
//     Commit; Abort deletes it, so the previous version stays untouched.
//     WriteAppend and WriteAt first copy the kept prefix of the target (all
//     of it, or its first Offset bytes) into the temporary file with
//     copy_file_range, which is instant on file systems that share extents
//     and a kernel-side copy elsewhere.
//   - UploadAtomicResume (the default) does the same for WriteTruncate, but
//     Abort(ftpserver.AbortInterrupted) renames the partial file onto the
//     target so the client can resume, provided at least one byte arrived
//     (an upload interrupted before any data leaves the previous version).
//     Abort(ftpserver.AbortFailed), a failure of the server's (disk full,
//     I/O error), deletes it as UploadAtomic does. WriteAppend and WriteAt
//     on an existing file write into the target in place: the prefix is
//     already where it belongs, so "what arrived becomes the target" holds
//     without copying what may be gigabytes before a resumed upload can
//     start. A reader sees the file grow meanwhile. With WriteAt, the old
//     content after the data written is dropped when the upload ends (by
//     Commit, or by an interrupted Abort if anything arrived). A failed
//     Abort cuts the file back to where the upload began.
//   - UploadDirect writes into the target: WriteTruncate empties it and
//     WriteAt cuts it at Offset when Create returns.
//
// An upload that writes into the target (UploadDirect, or in place) holds an
// exclusive flock(2) on it until Commit or Abort, taken without waiting:
// another such upload of the file, from this process or another (vsftpd's
// lock_upload_files takes the same lock), fails with ftpserver.ErrBusy
// meanwhile instead of interleaving its bytes. Direct WriteTruncate empties
// the file only once it holds the lock.
//
// WriteAt with Offset 0 is WriteTruncate; with Offset > 0 the file must exist
// (fs.ErrNotExist) and be at least Offset bytes long (fs.ErrInvalid).
// Appending seeks to the end instead of using O_APPEND, which would rule out
// splice(2) and copy_file_range(2).
//
// Exclusive (STOU) creates the target with O_EXCL in direct mode. In the
// atomic modes it fails early if the target exists, and Commit publishes the
// temporary file with link(2), which fails if a file appeared meanwhile
// (fs.ErrExist, the other file left alone); where hard links are not
// supported it falls back to checking and renaming.
//
// A file replaced through a temporary file keeps its permission bits; new
// files and directories get 0666 and 0777 less the process umask. Uploading
// onto a symbolic link in the atomic modes replaces the link; in direct mode
// (and when writing in place) it writes into the file the link points to,
// which must be inside the root.
//
// The FileWriter implements io.ReaderFrom by handing the source to its
// *os.File, so copying from a TCP connection uses splice(2). It is not safe
// for concurrent use: end the copy before calling Commit or Abort. After
// Commit or Abort, Write and Commit fail with fs.ErrClosed and Abort returns
// nil, so "defer w.Abort(ctx, ftpserver.AbortFailed)" is safe. A failed Commit has already released
// everything; a temporary file is deleted, not published.
//
// # Other behaviour
//
// Open returns an *os.File, so io.Copy to a TCP connection uses sendfile(2);
// it refuses directories (ftpserver.ErrIsDir) and anything else that is not a
// regular file (fs.ErrPermission) without blocking on a FIFO. List reads the
// directory in batches with ReadDir and describes each entry like Lstat (a
// symbolic link is listed as a link). Stat follows links.
//
// Rename replaces a file, never a directory (ftpserver.ErrIsDir), and moves
// a directory only onto a free name (ftpserver.ErrNotDir if the target is a
// file); moving a directory into itself fails with ftpserver.ErrInvalidName.
// The root cannot be removed, renamed or replaced (fs.ErrPermission).
// Chmod uses the permission bits only, dropping setuid, setgid and sticky.
//
// Errors name the virtual path, never the host directory, including errors
// from the *os.File that Open returns. Errno values are mapped to what the
// server branches on: ENOTDIR in the middle of a path is fs.ErrNotExist,
// ENOSPC is ftpserver.ErrNoSpace, EDQUOT is ftpserver.ErrQuota,
// ENAMETOOLONG is ftpserver.ErrInvalidName, EROFS is fs.ErrPermission.
// The FileWriter's ReadFrom returns an error that only a socket reports
// (ECONNRESET, ETIMEDOUT...) as the *net.OpError of its source: splice(2)
// does not say which side failed, and a client's reset is not a storage
// failure.
//
// Every method checks its context first and fails with the context's error
// once it is done; a DirLister also stops when the context of its List call
// ends. A FileWriter is not bound to the context of Create.
package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// tempPrefix starts the name of every upload temporary file.
const tempPrefix = ".ferry-upload-"

// defaultBatch is how many directory entries DirLister.Next reads for n <= 0.
const defaultBatch = 128

// FS is a file system rooted at a local directory. It is safe for
// concurrent use.
type FS struct {
	root *os.Root
	dir  rootDir // a faster Open where the OS allows it
	// escapeErr is the (unexported) error os.Root returns for a path that
	// leaves the root, captured in New so it can be told apart from other
	// errors and reported as fs.ErrPermission.
	escapeErr error
}

var (
	_ ftpserver.FileSystem    = (*FS)(nil)
	_ ftpserver.Chmoder       = (*FS)(nil)
	_ ftpserver.SpaceReporter = (*FS)(nil)
)

// New opens the directory root. Its errors name root: they are meant for the
// administrator who configured it.
func New(root string) (*FS, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	fsys := &FS{root: r}
	fsys.dir.init(r)
	if _, err := r.Lstat(".."); err != nil {
		fsys.escapeErr = innermost(err)
	}
	return fsys, nil
}

// Close releases the root directory. Files and listers already open stay
// usable; everything else fails afterwards.
func (fsys *FS) Close() error {
	fsys.dir.close()
	return fsys.root.Close()
}

// rel maps a virtual name to a name relative to the root.
func (fsys *FS) rel(op, name string) (string, error) {
	if !validName(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: ftpserver.ErrInvalidName}
	}
	if name == "/" {
		return ".", nil
	}
	return name[1:], nil
}

func validName(name string) bool {
	if name == "" || name[0] != '/' || path.Clean(name) != name || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	if os.PathSeparator != '/' && strings.ContainsAny(name, `\:`) {
		return false
	}
	for part := range strings.SplitSeq(name[1:], "/") {
		if isTemp(part) {
			return false
		}
	}
	return true
}

func isTemp(base string) bool {
	return strings.HasPrefix(base, tempPrefix)
}

func ctxErr(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	return nil
}

// namedInfo gives the root directory the name "/" instead of ".".
type namedInfo struct {
	fs.FileInfo
	name string
}

func (fi namedInfo) Name() string { return fi.name }

// Stat implements ftpserver.FileSystem. It follows symbolic links inside the
// root.
func (fsys *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if err := ctxErr(ctx, "stat", name); err != nil {
		return nil, err
	}
	rel, err := fsys.rel("stat", name)
	if err != nil {
		return nil, err
	}
	info, err := fsys.root.Stat(rel)
	if err != nil {
		return nil, fsys.wrap("stat", name, err)
	}
	if rel == "." {
		return namedInfo{info, "/"}, nil
	}
	return info, nil
}

// Open implements ftpserver.FileSystem. It returns an *os.File named by the
// virtual path.
func (fsys *FS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if err := ctxErr(ctx, "open", name); err != nil {
		return nil, err
	}
	rel, err := fsys.rel("open", name)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("negative offset: %w", fs.ErrInvalid)}
	}
	f, ok, err := fsys.dir.openRegular(rel, name)
	if !ok {
		f, err = openRegular(fsys.root, rel, name)
	}
	if err != nil {
		return nil, fsys.wrap("open", name, err)
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, fsys.wrap("open", name, err)
		}
	}
	return f, nil
}

// errNotRegular refuses FIFOs, sockets and devices: opening one could block
// or reach a device.
var errNotRegular = &kindError{msg: "not a regular file", kind: fs.ErrPermission}

// checkRegular reports what keeps info from being read or written as a file.
func checkRegular(info fs.FileInfo) error {
	switch {
	case info.IsDir():
		return ftpserver.ErrIsDir
	case !info.Mode().IsRegular():
		return errNotRegular
	}
	return nil
}

// List implements ftpserver.FileSystem.
func (fsys *FS) List(ctx context.Context, name string) (ftpserver.DirLister, error) {
	if err := ctxErr(ctx, "list", name); err != nil {
		return nil, err
	}
	rel, err := fsys.rel("list", name)
	if err != nil {
		return nil, err
	}
	f, err := fsys.openDir(rel)
	if err != nil {
		return nil, fsys.wrap("list", name, err)
	}
	if fastListing {
		if l := fsys.fastLister(ctx, name, f); l != nil {
			return l, nil
		}
	}
	// A root at the directory lets each entry be described with one
	// fstatat on the directory's descriptor, from any goroutine.
	sub, err := fsys.root.OpenRoot(rel)
	if err != nil {
		f.Close()
		return nil, fsys.wrap("list", name, err)
	}
	return &lister{ctx: ctx, fsys: fsys, name: name, dir: f, sub: sub}, nil
}

// fastListing lets List use the platform's own lister where there is one
// (Linux); tests and benchmarks turn it off to compare with the os.Root one.
var fastListing = true

// openDir opens a directory without ever blocking on something else.
func (fsys *FS) openDir(rel string) (*os.File, error) {
	f, err := fsys.root.OpenFile(rel, os.O_RDONLY|oDirectory, 0)
	if err != nil {
		// ENOTDIR says a component is no directory, maybe the last one.
		if info, serr := fsys.root.Stat(rel); serr == nil && !info.IsDir() {
			err = ftpserver.ErrNotDir
		}
		return nil, err
	}
	// Where O_DIRECTORY does not exist, check after the fact.
	info, err := f.Stat()
	if err == nil && !info.IsDir() {
		err = ftpserver.ErrNotDir
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

type lister struct {
	ctx  context.Context
	fsys *FS
	name string
	dir  *os.File
	sub  *os.Root // the listed directory, for lstat of its entries
}

// Next implements ftpserver.DirLister, reading at most n entries from the
// directory per call (defaultBatch if n <= 0).
func (l *lister) Next(n int) ([]fs.FileInfo, error) {
	if l.dir == nil {
		return nil, &fs.PathError{Op: "readdir", Path: l.name, Err: fs.ErrClosed}
	}
	if err := ctxErr(l.ctx, "readdir", l.name); err != nil {
		return nil, err
	}
	if n <= 0 {
		n = defaultBatch
	}
	for {
		// Names only: ReadDir would lstat each entry itself, one after
		// the other, wherever the file system does not report types.
		names, err := l.dir.Readdirnames(n)
		infos, ierr := l.infos(names)
		if ierr != nil {
			return infos, ierr
		}
		switch {
		case err == io.EOF && len(infos) == 0:
			return nil, io.EOF
		case err != nil && err != io.EOF:
			return infos, l.fsys.wrap("readdir", l.name, err)
		case len(infos) > 0:
			return infos, nil
		}
		// The whole batch was temporary files: read on.
		if err := ctxErr(l.ctx, "readdir", l.name); err != nil {
			return nil, err
		}
	}
}

// parallelStatMin is the batch size from which entries are stat'ed by
// several goroutines: a listing is one lstat per entry, and on a
// multi-core machine they run side by side (LIST of 10,000 entries was
// mostly lstat time).
var parallelStatMin = 64

// infos describes the named entries, leaving out upload temp files and
// entries removed since the directory was read.
func (l *lister) infos(names []string) ([]fs.FileInfo, error) {
	names = slices.DeleteFunc(names, isTemp)
	all := make([]fs.FileInfo, len(names))
	errs := make([]error, len(names))
	stat := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			all[i], errs[i] = l.sub.Lstat(names[i])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), 4)
	if len(names) < parallelStatMin || workers < 2 {
		stat(0, len(names))
	} else {
		var wg sync.WaitGroup
		per := (len(names) + workers - 1) / workers
		for lo := 0; lo < len(names); lo += per {
			hi := min(lo+per, len(names))
			wg.Add(1)
			go func() {
				defer wg.Done()
				stat(lo, hi)
			}()
		}
		wg.Wait()
	}
	infos := all[:0]
	for i, info := range all {
		switch {
		case errors.Is(errs[i], fs.ErrNotExist):
			continue // removed since it was read
		case errs[i] != nil:
			return infos, l.fsys.wrap("lstat", path.Join(l.name, names[i]), errs[i])
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func (l *lister) Close() error {
	if l.dir == nil {
		return &fs.PathError{Op: "close", Path: l.name, Err: fs.ErrClosed}
	}
	err := l.dir.Close()
	l.sub.Close()
	l.dir = nil
	if err != nil {
		return l.fsys.wrap("close", l.name, err)
	}
	return nil
}

// Mkdir implements ftpserver.FileSystem.
func (fsys *FS) Mkdir(ctx context.Context, name string) error {
	if err := ctxErr(ctx, "mkdir", name); err != nil {
		return err
	}
	rel, err := fsys.rel("mkdir", name)
	if err != nil {
		return err
	}
	if err := fsys.root.Mkdir(rel, 0o777); err != nil {
		return fsys.wrap("mkdir", name, err)
	}
	return nil
}

// Remove implements ftpserver.FileSystem. A symbolic link is removed
// itself, whatever it points to.
func (fsys *FS) Remove(ctx context.Context, name string) error {
	if err := ctxErr(ctx, "remove", name); err != nil {
		return err
	}
	rel, err := fsys.rel("remove", name)
	if err != nil {
		return err
	}
	info, err := fsys.root.Lstat(rel)
	if err != nil {
		return fsys.wrap("remove", name, err)
	}
	if info.IsDir() {
		return &fs.PathError{Op: "remove", Path: name, Err: ftpserver.ErrIsDir}
	}
	if err := fsys.root.Remove(rel); err != nil {
		return fsys.wrap("remove", name, err)
	}
	return nil
}

// RemoveDir implements ftpserver.FileSystem.
func (fsys *FS) RemoveDir(ctx context.Context, name string) error {
	if err := ctxErr(ctx, "rmdir", name); err != nil {
		return err
	}
	rel, err := fsys.rel("rmdir", name)
	if err != nil {
		return err
	}
	if rel == "." {
		return &fs.PathError{Op: "rmdir", Path: name, Err: fs.ErrPermission}
	}
	info, err := fsys.root.Lstat(rel)
	if err != nil {
		return fsys.wrap("rmdir", name, err)
	}
	if !info.IsDir() {
		return &fs.PathError{Op: "rmdir", Path: name, Err: ftpserver.ErrNotDir}
	}
	err = fsys.root.Remove(rel)
	if errors.Is(err, fs.ErrExist) { // ENOTEMPTY, or EEXIST on some systems
		// Empty to every client, it may hold a crashed upload's temporary
		// files: those go with it.
		if only, serr := fsys.removeStaleTemps(rel); serr == nil && only {
			err = fsys.root.Remove(rel)
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &fs.PathError{Op: "rmdir", Path: name, Err: ftpserver.ErrDirNotEmpty}
		}
		return fsys.wrap("rmdir", name, err)
	}
	return nil
}

// Rename implements ftpserver.FileSystem.
func (fsys *FS) Rename(ctx context.Context, from, to string) error {
	fail := func(err error) error {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if !validName(from) || !validName(to) {
		return fail(ftpserver.ErrInvalidName)
	}
	if from == "/" || to == "/" {
		return fail(fs.ErrPermission)
	}
	fromRel, toRel := from[1:], to[1:]
	src, err := fsys.root.Lstat(fromRel)
	if err != nil {
		return fail(fsys.cause(err))
	}
	if from == to {
		return nil
	}
	if strings.HasPrefix(to, from+"/") {
		return fail(fmt.Errorf("cannot move a directory into itself: %w", ftpserver.ErrInvalidName))
	}
	// rename(2) would replace an empty directory with a directory; the
	// contract only ever replaces files.
	if dst, err := fsys.root.Lstat(toRel); err == nil {
		if dst.IsDir() {
			return fail(ftpserver.ErrIsDir)
		}
		if src.IsDir() {
			return fail(ftpserver.ErrNotDir)
		}
	}
	if err := fsys.root.Rename(fromRel, toRel); err != nil {
		cause := fsys.cause(err)
		if errors.Is(cause, errInvalidArg) {
			// EINVAL: a directory into itself through a link.
			cause = &kindError{msg: "cannot move a directory into itself", err: cause, kind: ftpserver.ErrInvalidName}
		}
		return fail(cause)
	}
	return nil
}

// SetModTime implements ftpserver.FileSystem. The access time is left as
// it is.
func (fsys *FS) SetModTime(ctx context.Context, name string, mtime time.Time) error {
	if err := ctxErr(ctx, "chtimes", name); err != nil {
		return err
	}
	rel, err := fsys.rel("chtimes", name)
	if err != nil {
		return err
	}
	if err := fsys.root.Chtimes(rel, time.Time{}, mtime); err != nil {
		return fsys.wrap("chtimes", name, err)
	}
	return nil
}

// Chmod implements ftpserver.Chmoder.
func (fsys *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	if err := ctxErr(ctx, "chmod", name); err != nil {
		return err
	}
	rel, err := fsys.rel("chmod", name)
	if err != nil {
		return err
	}
	if err := fsys.root.Chmod(rel, mode.Perm()); err != nil {
		return fsys.wrap("chmod", name, err)
	}
	return nil
}

// AvailableSpace implements ftpserver.SpaceReporter: the bytes available to
// an unprivileged user on the file system holding name (or its directory).
func (fsys *FS) AvailableSpace(ctx context.Context, name string) (int64, error) {
	if err := ctxErr(ctx, "statfs", name); err != nil {
		return 0, err
	}
	rel, err := fsys.rel("statfs", name)
	if err != nil {
		return 0, err
	}
	info, err := fsys.root.Stat(rel)
	if err != nil {
		return 0, fsys.wrap("statfs", name, err)
	}
	if !info.IsDir() {
		rel = path.Dir(rel)
	}
	dir, err := fsys.openDir(rel)
	if err != nil {
		return 0, fsys.wrap("statfs", name, err)
	}
	defer dir.Close()
	avail, err := availableSpace(dir)
	if err != nil {
		return 0, fsys.wrap("statfs", name, err)
	}
	return avail, nil
}
