package ftp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"

	// klauspost/compress rather than compress/zlib: same format and API,
	// markedly faster compression at the default level on text, which is
	// what MODE Z is used for (bench: BenchmarkDeflate in deflate_test.go;
	// figures in bench/RESULTS.md).
	"github.com/klauspost/compress/zlib"
)

// MODE Z (draft-preston-ftpext-deflate) sends the data as one zlib stream
// (RFC 1950: a deflate stream with a two-byte header and an Adler-32
// trailer), which is what lftp, FileZilla and ProFTPD's mod_deflate speak.
// The stream ends where the file does; the data connection closes after
// it.

// ErrBadDeflate reports a MODE Z stream that is not valid zlib data, ends
// before its end, or is followed by more data.
var ErrBadDeflate = errors.New("corrupt MODE Z (deflate) stream")

// Deflate levels as OPTS MODE Z LEVEL takes them.
const (
	MinDeflateLevel     = 0 // stored blocks: framing only
	MaxDeflateLevel     = 9
	DefaultDeflateLevel = 6 // zlib's default, as lftp and ProFTPD use
)

// Compressor state is large (hundreds of KiB); it is pooled per level so
// that a transfer takes one and gives it back, and a session between
// transfers holds none.
var (
	deflaters [MaxDeflateLevel + 1]sync.Pool
	inflaters sync.Pool
)

// DeflateWriter compresses what is written to it into a MODE Z stream.
type DeflateWriter struct {
	zw    *zlib.Writer
	level int
}

// NewDeflateWriter returns a writer of a MODE Z stream to w at level
// (MinDeflateLevel to MaxDeflateLevel; others mean the default). Close
// ends the stream; Release gives the compressor back, whether or not the
// stream was ended.
func NewDeflateWriter(w io.Writer, level int) *DeflateWriter {
	if level < MinDeflateLevel || level > MaxDeflateLevel {
		level = DefaultDeflateLevel
	}
	if zw, ok := deflaters[level].Get().(*zlib.Writer); ok {
		zw.Reset(w)
		return &DeflateWriter{zw: zw, level: level}
	}
	zw, err := zlib.NewWriterLevel(w, level)
	if err != nil {
		panic(err) // unreachable: the level was checked above
	}
	return &DeflateWriter{zw: zw, level: level}
}

func (d *DeflateWriter) Write(p []byte) (int, error) { return d.zw.Write(p) }

// Close writes the end of the stream; it does not close the underlying
// writer.
func (d *DeflateWriter) Close() error { return d.zw.Close() }

// Release gives the compressor back to the pool; d is unusable after.
func (d *DeflateWriter) Release() {
	if d.zw == nil {
		return
	}
	d.zw.Reset(io.Discard) // drop the reference to the connection
	deflaters[d.level].Put(d.zw)
	d.zw = nil
}

// DeflateReader decompresses a MODE Z stream. It returns io.EOF at the end
// of the stream, an error wrapping ErrBadDeflate for bad data, and the
// underlying reader's own errors unchanged, so a broken connection can be
// told from a broken stream.
type DeflateReader struct {
	src sourceReader
	// br is ours rather than one the decompressor would put in front of
	// src by itself, so that what it read past the end of the stream
	// stays visible; a *bufio.Reader is also what the decompressor reads
	// fastest from.
	br  *bufio.Reader
	zr  io.ReadCloser
	err error // sticky
}

// sourceReader remembers the underlying reader's errors, to tell them from
// the decompressor's own.
type sourceReader struct {
	r    io.Reader
	rerr error // the last error, io.EOF included
	n    int64 // bytes read
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil {
		s.rerr = err
	}
	return n, err
}

// netErr is the underlying reader's error other than the end of input.
func (s *sourceReader) netErr() error {
	if s.rerr == io.EOF {
		return nil
	}
	return s.rerr
}

// inflateBuf is the size of the reader's buffer: a few socket reads' worth.
const inflateBuf = 32 << 10

var inflateBufs sync.Pool

// NewDeflateReader returns a reader of the MODE Z stream r carries. It
// reads nothing from r until its first Read. A stream with no bytes at
// all is taken as an empty file, which is all a sender could have meant
// by it. Release gives the decompressor back.
func NewDeflateReader(r io.Reader) *DeflateReader {
	return &DeflateReader{src: sourceReader{r: r}}
}

func (d *DeflateReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.br == nil {
		if d.br, _ = inflateBufs.Get().(*bufio.Reader); d.br != nil {
			d.br.Reset(&d.src)
		} else {
			d.br = bufio.NewReaderSize(&d.src, inflateBuf)
		}
	}
	if d.zr == nil {
		if err := d.start(); err != nil {
			d.err = d.classify(err)
			return 0, d.err
		}
	}
	n, err := d.zr.Read(p)
	if err == io.EOF {
		err = d.checkEnd()
	}
	if err != nil {
		d.err = d.classify(err)
	}
	return n, d.err
}

// start reads the zlib header.
func (d *DeflateReader) start() error {
	if zr, ok := inflaters.Get().(io.ReadCloser); ok {
		if err := zr.(zlib.Resetter).Reset(d.br, nil); err != nil {
			inflaters.Put(zr)
			return err
		}
		d.zr = zr
		return nil
	}
	zr, err := zlib.NewReader(d.br)
	if err != nil {
		return err
	}
	d.zr = zr
	return nil
}

// checkEnd makes sure nothing follows the end of the stream: bytes after
// it would be data the sender meant to send and the file would lack.
func (d *DeflateReader) checkEnd() error {
	if _, err := d.br.ReadByte(); err != nil {
		return err
	}
	return fmt.Errorf("%w: data after the end of the stream", ErrBadDeflate)
}

// classify wraps a decompressor's error in ErrBadDeflate, passes the
// underlying reader's own through, and turns a stream without any byte
// into an empty file.
func (d *DeflateReader) classify(err error) error {
	switch {
	case err == io.EOF:
		return io.EOF
	case d.src.netErr() != nil && errors.Is(err, d.src.netErr()):
		return err
	case d.zr == nil && d.src.n == 0 && d.src.rerr == io.EOF:
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: it ends early", ErrBadDeflate)
	default:
		return fmt.Errorf("%w: %w", ErrBadDeflate, err)
	}
}

// Release gives the decompressor back to the pool; d is unusable after.
func (d *DeflateReader) Release() {
	if d.br != nil {
		d.br.Reset(nil)
		inflateBufs.Put(d.br)
		d.br = nil
	}
	d.src.r = nil
	if d.zr != nil && d.err == io.EOF {
		// Only a decompressor that reached the end of its stream is in a
		// state Reset is known to recover from.
		inflaters.Put(d.zr)
	}
	d.zr = nil
	if d.err == nil {
		d.err = errReleased
	}
}

var errReleased = errors.New("ftp: DeflateReader used after Release")
