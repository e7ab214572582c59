package ftpserver

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Transmission modes (RFC 959 §3.4 and its extensions), the value of
// session.mode.
const (
	modeStream  byte = 'S'
	modeBlock   byte = 'B' // RFC 959 §3.4.2 (modeb.go)
	modeDeflate byte = 'Z' // draft-preston-ftpext-deflate; ftp/deflate.go
)

// modeName names a transmission mode for STAT.
func modeName(mode byte) string {
	switch mode {
	case modeBlock:
		return "Block"
	case modeDeflate:
		return "Deflate"
	default:
		return "Stream"
	}
}

// coding is how one transfer's bytes are represented on the data
// connection: the representation type (TYPE, applied next to the file)
// and the transmission mode (MODE, applied next to the connection). A
// download runs file -> type encoder -> mode encoder -> conn, an upload
// conn -> mode decoder -> type decoder -> file.
//
// It is a snapshot taken by the command handler on the control loop: the
// transfer runs beside the loop, which may meanwhile take a new TYPE or
// MODE for the next transfer.
type coding struct {
	ascii  bool // TYPE A
	ebcdic bool // TYPE E
	mode   byte // modeStream, ...
	level  int  // MODE Z's compression level (OPTS MODE Z LEVEL)
	// offset is where in the file the transfer starts (REST; the end of
	// the file for APPE): MODE B's restart markers are file offsets.
	offset int64
	// marked answers a client's restart marker (MODE B uploads): marker
	// is the client's, at is the file offset every byte before it reached.
	marked func(marker []byte, at int64)
}

// coding snapshots the session's TYPE and MODE for one transfer.
func (s *session) coding() coding {
	return coding{ascii: s.ascii, ebcdic: s.ebcdic, mode: s.mode, level: s.deflateLevel, marked: s.restartMarked}
}

// stages collects what the encoders and decoders of one transfer must do
// at its end: finish flushes and closes the framing (it runs only when the
// copy succeeded, and may write to the connection), release gives back
// their memory (always). Both run in the reverse order of registration,
// as defers do, so the stage nearest the file finishes first on a
// download.
type stages struct {
	finishers []func() error
	releasers []func()
}

func (st *stages) onFinish(f func() error) { st.finishers = append(st.finishers, f) }
func (st *stages) onRelease(f func())      { st.releasers = append(st.releasers, f) }

func (st *stages) finish() error {
	for i := len(st.finishers) - 1; i >= 0; i-- {
		if err := st.finishers[i](); err != nil {
			return err
		}
	}
	return nil
}

func (st *stages) release() {
	for i := len(st.releasers) - 1; i >= 0; i-- {
		st.releasers[i]()
	}
	st.releasers = nil
}

// modeEncoder wraps conn in the transmission mode's encoder.
func (c coding) modeEncoder(conn io.Writer, st *stages) io.Writer {
	switch c.mode {
	case modeBlock:
		bw := ftp.NewBlockWriter(conn)
		st.onFinish(bw.Close)
		return bw
	case modeDeflate:
		// The compressor is taken here, for this transfer only, and
		// given back at its end: an idle session holds none.
		dw := ftp.NewDeflateWriter(conn, c.level)
		st.onFinish(dw.Close)
		st.onRelease(dw.Release)
		return dw
	default: // modeStream: the bytes themselves, ended by closing.
		return conn
	}
}

// modeDecoder wraps conn in the transmission mode's decoder; the reader
// it returns ends (io.EOF) where the mode says the file ends.
func (c coding) modeDecoder(conn io.Reader, st *stages) io.Reader {
	switch c.mode {
	case modeDeflate:
		// A decompression bomb is only bytes through the normal writer:
		// quota and disk limits apply to what it expands to.
		dr := ftp.NewDeflateReader(conn)
		st.onRelease(dr.Release)
		return dr
	default:
		return conn
	}
}

// typeEncoder wraps w (the mode encoder) in the representation type's
// encoder for sending.
func (c coding) typeEncoder(w io.Writer, st *stages) io.Writer {
	switch {
	case c.ascii:
		return ftp.NewCRLFWriter(w)
	case c.ebcdic:
		return ftp.NewEBCDICEncoder(w)
	}
	return w
}

// typeDecoder wraps file (the destination of an upload) in the
// representation type's decoder.
func (c coding) typeDecoder(file io.Writer, st *stages) io.Writer {
	switch {
	case c.ascii:
		lf := ftp.NewLFWriter(file)
		st.onFinish(lf.Flush)
		return lf
	case c.ebcdic:
		dec := ftp.NewEBCDICDecoder(file)
		st.onFinish(dec.Flush)
		return dec
	}
	return file
}

// download returns the writer a download's file bytes go to, and its
// stages; wire is the data connection, or a writer in front of it. Under TYPE I and
// MODE S it is wire itself, so send keeps the kernel's sendfile path;
// likewise upload's reader is conn itself, for splice.
func (c coding) download(wire io.Writer) (io.Writer, *stages) {
	st := &stages{}
	mode := c.modeEncoder(wire, st)
	w := c.typeEncoder(mode, st)
	if bw, ok := mode.(*ftp.BlockWriter); ok {
		// Markers count file bytes, so they go in front of the type.
		w = bw.MarkEvery(w, c.offset, markInterval)
	}
	return w, st
}

// listing returns the writer a listing's lines go to. Listings are
// already text in the network form of TYPE A (CRLF lines): only the mode
// applies, except in TYPE E, where RFC 959 sends listings in EBCDIC too
// (LIST: "in type ASCII or type EBCDIC"): lines end in NL there.
func (c coding) listing(conn net.Conn) (io.Writer, *stages) {
	st := &stages{}
	w := c.modeEncoder(conn, st)
	if c.ebcdic {
		lf := ftp.NewLFWriter(ftp.NewEBCDICEncoder(w))
		st.onFinish(lf.Flush)
		return lf, st
	}
	return w, st
}

// upload returns the reader of an upload's bytes from wire (the data
// connection, or a reader of it) and the writer in front of file they go to, and their
// stages.
func (c coding) upload(wire io.Reader, file io.Writer) (io.Reader, io.Writer, *stages) {
	st := &stages{}
	if c.mode == modeBlock {
		// The server's markers count what reached the file, so the
		// counter sits behind the type decoder.
		stored := &fileCounter{w: file}
		return c.blockDecoder(wire, stored), c.typeDecoder(stored, st), st
	}
	dst := c.typeDecoder(file, st)
	return c.modeDecoder(wire, st), dst, st
}

// download sends src through c's encoders to conn, then ends the
// encoding (a flush or an end-of-file marker may still go out).
func (s *session) download(t *transfer, conn net.Conn, c coding, src io.Reader) error {
	rl := s.acct.DownloadLimit
	var wire io.Writer = conn
	if rl != nil && c.mode != modeStream {
		// A rate limit protects the link: it counts the bytes on the
		// wire, which compression makes fewer than the file's.
		p, done, err := s.paced(t, rl)
		if err != nil {
			return err
		}
		defer done()
		wire, rl = p.writer(conn), nil
	}
	dst, st := c.download(wire)
	defer st.release()
	if err := s.send(t, conn, dst, src, rl); err != nil {
		return err
	}
	conn.SetWriteDeadline(time.Now().Add(durationOr(s.srv.DataTimeout, DefaultDataTimeout)))
	if err := st.finish(); err != nil {
		if isConnErr(err) {
			return netErr{err}
		}
		return err
	}
	return nil
}

// upload receives conn through c's decoders into file. It does not
// commit: the caller decides what happens to file.
func (s *session) upload(t *transfer, conn net.Conn, c coding, file io.Writer) error {
	rl := s.acct.UploadLimit
	var wire io.Reader = conn
	if rl != nil && c.mode != modeStream {
		p, done, err := s.paced(t, rl)
		if err != nil {
			return err
		}
		defer done()
		wire, rl = p.reader(conn), nil
	}
	src, dst, st := c.upload(wire, file)
	defer st.release()
	if err := s.receive(t, conn, src, dst, rl); err != nil {
		return err
	}
	return st.finish()
}

// pacer paces the bytes on a data connection by a rate limiter; ABOR and
// the session's end interrupt its waits.
type pacer struct {
	ctx context.Context
	rl  RateLimiter
}

// paced returns t's pacer by rl, and the function that releases it at
// the transfer's end.
func (s *session) paced(t *transfer, rl RateLimiter) (*pacer, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(s.ctx)
	if !t.setCancel(cancel) {
		cancel()
		return nil, nil, errAborted
	}
	return &pacer{ctx: ctx, rl: rl}, cancel, nil
}

func (p *pacer) wait(n int) error {
	if err := p.rl.WaitN(p.ctx, n); err != nil {
		return errAborted
	}
	return nil
}

func (p *pacer) writer(w io.Writer) io.Writer { return pacedWriter{p, w} }
func (p *pacer) reader(r io.Reader) io.Reader { return pacedReader{p, r} }

type pacedWriter struct {
	p *pacer
	w io.Writer
}

func (pw pacedWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		n := min(len(b), max(1, pw.p.rl.Burst()))
		if err := pw.p.wait(n); err != nil {
			return written, err
		}
		m, err := pw.w.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}

type pacedReader struct {
	p *pacer
	r io.Reader
}

func (pr pacedReader) Read(b []byte) (int, error) {
	if len(b) > pr.p.rl.Burst() {
		b = b[:max(1, pr.p.rl.Burst())]
	}
	n, err := pr.r.Read(b)
	if n > 0 {
		if werr := pr.p.wait(n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
