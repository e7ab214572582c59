package s3fs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Open implements ftpserver.FileSystem. The first ranged GET is made here,
// so a missing object or a directory fails at Open; its body is streamed
// to the reader. Once reading starts, up to Options.Concurrency more
// ranged GETs read ahead into pooled buffers and are delivered in order,
// so one download reaches the store's speed. Each range is
// Options.PartSize long, so one setting tunes both directions and a
// download holds at most PartSize x (Concurrency+1) bytes, as an upload
// does. Every range is pinned to the
// ETag of the first one: an object replaced mid-download fails the read
// with ErrChanged rather than mixing two versions.
func (f *FS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	key, err := f.fileKey(ctx, "open", name)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("negative offset: %w", fs.ErrInvalid)}
	}
	readCtx, cancel := context.WithCancel(ctx)
	r := &reader{f: f, name: name, key: key, ctx: readCtx, cancel: cancel, pos: offset}
	if err := r.first(ctx, offset); err != nil {
		cancel()
		return nil, err
	}
	return r, nil
}

// reader is a download in progress.
type reader struct {
	f         *FS
	name, key string
	ctx       context.Context // Open's; Close cancels it
	cancel    context.CancelFunc

	etag  string
	size  int64
	mtime time.Time
	pos   int64 // offset of the next byte to deliver

	body    io.ReadCloser // the first GET's response, until bodyEnd
	bodyEnd int64
	next    int64    // offset of the next range to request
	ahead   []*fetch // ranges requested, in order
	cur     *fetch   // the range being delivered
	err     error    // sticky
	closed  bool
}

// fetch is one read-ahead ranged GET of [start, end).
type fetch struct {
	start, end int64
	buf        chunkBuf
	err        error
	done       chan struct{}
}

// first makes the GET of the first range and learns the object's size and
// ETag from it.
func (r *reader) first(ctx context.Context, offset int64) error {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(offset, offset+r.f.store.opts.PartSize-1); err != nil {
		return &fs.PathError{Op: "open", Path: r.name, Err: err}
	}
	body, info, header, err := r.f.store.core.GetObject(r.ctx, r.f.bucket, r.key, opts)
	switch {
	case err == nil:
	case s3Code(err) == "InvalidRange":
		// At or past the end (an empty object has no byte 0): there is
		// nothing to read, if the object is there.
		return r.atEnd(ctx, offset)
	case notFound(err):
		return r.missing(ctx)
	default:
		return mapErr("open", r.name, err)
	}
	start, end, total, ok := parseContentRange(header.Get("Content-Range"))
	if !ok || start != offset {
		// A store that ignored the range sent the whole object.
		start, end, total = 0, info.Size, info.Size
		if offset > 0 {
			body.Close()
			return &fs.PathError{Op: "open", Path: r.name, Err: fmt.Errorf("store ignored the range %d-", offset)}
		}
	}
	r.etag, r.size, r.mtime = info.ETag, total, modTime(info.UserMetadata, info.LastModified)
	r.body, r.bodyEnd, r.next = body, end, end
	return nil
}

// Stat describes the object being read, as Open found it, so the server
// need not ask the store again for the size its 150 reply announces.
func (r *reader) Stat() (fs.FileInfo, error) {
	return &entry{name: baseName(r.name), size: r.size, mtime: r.mtime}, nil
}

// atEnd opens an empty reader at offset if the object exists.
func (r *reader) atEnd(ctx context.Context, offset int64) error {
	info, err := r.f.store.client.StatObject(ctx, r.f.bucket, r.key, minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return r.missing(ctx)
		}
		return mapErr("open", r.name, err)
	}
	r.etag, r.size, r.mtime = info.ETag, info.Size, modTime(info.UserMetadata, info.LastModified)
	r.next = max(offset, info.Size)
	return nil
}

// missing tells a directory from nothing at all.
func (r *reader) missing(ctx context.Context) error {
	isDir, err := r.f.anyUnder(ctx, r.key+"/")
	switch {
	case err != nil:
		return mapErr("open", r.name, err)
	case isDir:
		return &fs.PathError{Op: "open", Path: r.name, Err: ftpserver.ErrIsDir}
	}
	return &fs.PathError{Op: "open", Path: r.name, Err: fs.ErrNotExist}
}

// parseContentRange parses "bytes START-LAST/TOTAL" into [start, end) and
// the total size.
func parseContentRange(v string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	first, last, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err [3]error
	start, err[0] = strconv.ParseInt(first, 10, 64)
	end, err[1] = strconv.ParseInt(last, 10, 64)
	total, err[2] = strconv.ParseInt(size, 10, 64)
	if err[0] != nil || err[1] != nil || err[2] != nil || start < 0 || end < start || total <= end {
		return 0, 0, 0, false
	}
	return start, end + 1, total, true
}

// Read implements io.Reader.
func (r *reader) Read(p []byte) (int, error) {
	for {
		switch {
		case r.closed:
			return 0, &fs.PathError{Op: "read", Path: r.name, Err: fs.ErrClosed}
		case r.err != nil:
			return 0, r.err
		case r.pos >= r.size:
			return 0, io.EOF
		case len(p) == 0:
			return 0, nil
		case r.body != nil:
			return r.readBody(p)
		case r.cur == nil:
			r.readAhead()
			if len(r.ahead) == 0 {
				r.err = &fs.PathError{Op: "read", Path: r.name, Err: fmt.Errorf("nothing requested at %d of %d", r.pos, r.size)}
				continue
			}
			f := r.ahead[0]
			select {
			case <-f.done:
			case <-r.ctx.Done():
				r.err = &fs.PathError{Op: "read", Path: r.name, Err: r.ctx.Err()}
				continue
			}
			r.ahead = r.ahead[1:]
			r.cur = f
			if f.err != nil {
				r.err = f.err
				continue
			}
			r.readAhead()
		}
		if r.cur != nil {
			n, _ := r.cur.buf.Read(p)
			r.pos += int64(n)
			if r.pos >= r.cur.end {
				r.cur.buf.release()
				r.cur = nil
			}
			if n > 0 {
				return n, nil
			}
		}
	}
}

// readBody reads from the first GET's response.
func (r *reader) readBody(p []byte) (int, error) {
	if rest := r.bodyEnd - r.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	if r.pos >= r.bodyEnd {
		r.body.Close()
		r.body = nil
	} else if err == io.EOF {
		r.err = &fs.PathError{Op: "read", Path: r.name, Err: io.ErrUnexpectedEOF}
	} else if err != nil {
		r.err = mapErr("read", r.name, err)
	}
	if r.pos < r.size {
		// The read-ahead starts with the first read, not at Open, so a
		// transfer that never starts costs no more than one GET.
		r.readAhead()
	}
	if n == 0 && r.err != nil {
		return 0, r.err
	}
	return n, nil
}

// readAhead keeps Concurrency ranges requested beyond the one delivered.
func (r *reader) readAhead() {
	for len(r.ahead) < r.f.store.opts.Concurrency && r.next < r.size {
		f := &fetch{start: r.next, end: min(r.next+r.f.store.opts.PartSize, r.size), done: make(chan struct{})}
		r.next = f.end
		r.ahead = append(r.ahead, f)
		go r.get(f)
	}
}

// get runs one read-ahead GET, pinned to the ETag of the first.
func (r *reader) get(f *fetch) {
	defer close(f.done)
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(f.start, f.end-1); err != nil {
		f.err = &fs.PathError{Op: "read", Path: r.name, Err: err}
		return
	}
	if r.etag != "" {
		opts.SetMatchETag(r.etag)
	}
	body, _, header, err := r.f.store.core.GetObject(r.ctx, r.f.bucket, r.key, opts)
	if err != nil {
		f.err = mapPinnedErr("read", r.name, err)
		return
	}
	defer body.Close()
	if start, end, total, ok := parseContentRange(header.Get("Content-Range")); !ok || start != f.start || end != f.end || total != r.size {
		f.err = &fs.PathError{Op: "read", Path: r.name, Err: fmt.Errorf("%w: range %d-%d answered with %q", ErrChanged, f.start, f.end-1, header.Get("Content-Range"))}
		return
	}
	if err := f.buf.fill(body, f.end-f.start); err != nil {
		f.err = mapErr("read", r.name, err)
	}
}

// Close implements io.Closer: it cancels every request in flight and
// gives back the buffers.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.cancel()
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	for _, f := range r.ahead {
		<-f.done
		f.buf.release()
	}
	r.ahead = nil
	if r.cur != nil {
		r.cur.buf.release()
		r.cur = nil
	}
	return nil
}
