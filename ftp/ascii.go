package ftp

import (
	"bytes"
	"io"
)

// asciiBufSize is the size of the staging buffer of the TYPE A writers:
// short lines are gathered into one write to the underlying writer, and a
// run of input at least this long is written straight from the caller's
// slice. It is allocated on first use, so idle sessions don't pay for it.
const asciiBufSize = 16 << 10

// batcher gathers runs of output bytes into as few writes as it can.
type batcher struct {
	w   io.Writer
	buf []byte
}

// add queues run for writing, flushing first if it does not fit.
func (bt *batcher) add(run []byte) error {
	if len(run) == 0 {
		return nil
	}
	if bt.buf == nil {
		bt.buf = make([]byte, 0, asciiBufSize)
	}
	if len(bt.buf)+len(run) > cap(bt.buf) {
		if err := bt.flush(); err != nil {
			return err
		}
	}
	if len(run) >= cap(bt.buf) {
		return writeAll(bt.w, run)
	}
	bt.buf = append(bt.buf, run...)
	return nil
}

// flush writes the queued bytes. The buffer is emptied even on error: the
// stream is broken by then and the caller reports it.
func (bt *batcher) flush() error {
	if len(bt.buf) == 0 {
		return nil
	}
	err := writeAll(bt.w, bt.buf)
	bt.buf = bt.buf[:0]
	return err
}

func writeAll(w io.Writer, p []byte) error {
	n, err := w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return err
}

// crlfWriter converts text to the network form of TYPE A for sending.
type crlfWriter struct {
	out    batcher
	lastCR bool  // the last byte written was a CR
	err    error // sticky: after a failed write the line state is unknown
}

// NewCRLFWriter returns a writer that converts text to the network form of
// TYPE A (RFC 959 §3.1.1.1) and writes it to w: every LF that is not
// already preceded by CR becomes CRLF, so text that already uses CRLF
// passes through unchanged. It is correct across any split of the input
// into writes. Every Write passes its data on to w before it returns; there
// is nothing to flush. After a failed write, every later one fails with the
// same error.
func NewCRLFWriter(w io.Writer) io.Writer {
	return &crlfWriter{out: batcher{w: w}}
}

var crlf = []byte("\r\n")

func (cw *crlfWriter) Write(p []byte) (int, error) {
	if cw.err != nil {
		return 0, cw.err
	}
	runStart := 0 // p[runStart:] has not been queued yet
	for search := 0; search < len(p); {
		i := bytes.IndexByte(p[search:], '\n')
		if i < 0 {
			break
		}
		lf := search + i
		search = lf + 1
		if lf > 0 && p[lf-1] == '\r' || lf == 0 && cw.lastCR {
			continue // already CRLF
		}
		if err := cw.out.add(p[runStart:lf]); err != nil {
			return cw.fail(err)
		}
		if err := cw.out.add(crlf); err != nil {
			return cw.fail(err)
		}
		runStart = lf + 1
	}
	if err := cw.out.add(p[runStart:]); err != nil {
		return cw.fail(err)
	}
	if err := cw.out.flush(); err != nil {
		return cw.fail(err)
	}
	if len(p) > 0 {
		cw.lastCR = p[len(p)-1] == '\r'
	}
	return len(p), nil
}

func (cw *crlfWriter) fail(err error) (int, error) {
	cw.err = err
	return 0, err
}

// LFWriter converts text received in TYPE A to local form: each CRLF becomes
// LF, and a CR not followed by LF is kept. It is correct across any split of
// the input into writes: a CR that ends one Write is held until the next
// byte shows which it is, and Flush writes it if the stream ends there.
type LFWriter struct {
	out       batcher
	pendingCR bool
	err       error // sticky: after a failed write the line state is unknown
}

// NewLFWriter returns a writer that converts CRLF line ends to LF and writes
// the result to w. Call Flush when the stream ends.
func NewLFWriter(w io.Writer) *LFWriter {
	return &LFWriter{out: batcher{w: w}}
}

var cr = []byte{'\r'}

// Write converts p and writes it to the underlying writer before it
// returns, except for a CR at the end of p, which is counted as written but
// held back (see Flush). After a failed write, every later one fails with
// the same error.
func (lw *LFWriter) Write(p []byte) (int, error) {
	if lw.err != nil {
		return 0, lw.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if lw.pendingCR && p[0] != '\n' {
		if err := lw.out.add(cr); err != nil {
			return lw.fail(err)
		}
	}
	lw.pendingCR = false
	end := len(p)
	if p[end-1] == '\r' {
		end-- // held back until the next byte is known
	}
	runStart := 0
	for runStart < end {
		i := bytes.Index(p[runStart:end], crlf)
		if i < 0 {
			break
		}
		// Queue the run up to the CR and skip the CR: the LF starts
		// the next run.
		if err := lw.out.add(p[runStart : runStart+i]); err != nil {
			return lw.fail(err)
		}
		runStart += i + 1
	}
	if err := lw.out.add(p[runStart:end]); err != nil {
		return lw.fail(err)
	}
	if err := lw.out.flush(); err != nil {
		return lw.fail(err)
	}
	lw.pendingCR = end < len(p)
	return len(p), nil
}

func (lw *LFWriter) fail(err error) (int, error) {
	lw.err = err
	return 0, err
}

// Flush writes a CR held back at the end of the last Write. It does not
// flush the underlying writer.
func (lw *LFWriter) Flush() error {
	if lw.err != nil {
		return lw.err
	}
	if !lw.pendingCR {
		return nil
	}
	lw.pendingCR = false
	if err := writeAll(lw.out.w, cr); err != nil {
		lw.err = err
		return err
	}
	return nil
}
