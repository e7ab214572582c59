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
			existing.data = existing.data[:prefix:prefix]
			existing.mtime = now
		}
		w.target, w.pos = existing, prefix
	case opts.Upload == ftpserver.UploadAtomicResume && mode != ftpserver.WriteTruncate:
		// The prefix is already in place: write after it, in the target.
		w.target, w.pos = existing, prefix
		w.cutAtEnd = mode == ftpserver.WriteAt
	default:
		if mode != ftpserver.WriteTruncate {
			w.buf = slices.Clone(existing.data[:prefix])
		}
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
	if w.target == nil {
		w.buf = append(w.buf, p...)
		w.written += int64(len(p))
		return len(p), nil
	}
	w.fsys.mu.Lock()
	defer w.fsys.mu.Unlock()
	t := w.target
	end := w.pos + int64(len(p))
	if end > int64(len(t.data)) {
		// Grow, zero-filling a gap left if the file shrank meanwhile.
		t.data = append(t.data, make([]byte, end-int64(len(t.data)))...)
	}
	copy(t.data[w.pos:], p)
	t.mtime = time.Now()
	w.pos = end
	w.written += int64(len(p))
	return len(p), nil
}

// Commit implements ftpserver.FileWriter.
func (w *writer) Commit() error {
	if w.done {
		return pathErr("commit", w.name, fs.ErrClosed)
	}
	w.done = true
	if w.target != nil {
		w.fsys.mu.Lock()
		defer w.fsys.mu.Unlock()
		if w.cutAtEnd {
			w.cut()
		}
		return nil
	}
	return w.install("commit")
}

// Abort implements ftpserver.FileWriter.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.target != nil {
		w.fsys.mu.Lock()
		defer w.fsys.mu.Unlock()
		if w.cutAtEnd && w.written > 0 {
			w.cut()
		}
		return nil
	}
	if w.upload == ftpserver.UploadAtomicResume && w.written > 0 {
		return w.install("abort")
	}
	w.buf = nil
	return nil
}

// cut drops the target's content after the last byte written. fsys.mu must
// be held.
func (w *writer) cut() {
	t := w.target
	if int64(len(t.data)) > w.pos {
		t.data = t.data[:w.pos:w.pos]
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
	dir, base, err := w.fsys.parentDir(w.parts)
	if err != nil {
		return pathErr(op, w.name, err)
	}
	perm := defaultFileMode
	if old, ok := dir.children[base]; ok {
		switch {
		case old.dir:
			return pathErr(op, w.name, ftpserver.ErrIsDir)
		case w.exclusive:
			return pathErr(op, w.name, fs.ErrExist)
		}
		perm = old.perm
	}
	now := time.Now()
	dir.children[base] = &node{perm: perm, mtime: now, data: data}
	dir.mtime = now
	return nil
}
