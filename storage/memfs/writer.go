package memfs

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Create implements ftpserver.FileSystem; the package documentation says
// what each WriteMode × UploadMode combination does.
func (fsys *FS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	parts, err := resolve(ctx, "create", name)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, pathErr("create", name, ftpserver.ErrIsDir)
	}
	if opts.Mode == ftpserver.WriteAt && opts.Offset < 0 {
		return nil, pathErr("create", name, fmt.Errorf("negative offset: %w", fs.ErrInvalid))
	}

	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	dir, base, err := fsys.parentDir(parts)
	if err != nil {
		return nil, pathErr("create", name, err)
	}
	existing := dir.children[base]
	if existing != nil && existing.dir {
		return nil, pathErr("create", name, ftpserver.ErrIsDir)
	}
	if existing != nil && opts.Exclusive {
		return nil, pathErr("create", name, fs.ErrExist)
	}

	// Reduce the write mode to what it means for the file as it is now:
	// appending to nothing and writing at offset 0 are plain truncating
	// writes, and prefix is how much of the existing content is kept.
	mode := opts.Mode
	var prefix int64
	switch mode {
	case ftpserver.WriteAppend:
		if existing == nil || len(existing.data) == 0 {
			mode = ftpserver.WriteTruncate
		} else {
			prefix = int64(len(existing.data))
		}
	case ftpserver.WriteAt:
		switch {
		case opts.Offset == 0:
			mode = ftpserver.WriteTruncate
		case existing == nil:
			return nil, pathErr("create", name, fs.ErrNotExist)
		case opts.Offset > int64(len(existing.data)):
			return nil, pathErr("create", name, fmt.Errorf("offset %d beyond end of file: %w", opts.Offset, fs.ErrInvalid))
		default:
			prefix = opts.Offset
		}
	default:
		mode = ftpserver.WriteTruncate
	}

	inPlace := opts.Upload == ftpserver.UploadDirect ||
		opts.Upload == ftpserver.UploadAtomicResume && mode != ftpserver.WriteTruncate
	if inPlace && existing != nil && existing.writer {
		return nil, pathErr("create", name, ftpserver.ErrBusy)
	}
	w := &writer{fsys: fsys, name: name, parts: parts, upload: opts.Upload, exclusive: opts.Exclusive}
	switch {
	case opts.Upload == ftpserver.UploadDirect:
		now := time.Now()
		if existing == nil {
			existing = &node{perm: defaultFileMode, mtime: now}
			dir.children[base] = existing
			dir.mtime = now
		}
		if len(existing.data) != int(prefix) {
			fsys.used -= int64(len(existing.data)) - prefix
			existing.data = existing.data[:prefix:prefix]
			existing.mtime = now
		}
		w.target, w.pos, w.begin = existing, prefix, prefix
	case opts.Upload == ftpserver.UploadAtomicResume && mode != ftpserver.WriteTruncate:
		// The prefix is already in place: write after it, in the target.
		w.target, w.pos, w.begin = existing, prefix, prefix
		w.cutAtEnd = mode == ftpserver.WriteAt
	default:
		if mode != ftpserver.WriteTruncate {
			// A copy of the prefix takes space, as a temporary file does.
			if err := fsys.reserve(prefix); err != nil {
				return nil, pathErr("create", name, err)
			}
			w.buf = slices.Clone(existing.data[:prefix])
		}
	}
	if w.target != nil {
		w.target.writer = true
	}
	return w, nil
}

// writer is an upload in progress. With target set it writes into that node
// in place; otherwise it buffers and installs the buffer at the end.
type writer struct {
	fsys      *FS
	name      string
	parts     []string
	upload    ftpserver.UploadMode
	exclusive bool

	target   *node
	begin    int64 // in place: where the upload's data begins
	pos      int64 // where the next in-place write goes
	cutAtEnd bool  // in place: drop what follows pos when the upload ends

	buf []byte

	written int64
	done    bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, pathErr("write", w.name, fs.ErrClosed)
	}
	w.fsys.mu.Lock()
	defer w.fsys.mu.Unlock()
	if w.target == nil {
		if err := w.fsys.reserve(int64(len(p))); err != nil {
			return 0, pathErr("write", w.name, err)
		}
		w.buf = append(w.buf, p...)
		w.written += int64(len(p))
		return len(p), nil
	}
	t := w.target
	end := w.pos + int64(len(p))
	if grow := end - int64(len(t.data)); grow > 0 {
		if err := w.fsys.reserve(grow); err != nil {
			return 0, pathErr("write", w.name, err)
		}
		// Grow, zero-filling a gap left if the file shrank meanwhile.
		t.data = append(t.data, make([]byte, grow)...)
	}
	copy(t.data[w.pos:], p)
	t.mtime = time.Now()
	w.pos = end
	w.written += int64(len(p))
	return len(p), nil
}

// Commit implements ftpserver.FileWriter. Memory needs no context.
func (w *writer) Commit(context.Context) error {
	if w.done {
		return pathErr("commit", w.name, fs.ErrClosed)
	}
	w.done = true
	if w.target != nil {
		w.fsys.mu.Lock()
		defer w.fsys.mu.Unlock()
		w.target.writer = false
		if w.cutAtEnd {
			w.cut()
		}
		return nil
	}
	return w.install("commit")
}

// Abort implements ftpserver.FileWriter. Memory needs no context.
func (w *writer) Abort(_ context.Context, why ftpserver.AbortReason) error {
	if w.done {
		return nil
	}
	w.done = true
	interrupted := why == ftpserver.AbortInterrupted
	if w.target != nil {
		w.fsys.mu.Lock()
		defer w.fsys.mu.Unlock()
		w.target.writer = false
		switch {
		case !interrupted && w.upload != ftpserver.UploadDirect && w.written > 0:
			w.cutAt(w.begin) // failed in place: drop this upload's data
		case w.cutAtEnd && w.written > 0:
			w.cutAt(w.pos)
		}
		return nil
	}
	if interrupted && w.upload == ftpserver.UploadAtomicResume && w.written > 0 {
		return w.install("abort")
	}
	w.fsys.mu.Lock()
	defer w.fsys.mu.Unlock()
	w.fsys.used -= int64(len(w.buf))
	w.buf = nil
	return nil
}

// cut drops the target's content after the last byte written. fsys.mu must
// be held.
func (w *writer) cut() { w.cutAt(w.pos) }

// cutAt drops the target's content after n bytes. fsys.mu must be held.
func (w *writer) cutAt(n int64) {
	t := w.target
	if int64(len(t.data)) > n {
		w.fsys.used -= int64(len(t.data)) - n
		t.data = t.data[:n:n]
		t.mtime = time.Now()
	}
}

// install puts the buffer at the target name as a new file, as a rename of
// a temporary file would.
func (w *writer) install(op string) error {
	data := w.buf
	w.buf = nil
	w.fsys.mu.Lock()
	defer w.fsys.mu.Unlock()
	fail := func(err error) error {
		w.fsys.used -= int64(len(data)) // the buffer is dropped
		return pathErr(op, w.name, err)
	}
	dir, base, err := w.fsys.parentDir(w.parts)
	if err != nil {
		return fail(err)
	}
	perm := defaultFileMode
	if old, ok := dir.children[base]; ok {
		switch {
		case old.dir:
			return fail(ftpserver.ErrIsDir)
		case w.exclusive:
			return fail(fs.ErrExist)
		}
		perm = old.perm
		w.fsys.dropName(old)
	}
	now := time.Now()
	dir.children[base] = &node{perm: perm, mtime: now, data: data}
	dir.mtime = now
	return nil
}
