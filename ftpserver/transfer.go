package ftpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// transfer is one data-connection operation running beside the control
// loop: a RETR, STOR, APPE, STOU or a listing.
type transfer struct {
	verb string
	path string
	size int64 // total expected, -1 when unknown
	// offset is where in the file it started (REST).
	offset int64
	start  time.Time
	bytes  atomic.Int64
	done   chan struct{}

	// local is set for work without a data connection (see startLocal).
	local bool
	// replying is set just before the final reply is sent: from then on
	// STAT reports the session, since a client that has read the reply
	// may ask before the transfer's cleanup has ended it.
	replying atomic.Bool

	mu      sync.Mutex
	aborted bool
	// failed: the transfer had failed on its own (the storage refused,
	// say) before any abort; its reply is that failure's, even if an
	// ABOR provoked by it (the client seeing its data connection closed)
	// arrives before the reply is sent.
	failed bool

	ln     net.Listener
	conn   net.Conn
	cancel context.CancelFunc
}

func (t *transfer) isAborted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.aborted
}

// interrupted reports whether an abort, rather than a failure of the
// transfer's own, ended it.
func (t *transfer) interrupted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.aborted && !t.failed
}

// markFailed notes that the body ended with err, unless an abort came
// first; it runs before the data connection is closed, so the client
// cannot have reacted to the failure yet.
func (t *transfer) markFailed(err error) {
	if err == nil || errors.Is(err, errAborted) || isNetError(err) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.aborted {
		t.failed = true
	}
}

// abort interrupts whatever the transfer is blocked on: the accept, the
// dial, or a read or write on the data connection. It closes the TCP
// connection under TLS: a TLS Close would first send close_notify, which
// can block on a peer that does not read.
func (t *transfer) abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.aborted = true
	if t.ln != nil {
		t.ln.Close()
	}
	if tc, ok := t.conn.(*tls.Conn); ok {
		tc.NetConn().Close()
	} else if t.conn != nil {
		t.conn.Close()
	}
	if t.cancel != nil {
		t.cancel()
	}
}

func (t *transfer) setListener(ln net.Listener) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ln = ln
	return !t.aborted
}

func (t *transfer) setCancel(cancel context.CancelFunc) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cancel = cancel
	return !t.aborted
}

func (t *transfer) setConn(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conn = c
	return !t.aborted
}

// transferring reports whether a transfer is running.
func (s *session) transferring() bool {
	s.xmu.Lock()
	defer s.xmu.Unlock()
	return s.xfer != nil
}

func (s *session) currentTransfer() *transfer {
	s.xmu.Lock()
	defer s.xmu.Unlock()
	return s.xfer
}

// waitTransfer blocks until the running transfer (if any) has sent its
// final reply.
func (s *session) waitTransfer() {
	if t := s.currentTransfer(); t != nil {
		<-t.done
	}
}

func (s *session) abortTransfer() {
	if t := s.currentTransfer(); t != nil {
		t.abort()
	}
}

// transferBody moves the data once the connection is open. Its error
// picks the final reply; nil means 226 with doneMsg.
type transferBody func(t *transfer, conn net.Conn) error

// startTransfer takes the prepared data channel, answers 150 and runs body
// in its own goroutine so the control loop stays free for ABOR and STAT.
// cleanup runs when the transfer ends, whatever happened.
func (s *session) startTransfer(verb, path string, size, offset int64, openMsg, doneMsg string, body transferBody, cleanup func()) error {
	err := s.checkDataProtection()
	if err == nil && !s.data.ready() {
		err = ftp.Errorf(ftp.CodeCantOpenData, "Use PORT, EPRT, PASV or EPSV first.")
	}
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		return err
	}
	ch := s.data.take()
	t := &transfer{verb: verb, path: path, size: size, offset: offset, start: time.Now(), done: make(chan struct{})}
	s.setTransfer(t)
	s.reply(ftp.CodeFileStatusOK, openMsg)
	s.runBeside(t, func() {
		if cleanup != nil {
			defer cleanup()
		}
		err := s.runTransfer(ch, t, body)
		s.logTransfer(t, err)
		t.replying.Store(true)
		var badStream blockStreamError
		switch {
		case err == nil:
			s.reply(ftp.CodeClosingData, doneMsg)
		case t.interrupted() || errors.Is(err, errAborted):
			s.reply(ftp.CodeTransferAborted, "Connection closed; transfer aborted.")
		case errors.As(err, &badStream):
			s.reply(ftp.CodeTransferAborted, badStream.reply())
		case isNetError(err):
			s.reply(ftp.CodeTransferAborted, "Data connection lost; transfer aborted.")
		default:
			s.replyError(err)
		}
	})
	return nil
}

// startLocal runs work beside the control loop as if it were a transfer,
// for a command that takes long without a data connection (HASH): STAT
// reports it, commands behind it wait for its reply, and ABOR, QUIT, a
// hang-up and the session's end cancel work's context. work sends its
// reply on success, after setting t.replying; an error is answered here, after an abort with 426
// (ABOR then adds its 226, RFC 959 §4.1.3).
func (s *session) startLocal(verb, path string, size int64, work func(ctx context.Context, t *transfer) error) {
	ctx, cancel := context.WithCancel(s.ctx)
	t := &transfer{verb: verb, path: path, size: size, start: time.Now(), done: make(chan struct{}), local: true, cancel: cancel}
	s.setTransfer(t)
	s.runBeside(t, func() {
		defer cancel()
		err := work(ctx, t)
		t.replying.Store(true)
		switch {
		case err == nil:
		case t.isAborted():
			s.replyf(ftp.CodeTransferAborted, "%s aborted.", verb)
		default:
			s.replyError(err)
		}
	})
}

// setTransfer makes t the running transfer.
func (s *session) setTransfer(t *transfer) {
	s.xmu.Lock()
	s.xfer = t
	s.xmu.Unlock()
}

// runBeside runs the running transfer t's work in its own goroutine, so
// the control loop stays free for ABOR and STAT, and ends t after it.
func (s *session) runBeside(t *transfer, work func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("transfer panic", "panic", r, "stack", string(debug.Stack()))
				t.replying.Store(true)
				s.reply(ftp.CodeLocalError, "Requested action aborted: local error in processing.")
			}
			s.xmu.Lock()
			s.xfer = nil
			s.xmu.Unlock()
			close(t.done)
			s.wakeReader()
		}()
		work()
	}()
}

// abortLocal cancels the running transfer if it is local work (see
// startLocal), which nobody waits for once the client quits or goes.
func (s *session) abortLocal() {
	if t := s.currentTransfer(); t != nil && t.local {
		t.abort()
	}
}

func (s *session) runTransfer(ch dataChannel, t *transfer, body transferBody) (err error) {
	if ch.ln != nil {
		defer func() {
			if err == nil && !t.isAborted() {
				s.keepSpare(ch.ln) // before the 226, so the next EPSV finds it
			} else {
				ch.ln.Close()
			}
		}()
	}
	conn, err := s.connect(s.ctx, ch, t)
	if err != nil {
		return err
	}
	defer conn.Close()
	if s.tls.protP {
		if !t.setConn(conn) {
			return errAborted
		}
		if conn, err = s.secureChannel(&ch, conn); err != nil {
			return err
		}
		defer conn.Close()
	}
	if !t.setConn(conn) {
		return errAborted
	}
	err = body(t, conn)
	t.markFailed(err)
	return err
}

// netErr marks a failure of the data connection itself (as opposed to the
// storage), which is answered with 426.
type netErr struct{ err error }

func (e netErr) Error() string { return e.err.Error() }
func (e netErr) Unwrap() error { return e.err }

func isNetError(err error) bool {
	var ne netErr
	return errors.As(err, &ne)
}

// chunk is how much one copy call may move before the deadline is re-armed
// and the progress counter updated. DataTimeout then bounds the time for
// one chunk, so a client slower than chunk/DataTimeout (4 KiB/s with the
// defaults) is dropped, and a slow but moving one never is. Larger chunks
// save no measurable time: sendfile and splice move at most a socket
// buffer per call anyway.
const chunk = 256 << 10

// copyBuf is the size of the pooled buffers of copies the kernel cannot
// do by itself (TLS, TYPE A, listings).
const copyBuf = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBuf); return &b }}

// send copies src to the data connection until EOF, paced by rl (when
// not nil) in bytes of src. A *os.File source
// stops after the t.size bytes the 150 reply announced: a file growing
// meanwhile is sent as it was when opened (as vsftpd does), and the read
// that would only find the end is saved. A file goes to a TCP connection
// through sendfile(2), whoever the peer is; how concurrent downloads share
// the link is TCP's business (bench/RESULTS.md, run 10, measured turns of
// our own on a veth link: they did not win, and made ABOR and Close wait).
func (s *session) send(t *transfer, conn net.Conn, dst io.Writer, src io.Reader, rl RateLimiter) error {
	_, isFile := src.(*os.File)
	limit := int64(-1)
	if isFile && t.size >= 0 && dst == io.Writer(conn) {
		limit = t.size
	}
	move, release := mover(dst, src)
	defer release()
	return s.copyData(t, conn.SetWriteDeadline, move, limit, rl)
}

// receive copies src (the data connection, or a decoder reading it) into
// dst until EOF, paced by rl (when not nil) in bytes of src. A destination that implements io.ReaderFrom (a local
// file) is handed the socket directly so it can splice(2).
func (s *session) receive(t *transfer, conn net.Conn, src io.Reader, dst io.Writer, rl RateLimiter) error {
	move, release := mover(dst, src)
	defer release()
	return s.copyData(t, conn.SetReadDeadline, move, -1, rl)
}

// mover returns the function that moves at most want bytes of src to dst
// (fewer only at the end of src or on an error), and the function that
// gives back what it holds. Where the kernel can move the bytes itself
// (file to TCP, TCP to a file) it goes through io.Copy so sendfile or
// splice is used; otherwise a pooled buffer serves.
func mover(dst io.Writer, src io.Reader) (move func(want int64) (int64, error), release func()) {
	_, srcFile := src.(*os.File)
	_, dstTCP := dst.(*net.TCPConn)
	_, srcTCP := src.(*net.TCPConn)
	_, dstReaderFrom := dst.(io.ReaderFrom)
	if srcFile && dstTCP || srcTCP && dstReaderFrom {
		return func(want int64) (int64, error) {
			return io.Copy(dst, &io.LimitedReader{R: src, N: want})
		}, func() {}
	}
	buf := bufPool.Get().(*[]byte)
	return func(want int64) (int64, error) {
		return io.CopyBuffer(writerOnly{dst}, readerOnly{&io.LimitedReader{R: src, N: want}}, *buf)
	}, func() { bufPool.Put(buf) }
}

// copyData moves data in chunks through move, re-arming the data
// connection's deadline (arm) per chunk so a peer that stops reading or
// sending is dropped after DataTimeout rather than holding the session
// forever, and counting progress for STAT. A limit >= 0 stops the copy
// after that many bytes. A rate limiter paces the chunks (no larger than
// its burst); ABOR and the session's end interrupt its waits.
func (s *session) copyData(t *transfer, arm func(time.Time) error, move func(want int64) (int64, error), limit int64, rl RateLimiter) error {
	timeout := durationOr(s.srv.DataTimeout, DefaultDataTimeout)
	size := int64(chunk)
	var ctx context.Context
	if rl != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(s.ctx)
		defer cancel()
		if !t.setCancel(cancel) {
			return errAborted
		}
		size = max(1, min(size, int64(rl.Burst())))
	}
	for moved := int64(0); ; {
		want := size
		if limit >= 0 {
			if moved >= limit {
				return nil
			}
			want = min(want, limit-moved)
		}
		arm(time.Now().Add(timeout))
		n, err := move(want)
		t.bytes.Add(n)
		moved += n
		if rl != nil && n > 0 && err == nil {
			if werr := rl.WaitN(ctx, int(n)); werr != nil {
				return errAborted
			}
		}
		if err != nil {
			if isConnErr(err) {
				return netErr{err}
			}
			return err
		}
		if n < want {
			return nil
		}
	}
}

// isConnErr tells a data-connection failure from a storage failure.
func isConnErr(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	return errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

// writerOnly and readerOnly hide ReaderFrom/WriterTo so io.CopyBuffer uses
// the pooled buffer instead of allocating its own.
type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

// logTransfer logs one line per file transfer and tells the observer
// about every transfer, listings included.
func (s *session) logTransfer(t *transfer, err error) {
	rec := TransferRecord{
		SessionID: s.id,
		Remote:    s.remoteAddrPort(),
		Verb:      t.verb,
		Direction: directionOf(t.verb),
		Path:      t.path,
		ASCII:     s.ascii,
		Offset:    t.offset,
		Started:   t.start,
		Duration:  time.Since(t.start),
		Bytes:     t.bytes.Load(),
		Result:    transferResult(t, err),
		Err:       err,
	}
	if s.acct != nil {
		rec.User, rec.Anonymous = s.acct.User, s.acct.Anonymous
		if rec.Anonymous {
			rec.AnonymousID = s.anonymousID
		}
	}
	if o := s.srv.Observer; o != nil {
		o.TransferEnded(rec)
	}
	if rec.Direction == Listing {
		return
	}
	s.log.Info("transfer",
		"verb", rec.Verb,
		"file", rec.Path,
		"bytes", rec.Bytes,
		"duration", rec.Duration.Round(time.Millisecond),
		"ascii", rec.ASCII,
		"result", string(rec.Result))
}
