// Package quotafs enforces a user's quota (bytes and files) over any
// ftpserver.FileSystem. The usage lives in a Ledger: in memory for a users
// file on one node, a database row for a cluster, where the row's update is
// the one point that serialises the uploads of every node.
//
// An upload is counted when it ends, not while it runs: Commit first asks
// the ledger to add the upload's growth (refused with ftpserver.ErrQuota
// when it would pass a limit, changing nothing), then publishes it; if
// publishing fails the growth is given back. While the data flows, the
// writer refuses early once the upload alone would pass the byte limit as
// last read, so a client does not send gigabytes only to be refused at the
// end.
package quotafs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Limits of a user; 0 means no limit.
type Limits struct {
	Bytes int64
	Files int64
}

// Usage is what a user's files take.
type Usage struct {
	Bytes int64
	Files int64
}

// Ledger keeps one user's usage. Its methods are safe for concurrent use.
type Ledger interface {
	// Read returns the current limits and usage.
	Read(ctx context.Context) (Limits, Usage, error)
	// Apply adds the deltas to the usage in one atomic step. With enforce
	// set, a positive delta that would take the usage past a limit
	// changes nothing and returns an error wrapping ftpserver.ErrQuota. A
	// delta that is not positive is never refused, so a user over a
	// lowered quota can still shrink or delete files.
	Apply(ctx context.Context, deltaBytes, deltaFiles int64, enforce bool) error
}

// Exceeds reports whether adding the deltas to u passes l, counting only
// positive deltas, as Ledger.Apply does with enforce.
func Exceeds(l Limits, u Usage, deltaBytes, deltaFiles int64) bool {
	return (deltaBytes > 0 && l.Bytes > 0 && u.Bytes+deltaBytes > l.Bytes) ||
		(deltaFiles > 0 && l.Files > 0 && u.Files+deltaFiles > l.Files)
}

// FS is a FileSystem that counts what its user stores in a Ledger.
type FS struct {
	inner  ftpserver.FileSystem
	ledger Ledger
}

// New wraps inner so that uploads, deletes and renames keep ledger's usage
// exact and uploads past its limits are refused with ftpserver.ErrQuota.
// It passes Chmoder and Hasher through and reports the remaining quota as
// AVBL (ftpserver.SpaceReporter). Uploads keep the backend's
// ftpserver.Syncer; hard links are not offered (see sync.go).
func New(inner ftpserver.FileSystem, ledger Ledger) *FS {
	return &FS{inner: inner, ledger: ledger}
}

// Inner is the wrapped file system.
func (q *FS) Inner() ftpserver.FileSystem { return q.inner }

func (q *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	return q.inner.Stat(ctx, name)
}

func (q *FS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	return q.inner.Open(ctx, name, offset)
}

func (q *FS) List(ctx context.Context, name string) (ftpserver.DirLister, error) {
	return q.inner.List(ctx, name)
}

func (q *FS) Mkdir(ctx context.Context, name string) error { return q.inner.Mkdir(ctx, name) }

// RemoveDir counts nothing: only empty directories are removed, and
// directories (or an object store's markers) are not files.
func (q *FS) RemoveDir(ctx context.Context, name string) error {
	return q.inner.RemoveDir(ctx, name)
}

func (q *FS) SetModTime(ctx context.Context, name string, mtime time.Time) error {
	return q.inner.SetModTime(ctx, name, mtime)
}

// regularSize returns the size of name if it is a file, and whether it is.
func (q *FS) regularSize(ctx context.Context, name string) (int64, bool) {
	info, err := q.inner.Stat(ctx, name)
	if err != nil || info.IsDir() {
		return 0, false
	}
	return info.Size(), true
}

// give returns space to the ledger. It never refuses; a ledger that
// cannot be reached leaves the usage too high, which errs on the side of
// the quota, and the caller's operation has already happened.
func (q *FS) give(ctx context.Context, deltaBytes, deltaFiles int64) error {
	if deltaBytes == 0 && deltaFiles == 0 {
		return nil
	}
	if err := q.ledger.Apply(context.WithoutCancel(ctx), deltaBytes, deltaFiles, false); err != nil {
		return fmt.Errorf("quota: recording usage: %w", err)
	}
	return nil
}

// Remove frees the file's size and one file.
func (q *FS) Remove(ctx context.Context, name string) error {
	size, isFile := q.regularSize(ctx, name)
	if err := q.inner.Remove(ctx, name); err != nil {
		return err
	}
	if !isFile {
		return nil
	}
	return q.give(ctx, -size, -1)
}

// Rename frees the file it replaces, if any.
func (q *FS) Rename(ctx context.Context, from, to string) error {
	size, replaces := q.regularSize(ctx, to)
	if from == to {
		replaces = false // a file renamed onto itself replaces nothing
	}
	if err := q.inner.Rename(ctx, from, to); err != nil {
		return err
	}
	if !replaces {
		return nil
	}
	return q.give(ctx, -size, -1)
}

// AvailableSpace is the smaller of the bytes left in the quota and what
// the inner file system reports free.
func (q *FS) AvailableSpace(ctx context.Context, name string) (int64, error) {
	limits, usage, err := q.ledger.Read(ctx)
	if err != nil {
		return 0, fmt.Errorf("quota: %w", err)
	}
	left := int64(math.MaxInt64)
	if limits.Bytes > 0 {
		left = max(limits.Bytes-usage.Bytes, 0)
	}
	if sr, ok := q.inner.(ftpserver.SpaceReporter); ok {
		free, err := sr.AvailableSpace(ctx, name)
		if err != nil {
			return 0, err
		}
		left = min(left, free)
	} else if limits.Bytes == 0 {
		return 0, ftpserver.ErrNotSupported
	}
	return left, nil
}

// Chmod passes SITE CHMOD through when the inner file system has it.
func (q *FS) Chmod(ctx context.Context, name string, mode fs.FileMode) error {
	ch, ok := q.inner.(ftpserver.Chmoder)
	if !ok {
		return ftpserver.ErrNotSupported
	}
	return ch.Chmod(ctx, name, mode)
}

// Hash passes stored checksums through; without them the server hashes
// the content itself.
func (q *FS) Hash(ctx context.Context, name, algo string, start, end int64) ([]byte, error) {
	h, ok := q.inner.(ftpserver.Hasher)
	if !ok {
		return nil, ftpserver.ErrNotSupported
	}
	return h.Hash(ctx, name, algo, start, end)
}

// Close closes the inner file system if it holds something open.
func (q *FS) Close() error {
	if c, ok := q.inner.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Create starts a counted upload.
func (q *FS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	oldSize, existed := q.regularSize(ctx, name)
	limits, usage, err := q.ledger.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("quota: %w", err)
	}
	if !existed && Exceeds(limits, usage, 0, 1) {
		return nil, fmt.Errorf("%s: %w", name, ftpserver.ErrQuota)
	}
	var prefix int64 // what the finished file keeps of the old one
	switch opts.Mode {
	case ftpserver.WriteAppend:
		prefix = oldSize
	case ftpserver.WriteAt:
		prefix = min(opts.Offset, oldSize)
	}
	inner, err := q.inner.Create(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	w := &writer{q: q, inner: inner, name: name, oldSize: oldSize, existed: existed, size: prefix}
	// The early refusal: how many more bytes the file may grow by before
	// the upload alone passes the byte limit as read now.
	w.room = math.MaxInt64
	if limits.Bytes > 0 {
		w.room = max(limits.Bytes-usage.Bytes+oldSize-prefix, 0)
	}
	if _, ok := inner.(io.ReaderFrom); ok {
		return &readFromWriter{w}, nil
	}
	return w, nil
}

// writer counts an upload's bytes.
type writer struct {
	q       *FS
	inner   ftpserver.FileWriter
	name    string
	oldSize int64
	existed bool
	size    int64 // the file's size if committed now
	written int64
	room    int64 // bytes the upload may write before it is refused early
}

var errQuotaEarly = fmt.Errorf("upload passes the byte quota: %w", ftpserver.ErrQuota)

func (w *writer) Write(p []byte) (int, error) {
	if int64(len(p)) > w.room-w.written {
		return 0, errQuotaEarly
	}
	n, err := w.inner.Write(p)
	w.written += int64(n)
	w.size += int64(n)
	return n, err
}

// Commit records the upload's growth in the ledger, refused when it
// passes the quota, and only then publishes the file; a failed publish
// gives the growth back.
func (w *writer) Commit(ctx context.Context) error {
	deltaFiles := int64(0)
	if !w.existed {
		deltaFiles = 1
	}
	deltaBytes := w.size - w.oldSize
	if err := w.q.ledger.Apply(ctx, deltaBytes, deltaFiles, true); err != nil {
		if errors.Is(err, ftpserver.ErrQuota) {
			err = fmt.Errorf("%s: %w", w.name, err)
		} else {
			err = fmt.Errorf("quota: recording usage: %w", err)
		}
		return errors.Join(err, w.inner.Abort(context.WithoutCancel(ctx), ftpserver.AbortFailed))
	}
	if err := w.inner.Commit(ctx); err != nil {
		return errors.Join(err, w.q.give(ctx, -deltaBytes, -deltaFiles))
	}
	return nil
}

// Abort counts what an interrupted upload published (the data that
// arrived, in UploadAtomicResume). That is recorded without enforcing:
// the data is already visible, and refusing to count it would only make
// the usage wrong. What the backend published is read back rather than
// guessed, since only it knows what its mode keeps.
func (w *writer) Abort(ctx context.Context, why ftpserver.AbortReason) error {
	err := w.inner.Abort(ctx, why)
	if why != ftpserver.AbortInterrupted {
		return err
	}
	size, exists := w.q.regularSize(context.WithoutCancel(ctx), w.name)
	var deltaBytes, deltaFiles int64
	switch {
	case exists && w.existed:
		deltaBytes = size - w.oldSize
	case exists:
		deltaBytes, deltaFiles = size, 1
	case w.existed:
		deltaBytes, deltaFiles = -w.oldSize, -1
	}
	return errors.Join(err, w.q.give(ctx, deltaBytes, deltaFiles))
}

// readFromWriter keeps the inner writer's ReadFrom (splice(2) on local
// disk): the data connection is handed on behind an io.LimitedReader,
// which os.File.ReadFrom still splices from.
type readFromWriter struct{ *writer }

func (w *readFromWriter) ReadFrom(r io.Reader) (int64, error) {
	left := w.room - w.written
	// One byte more than the room tells "exactly full" from "too much".
	allow := left
	if allow < math.MaxInt64 {
		allow++
	}
	// The server hands a LimitedReader over the connection; splice sees
	// through one level only, so tighten a copy of it rather than wrap it.
	src := r
	outer, isLimited := r.(*io.LimitedReader)
	if isLimited {
		src = &io.LimitedReader{R: outer.R, N: min(outer.N, allow)}
	} else if allow < math.MaxInt64 {
		src = &io.LimitedReader{R: r, N: allow}
	}
	n, err := w.inner.(io.ReaderFrom).ReadFrom(src)
	if isLimited {
		outer.N -= n
	}
	w.written += n
	w.size += n
	if err == nil && n > left {
		return n, errQuotaEarly
	}
	return n, err
}
