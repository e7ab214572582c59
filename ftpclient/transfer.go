package ftpclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ferry-ftp/ferry/ftp"
)

var errASCIIOffset = errors.New("ftpclient: an ASCII transfer cannot start at an offset")

// Retrieve downloads the file at path from offset (REST, when offset > 0)
// into w and returns the number of bytes written to w. The transfer is
// complete only when the error is nil: the server's final reply is
// checked. If the connection fails during a binary transfer, it is
// resumed once on another connection where it stopped.
func (c *Client) Retrieve(ctx context.Context, path string, offset int64, w io.Writer, opts ...TransferOption) (int64, error) {
	tc := c.transferOptions(opts)
	p, err := c.resolve("retrieve", path)
	if err != nil {
		return 0, err
	}
	if tc.ascii && offset != 0 {
		return 0, opError("retrieve", p, errASCIIOffset)
	}
	var total int64
	err = c.run(ctx, "retrieve", p, true, func(cn *conn) error {
		n, err := cn.retrieve(ctx, p, offset+total, w, tc)
		total += n
		if n > 0 && tc.ascii {
			cn.committed = true // text cannot be resumed: REST counts wire bytes
		}
		return err
	})
	return total, err
}

func (cn *conn) retrieve(ctx context.Context, p string, offset int64, w io.Writer, tc transferConfig) (int64, error) {
	if err := cn.setType(tc.ascii); err != nil {
		return 0, err
	}
	mode, err := cn.setMode(tc.block, tc.compress)
	if err != nil {
		return 0, err
	}
	d, err := cn.openTransfer(ctx, "RETR "+p, offset, false)
	if err != nil {
		return 0, err
	}
	src, release := inflater(d, mode == 'Z')
	defer release()
	ka := cn.startKeepAlive()
	cw := &countWriter{w: w}
	var dst io.Writer = cw
	var lf *ftp.LFWriter
	if tc.ascii {
		lf = ftp.NewLFWriter(cw)
		dst = lf
	}
	if mode == 'B' {
		src = blockDownload(d, tc.marks, offset, func() int64 { return cw.n })
	}
	_, readErr, writeErr := copyData(dst, src)
	if readErr == nil && writeErr == nil && lf != nil {
		writeErr = lf.Flush()
	}
	pending := ka.stop()
	switch {
	case writeErr != nil:
		// Our side failed: stop the server, keep the connection.
		cn.abortTransfer(d, pending)
		return cw.n, writeErr
	case readErr != nil:
		d.reset()
		if err := cn.finishTransfer(pending); err != nil {
			return cw.n, err // the server's account of what went wrong
		}
		return cw.n, fmt.Errorf("%w: %w", errDataConn, readErr)
	}
	d.close()
	return cw.n, cn.finishTransfer(pending)
}

// Open starts downloading the file at path from offset and returns its
// content as a stream. Reading it to the end checks the server's final
// reply: a transfer that failed ends with an error, not io.EOF. Closing it
// before the end aborts the transfer (ABOR). The context applies until
// Close. The connection stays taken from the pool until the end of the
// data or Close, whichever comes first, so Close must be called, and at
// most WithPoolSize readers can be open at once (a further Open waits for
// one). Read and Close must not be called concurrently; cancel the
// context to interrupt a Read.
func (c *Client) Open(ctx context.Context, path string, offset int64, opts ...TransferOption) (io.ReadCloser, error) {
	tc := c.transferOptions(opts)
	p, err := c.resolve("open", path)
	if err != nil {
		return nil, err
	}
	if tc.ascii && offset != 0 {
		return nil, opError("open", p, errASCIIOffset)
	}
	var rd *reader
	err = c.runKeep(ctx, "open", p, true, func(cn *conn) (bool, error) {
		if err := cn.setType(tc.ascii); err != nil {
			return false, err
		}
		mode, err := cn.setMode(tc.block, tc.compress)
		if err != nil {
			return false, err
		}
		d, err := cn.openTransfer(ctx, "RETR "+p, offset, false)
		if err != nil {
			return false, err
		}
		rd = &reader{ctx: ctx, c: c, cn: cn, d: d, path: p, ka: cn.startKeepAlive()}
		rd.src, rd.release = inflater(d, mode == 'Z')
		if mode == 'B' {
			rd.src = blockDownload(d, tc.marks, offset, func() int64 { return rd.n })
		}
		if tc.ascii {
			rd.lf = ftp.NewLFWriter(&rd.text)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return rd, nil
}

// reader is the stream returned by Open.
type reader struct {
	ctx  context.Context
	c    *Client
	cn   *conn // nil once given back
	d    *dataConn
	n    int64 // bytes given to the caller
	ka   *keepAlive
	path string
	err  error // sticky: io.EOF or the failure

	src     io.Reader // d, or its MODE Z or MODE B decoder
	release func()    // gives back what src holds

	lf   *ftp.LFWriter // ASCII: converts into text
	text bytes.Buffer
	buf  []byte
}

func (r *reader) Read(p []byte) (int, error) {
	if r.lf != nil {
		return r.readText(p)
	}
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.src.Read(p)
	r.n += int64(n)
	if err != nil {
		r.end(err)
		if n == 0 {
			return 0, r.err
		}
	}
	return n, nil
}

// readText serves an ASCII transfer: wire text is converted into r.text.
func (r *reader) readText(p []byte) (int, error) {
	for r.text.Len() == 0 && r.err == nil {
		if r.buf == nil {
			r.buf = make([]byte, 32<<10)
		}
		n, err := r.src.Read(r.buf)
		r.lf.Write(r.buf[:n]) // into a bytes.Buffer: cannot fail
		if err != nil {
			if errors.Is(err, io.EOF) {
				r.lf.Flush()
			}
			r.end(err)
		}
	}
	if r.text.Len() > 0 {
		n, err := r.text.Read(p)
		r.n += int64(n)
		return n, err
	}
	return 0, r.err
}

// end finishes the transfer after the data connection returned err (io.EOF
// at the normal end) and gives the connection back.
func (r *reader) end(err error) {
	r.release()
	pending := r.ka.stop()
	if errors.Is(err, io.EOF) {
		r.d.close()
		r.err = r.cn.finishTransfer(pending)
	} else {
		r.d.reset()
		r.err = r.cn.finishTransfer(pending)
		if r.err == nil {
			r.err = fmt.Errorf("%w: %w", errDataConn, err)
		}
	}
	if cause := context.Cause(r.ctx); cause != nil && r.err != nil {
		r.err = cause
	}
	if r.err == nil {
		r.err = io.EOF
	} else {
		r.err = opError("retrieve", r.path, r.err)
	}
	r.c.release(r.cn)
	r.cn = nil
}

// Close aborts the transfer if it has not reached its end and gives the
// connection back to the pool.
func (r *reader) Close() error {
	if r.cn == nil {
		return nil
	}
	cn := r.cn
	r.cn = nil
	if r.err == nil {
		r.err = errors.New("ftpclient: read after Close")
	}
	err := cn.abortTransfer(r.d, r.ka.stop())
	r.release()
	r.c.release(cn)
	if err != nil && cn.broken.Load() {
		return opError("abort", r.path, err)
	}
	return nil
}

// Store uploads r to path: STOR, or REST offset and STOR when offset > 0
// (r must then yield the file's content from that offset on). It returns
// the number of bytes read from r. The upload is complete only when the
// error is nil; when r fails, the transfer is aborted so that the server
// does not keep a partial file as if it were complete.
func (c *Client) Store(ctx context.Context, path string, r io.Reader, offset int64, opts ...TransferOption) (int64, error) {
	return c.upload(ctx, "store", "STOR", path, r, offset, opts)
}

// Append uploads r to the end of the file at path (APPE), creating it if
// needed. It returns the number of bytes read from r.
func (c *Client) Append(ctx context.Context, path string, r io.Reader, opts ...TransferOption) (int64, error) {
	return c.upload(ctx, "append", "APPE", path, r, 0, opts)
}

func (c *Client) upload(ctx context.Context, op, verb, path string, r io.Reader, offset int64, opts []TransferOption) (int64, error) {
	tc := c.transferOptions(opts)
	p, err := c.resolve(op, path)
	if err != nil {
		return 0, err
	}
	if tc.ascii && offset != 0 {
		return 0, opError(op, p, errASCIIOffset)
	}
	var n int64
	err = c.run(ctx, op, p, false, func(cn *conn) error {
		var err error
		n, err = cn.upload(ctx, verb, p, r, offset, tc)
		return err
	})
	return n, err
}

func (cn *conn) upload(ctx context.Context, verb, p string, r io.Reader, offset int64, tc transferConfig) (int64, error) {
	if err := cn.setType(tc.ascii); err != nil {
		return 0, err
	}
	mode, err := cn.setMode(tc.block, tc.compress)
	if err != nil {
		return 0, err
	}
	d, err := cn.openTransfer(ctx, verb+" "+p, offset, true)
	if err != nil {
		return 0, err
	}
	ka := cn.startKeepAlive()
	dst, finish, release := deflater(d, mode == 'Z')
	defer release()
	var bw *ftp.BlockWriter
	if mode == 'B' {
		bw = ftp.NewBlockWriter(d)
		dst, finish = bw, bw.Close
	}
	if tc.ascii {
		dst = ftp.NewCRLFWriter(dst)
	}
	if bw != nil && tc.marks != nil {
		// Our markers are offsets in r's data; the server's 110 replies
		// to them, read with the transfer's other replies, are recorded.
		dst = bw.MarkAt(dst, offset, tc.marks.schedule())
		cn.marks = tc.marks
		defer func() { cn.marks = nil }()
	}
	n, readErr, writeErr := copyData(dst, r)
	if readErr == nil && writeErr == nil {
		// Only a complete upload gets its end (MODE B's EOF block: without
		// it the server takes the file as cut short, whatever else happens).
		writeErr = finish()
	}
	pending := ka.stop()
	if readErr != nil || writeErr != nil {
		abortErr := cn.abortTransfer(d, pending)
		switch {
		case readErr != nil:
			return n, readErr
		case abortErr != nil:
			return n, abortErr // the server's reason, such as 552
		}
		return n, fmt.Errorf("%w: %w", errDataConn, writeErr)
	}
	if err := d.closeUpload(); err != nil {
		// The data may still have arrived; the final reply says.
		cn.c.log.Debug("closing the data connection", "err", err)
	}
	return n, cn.finishTransfer(pending)
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// copyData copies src to dst until EOF and tells a failure to read from
// one from a failure to write to the other. It returns the bytes read.
func copyData(dst io.Writer, src io.Reader) (n int64, readErr, writeErr error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		nr, err := src.Read(buf)
		if nr > 0 {
			n += int64(nr)
			nw, werr := dst.Write(buf[:nr])
			if werr == nil && nw < nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return n, nil, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (cw *countWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n += int64(n)
	return n, err
}
