package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path"
	"strconv"
	"syscall"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Create implements ftpserver.FileSystem; the package documentation says
// what each WriteMode × UploadMode combination does.
func (fsys *FS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	if err := ctxErr(ctx, "create", name); err != nil {
		return nil, err
	}
	target, err := fsys.rel("create", name)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (ftpserver.FileWriter, error) {
		return nil, fsys.wrap("create", name, err)
	}
	if target == "." {
		return fail(ftpserver.ErrIsDir)
	}
	if opts.Mode == ftpserver.WriteAt && opts.Offset < 0 {
		return fail(fmt.Errorf("negative offset: %w", fs.ErrInvalid))
	}
	if opts.Exclusive {
		// Lstat: a dangling link occupies the name too.
		if _, err := fsys.root.Lstat(target); err == nil {
			return fail(fs.ErrExist)
		} else if !errors.Is(fsys.cause(err), fs.ErrNotExist) {
			return fail(err)
		}
	}
	existing, err := fsys.root.Stat(target)
	switch {
	case err == nil:
		if err := checkRegular(existing); err != nil {
			return fail(err)
		}
	case errors.Is(fsys.cause(err), fs.ErrNotExist):
		existing = nil
	default:
		return fail(err) // a link out of the root, for one
	}

	// Reduce the write mode to what it means for the file as it is now:
	// appending to nothing and writing at offset 0 are plain truncating
	// writes, and prefix is how much of the existing content is kept.
	mode := opts.Mode
	var prefix int64
	switch mode {
	case ftpserver.WriteAppend:
		if existing == nil || existing.Size() == 0 {
			mode = ftpserver.WriteTruncate
		} else {
			prefix = existing.Size()
		}
	case ftpserver.WriteAt:
		switch {
		case opts.Offset == 0:
			mode = ftpserver.WriteTruncate
		case existing == nil:
			return fail(fs.ErrNotExist)
		case opts.Offset > existing.Size():
			return fail(fmt.Errorf("offset %d beyond end of file: %w", opts.Offset, fs.ErrInvalid))
		default:
			prefix = opts.Offset
		}
	default:
		mode = ftpserver.WriteTruncate
	}

	// The directory is held open for the whole upload, so the temporary
	// file is found, published and removed in the directory where the
	// upload started even if that directory is renamed meanwhile.
	dir, err := fsys.root.OpenRoot(path.Dir(target))
	if err != nil {
		// OpenRoot says "not a directory" without an errno.
		if info, serr := fsys.root.Stat(path.Dir(target)); serr == nil && !info.IsDir() {
			err = fs.ErrNotExist
		}
		return fail(err)
	}
	w := &fileWriter{
		fsys: fsys, name: name, target: target, dir: dir, base: path.Base(target),
		upload: opts.Upload, exclusive: opts.Exclusive,
	}
	switch {
	case opts.Upload == ftpserver.UploadDirect:
		err = w.openTarget(mode, prefix)
	case opts.Upload == ftpserver.UploadAtomicResume && mode != ftpserver.WriteTruncate:
		err = w.openInPlace(mode, prefix)
	default:
		err = w.openTemp(existing, prefix)
	}
	if err != nil {
		dir.Close()
		return fail(err)
	}
	return w, nil
}

// fileWriter is an upload in progress, written either to a temporary file
// (temp set) or to the target itself.
type fileWriter struct {
	fsys   *FS
	name   string   // virtual path, for errors
	target string   // root-relative
	dir    *os.Root // the target's directory
	base   string   // the target's name in dir
	temp   string   // name of the temporary file in dir, "" when in place or unnamed
	// unnamed: the upload is staged in an unnamed file (O_TMPFILE), which
	// gets a name only when it is published.
	unnamed   bool
	dirFile   *os.File // dir opened as a file, for an unnamed upload's link and sync
	upload    ftpserver.UploadMode
	exclusive bool

	f        *os.File
	begin    int64 // in place: where the upload's data begins
	pos      int64 // offset of the next byte written
	cutAtEnd bool  // in place: drop what follows pos when the upload ends
	written  int64
	// unflushed is how much was written (ending at pos) since write-back
	// was last started (see wrote).
	unflushed int64
	done      bool
}

var _ io.ReaderFrom = (*fileWriter)(nil)

// openTarget opens the target for direct writing.
func (w *fileWriter) openTarget(mode ftpserver.WriteMode, prefix int64) error {
	// No O_TRUNC: the file is emptied once this upload holds its lock,
	// not under another upload's feet.
	flag := os.O_WRONLY | os.O_CREATE
	if w.exclusive {
		flag |= os.O_EXCL
	}
	f, err := w.fsys.root.OpenFile(w.target, flag, 0o666)
	if err != nil {
		return err
	}
	if err := w.start(f, mode, prefix); err != nil {
		f.Close()
		return err
	}
	return nil
}

// openInPlace opens the existing target to write after its prefix, which
// is cut off there only when the upload ends.
func (w *fileWriter) openInPlace(mode ftpserver.WriteMode, prefix int64) error {
	f, err := w.fsys.root.OpenFile(w.target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := w.start(f, mode, prefix); err != nil {
		f.Close()
		return err
	}
	w.cutAtEnd = mode == ftpserver.WriteAt
	return nil
}

// start checks the opened target, locks it against other uploads writing
// in place, and positions it for mode: at its end to append (wherever that
// is by now), at prefix otherwise. Direct writes empty the file, or cut it
// at an offset, at once; in place, cutAtEnd does it later.
func (w *fileWriter) start(f *os.File, mode ftpserver.WriteMode, prefix int64) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := checkRegular(info); err != nil {
		return err
	}
	if err := lockUpload(f); err != nil {
		return err
	}
	if mode != ftpserver.WriteAppend && w.upload == ftpserver.UploadDirect {
		if mode == ftpserver.WriteTruncate {
			prefix = 0
		}
		if err := f.Truncate(prefix); err != nil {
			return err
		}
	}
	whence := io.SeekStart
	if mode == ftpserver.WriteAppend {
		prefix, whence = 0, io.SeekEnd
	}
	pos, err := f.Seek(prefix, whence)
	if err != nil {
		return err
	}
	w.f, w.begin, w.pos = f, pos, pos
	return nil
}

// openTemp creates the temporary file beside the target and copies the
// first prefix bytes of the target into it.
func (w *fileWriter) openTemp(existing fs.FileInfo, prefix int64) error {
	d, err := w.dir.OpenFile(".", os.O_RDONLY|oDirectory, 0)
	if err != nil {
		return err
	}
	if f, err := openUnnamed(d); err == nil {
		// Locked for as long as this process has it open: a name it
		// gets on the way to the target (see publishUnnamed) is then
		// known to be a leftover once the lock is free (see
		// removeStale).
		lockUpload(f)
		w.f, w.unnamed, w.dirFile = f, true, d
		if err := w.fill(existing, prefix); err != nil {
			f.Close()
			d.Close()
			return err
		}
		return nil
	} else if d.Close(); !errors.Is(err, errNoUnnamed) {
		return err
	}
	var f *os.File
	var temp string
	for try := 0; ; try++ {
		temp = tempPrefix + strconv.FormatUint(rand.Uint64(), 36)
		var err error
		f, err = w.dir.OpenFile(temp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || try == 100 {
			return err
		}
	}
	lockUpload(f) // see openUnnamed's lock above
	w.f, w.temp = f, temp
	if err = w.fill(existing, prefix); err != nil {
		f.Close()
		w.dir.Remove(temp)
	}
	return err
}

func (w *fileWriter) fill(existing fs.FileInfo, prefix int64) error {
	if existing == nil {
		return nil
	}
	// The new version replaces the old one: keep its permissions.
	if err := w.f.Chmod(existing.Mode().Perm()); err != nil {
		return err
	}
	if prefix == 0 {
		return nil
	}
	src, err := w.fsys.root.OpenFile(w.target, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	if err := checkRegular(info); err != nil {
		return err
	}
	if info.Size() < prefix {
		return fmt.Errorf("offset %d beyond end of file: %w", prefix, fs.ErrInvalid)
	}
	// *os.File to *os.File: copy_file_range(2) where the kernel has it.
	n, err := io.CopyN(w.f, src, prefix)
	w.pos = n
	return err
}

// Write implements io.Writer.
func (w *fileWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, &fs.PathError{Op: "write", Path: w.name, Err: fs.ErrClosed}
	}
	n, err := w.f.Write(p)
	w.wrote(int64(n))
	if err != nil {
		return n, w.fsys.wrap("write", w.name, err)
	}
	return n, nil
}

// wrote accounts for n bytes written at pos and, every writebackEvery
// bytes, asks the kernel to start writing them to disk: the upload's
// data then goes out while the rest arrives, and the fsync before 226
// finds little left to do.
func (w *fileWriter) wrote(n int64) {
	w.pos += n
	w.written += n
	w.unflushed += n
	if w.unflushed >= writebackEvery {
		startWriteback(w.f, w.pos-w.unflushed, w.unflushed)
		w.unflushed = 0
	}
}

// writebackEvery is how much an upload writes between two starts of
// write-back: large enough for the disk to merge it into big requests,
// small enough that the fsync before 226 waits for little (on a link
// slower than the disk, at most this much is still to be written when the
// last byte arrives; bench/RESULTS.md run 19).
const writebackEvery = 2 << 20

// ReadFrom implements io.ReaderFrom by handing r to the *os.File, so that
// io.Copy from a TCP connection can use splice(2).
func (w *fileWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.done {
		return 0, &fs.PathError{Op: "write", Path: w.name, Err: fs.ErrClosed}
	}
	n, err := w.f.ReadFrom(r)
	w.wrote(n)
	if err != nil {
		if serr := sourceError(r, err); serr != nil {
			return n, serr
		}
		return n, w.fsys.wrap("write", w.name, err)
	}
	return n, nil
}

// Commit implements ftpserver.FileWriter. Its work is local: the context
// is not consulted.
func (w *fileWriter) Commit(context.Context) error {
	if w.done {
		return &fs.PathError{Op: "commit", Path: w.name, Err: fs.ErrClosed}
	}
	w.done = true
	if err := w.finish(true, ftpserver.AbortFailed); err != nil {
		return w.fsys.wrap("commit", w.name, err)
	}
	return nil
}

// Abort implements ftpserver.FileWriter. Its work is local: the context
// is not consulted.
func (w *fileWriter) Abort(_ context.Context, why ftpserver.AbortReason) error {
	if w.done {
		return nil
	}
	w.done = true
	if err := w.finish(false, why); err != nil {
		return w.fsys.wrap("abort", w.name, err)
	}
	return nil
}

// finish ends the upload: commit says whether it succeeded, why (when
// not) whether the client or the server ended it.
func (w *fileWriter) finish(commit bool, why ftpserver.AbortReason) error {
	defer w.dir.Close()
	f := w.f
	w.f = nil
	interrupted := !commit && why == ftpserver.AbortInterrupted
	if w.temp == "" && !w.unnamed {
		var err error
		switch {
		case !commit && !interrupted && w.upload != ftpserver.UploadDirect && w.written > 0:
			// Written in place and failed: drop this upload's data, so
			// the file is what it was up to where the upload began.
			err = f.Truncate(w.begin)
		case w.cutAtEnd && (commit || w.written > 0):
			err = f.Truncate(w.pos)
		}
		if commit && err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if commit && err == nil && w.upload == ftpserver.UploadDirect {
			// The file may be new: make its directory entry durable.
			err = w.syncDir()
		}
		return err
	}

	publish := commit || (interrupted && w.upload == ftpserver.UploadAtomicResume && w.written > 0)
	var err error
	if commit {
		err = f.Sync()
	}
	if w.unnamed {
		// Linked while open; closing an unpublished one frees it.
		defer w.dirFile.Close()
		if err == nil && publish {
			err = w.publishUnnamed(f)
		}
		f.Close()
		if err == nil && commit {
			err = syncDir(w.dirFile)
		}
		return err
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && publish {
		err = w.publish()
	}
	if err != nil || !publish {
		if rerr := w.dir.Remove(w.temp); err == nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
		return err
	}
	if commit {
		return w.syncDir()
	}
	return nil
}

// publish moves the temporary file to the target name.
func (w *fileWriter) publish() error {
	if !w.exclusive {
		return w.dir.Rename(w.temp, w.base)
	}
	// link(2) fails rather than replace a file created since Create.
	err := w.dir.Link(w.temp, w.base)
	switch {
	case err == nil:
		w.dir.Remove(w.temp) // the upload is in place; a failure only leaves a hidden file
		return nil
	case errors.Is(err, fs.ErrExist):
		return fs.ErrExist
	}
	// No hard links on this file system: check, then rename.
	if _, err := w.dir.Lstat(w.base); err == nil {
		return fs.ErrExist
	}
	return w.dir.Rename(w.temp, w.base)
}

// publishUnnamed gives the unnamed file f the target's name: directly
// for an exclusive upload (link fails rather than replace a file created
// since Create), else through a temporary name renamed over the target.
func (w *fileWriter) publishUnnamed(f *os.File) error {
	err := linkUnnamed(f, w.dirFile, w.base)
	if w.exclusive || !errors.Is(err, fs.ErrExist) {
		// Done, or failed; or exclusive, where an existing target is
		// the answer.
		return err
	}
	for try := 0; ; try++ {
		temp := tempPrefix + strconv.FormatUint(rand.Uint64(), 36)
		err := linkUnnamed(f, w.dirFile, temp)
		if err == nil {
			if err = w.dir.Rename(temp, w.base); err != nil {
				w.dir.Remove(temp)
			}
			return err
		}
		if !errors.Is(err, fs.ErrExist) || try == 100 {
			return err
		}
	}
}

// syncDir makes the target's directory entry durable.
func (w *fileWriter) syncDir() error {
	dir, err := w.dir.OpenFile(".", os.O_RDONLY|oDirectory, 0)
	if err != nil {
		return err
	}
	err = syncDir(dir)
	if cerr := dir.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes the entries of the open directory dir durable.
func syncDir(dir *os.File) error {
	err := dir.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		return nil // the file system cannot sync directories
	}
	return err
}

// sourceError returns err as a failure of the reader r when it can only
// have come from there: splice(2) reports the socket's errors as its own,
// and without this a client resetting its data connection would look like
// a storage failure. nil when err may be the file's.
func sourceError(r io.Reader, err error) error {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	conn, ok := r.(net.Conn)
	if !ok || !isSocketErrno(err) {
		return nil
	}
	return &net.OpError{Op: "read", Net: conn.LocalAddr().Network(), Source: conn.LocalAddr(), Addr: conn.RemoteAddr(), Err: innermost(err)}
}
