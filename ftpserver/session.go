package ftpserver

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// session is one control connection.
type session struct {
	srv  *Server
	id   string
	conn net.Conn // the control connection: base, or TLS over it
	// base is the accepted TCP connection, never replaced: Shutdown and
	// Close reach the session through it without taking wmu, which a
	// reply blocked on a peer that does not read may hold, and closing
	// it ends a TLS connection on top without a close_notify that could
	// block in turn.
	base net.Conn
	lr   *ftp.LineReader
	log  *slog.Logger

	ctx    context.Context // cancelled when the session ends
	cancel context.CancelFunc

	// wmu serialises replies: the control loop and a running transfer
	// both write to conn.
	wmu  sync.Mutex
	wbuf []byte

	// host is the virtual host HOST chose (nil: none). The control loop
	// sets it before login; TLS handshakes read it for the certificate.
	host atomic.Pointer[VirtualHost]

	// Only the control-loop goroutine touches the fields below, except
	// where noted.
	userName string   // from USER, waiting for PASS
	acct     *Account // nil until logged in
	cwd      string
	ascii    bool // TYPE A; binary (TYPE I) is the default
	ebcdic   bool // TYPE E (never with ascii)
	mode     byte // MODE: modeStream, ... (coding.go)
	// deflateLevel is MODE Z's compression level (OPTS MODE Z LEVEL).
	deflateLevel int
	restOffset   int64 // from REST, for the next transfer
	renameFrom   string
	epsvAll      bool
	mlstFacts    ftp.Facts
	hashAlgo     string
	// lang is the reply language (LANG); atomic because replies are
	// also written by transfers and by Server.Disconnect.
	lang     atomic.Uint32
	badCount int
	quitting bool

	data dataChannel // the prepared (not yet used) data connection

	// xfer is the running transfer; guarded by xmu because ABOR, STAT
	// and shutdown look at it from the control loop while the transfer
	// goroutine ends it.
	xmu   sync.Mutex
	xfer  *transfer
	spare net.Listener // a finished transfer's passive listener, for reuse

	closing atomic.Bool // set by Server.Shutdown

	listener ListenerOptions
	tls      tlsState
	// queued is the command that arrived during a transfer and waits
	// for it, and what reading ahead behind it found (see awaitTransfer
	// and uploadComplete in cmd_files.go).
	queued queuedCommand
	// readingAhead is set while the control loop reads commands behind
	// a queued one (see awaitTransfer): the transfer's end interrupts
	// that read. aheadMu makes the check and the interruption one step,
	// so an interruption never lands on a later read.
	aheadMu      sync.Mutex
	readingAhead bool
	// pending holds the commands read ahead, in order, and readErr the
	// error that ended reading ahead; readCommand returns them first.
	pending []pendingLine
	readErr error

	remote   netip.Addr // the client's address, for the per-IP count
	activeAt time.Time  // when the last command was answered
	// loginFrom is when the login timeout started: the connection, or
	// the last logout (REIN). Commands before login do not restart it,
	// so a client cannot stay without logging in by sending NOOPs.
	loginFrom time.Time
	raw       syscall.RawConn // the plain control connection, for handOver

	started time.Time
	// anonymousID is the password an anonymous user gave, for xferlog.
	anonymousID string
	info        sessionInfo // what Server.Sessions reports
}

func newSession(srv *Server, conn net.Conn, n uint64, opts ListenerOptions) *session {
	id := strconv.FormatUint(n, 36)
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		srv:          srv,
		id:           id,
		conn:         conn,
		base:         conn,
		ctx:          ctx,
		cancel:       cancel,
		cwd:          "/",
		mlstFacts:    ftp.AllFacts,
		hashAlgo:     "SHA-256",
		mode:         modeStream,
		deflateLevel: ftp.DefaultDeflateLevel,
		listener:     opts,
		remote:       addrIP(conn.RemoteAddr()),
		loginFrom:    time.Now(),
	}
	s.started = s.loginFrom
	s.log = srv.logger().With("session", id, "remote", conn.RemoteAddr().String())
	setOOBInline(conn)
	s.newLineReader()
	return s
}

// newLineReader reads commands from the current control connection.
func (s *session) newLineReader() {
	s.lr = ftp.NewLineReader(bufio.NewReaderSize(s.conn, 512), ftp.MaxLine)
}

// reply sends one reply in the session's language (see catalog.go); a
// multi-line msg becomes a multi-line reply.
func (s *session) reply(code int, msg string) {
	s.writeReply(code, s.tr(msg))
}

// writeReply sends a reply whose text is already in the session's
// language.
func (s *session) writeReply(code int, msg string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wbuf = ftp.AppendReply(s.wbuf[:0], code, msg)
	s.conn.SetWriteDeadline(time.Now().Add(durationOr(s.srv.DataTimeout, DefaultDataTimeout)))
	if _, err := s.conn.Write(s.wbuf); err == nil {
		s.srv.replied(code)
	} else {
		// Part of the reply may have gone: the reply stream is broken,
		// and a peer that took nothing for DataTimeout is not reading.
		// Closing ends the session at its next read, and fails the
		// writes queued behind this one at once.
		s.log.Debug("reply not sent; closing the control connection", "err", err)
		s.base.Close()
	}
	if cap(s.wbuf) > 4096 { // do not keep a big listing's buffer for an idle session
		s.wbuf = nil
	}
}

// replyf is reply with a formatted message: the format is translated,
// then formatted.
func (s *session) replyf(code int, format string, args ...any) {
	s.writeReply(code, s.trf(format, args...))
}

// replyError is the one place where a handler's error becomes a reply.
// Storage and auth errors are matched by kind; anything unexpected is
// logged here and the client sees a generic 451, never the error text.
func (s *session) replyError(err error) {
	var fe *ftp.Error
	switch {
	case errors.As(err, &fe):
		s.writeReply(fe.Code, fe.Localize(s.tr))
	case errors.Is(err, fs.ErrNotExist):
		s.reply(ftp.CodeActionNotTaken, "No such file or directory.")
	case errors.Is(err, fs.ErrPermission):
		s.reply(ftp.CodeActionNotTaken, "Permission denied.")
	case errors.Is(err, fs.ErrExist):
		s.reply(ftp.CodeActionNotTaken, "File exists.")
	case errors.Is(err, ErrDirNotEmpty):
		s.reply(ftp.CodeActionNotTaken, "Directory not empty.")
	case errors.Is(err, ErrIsDir):
		s.reply(ftp.CodeActionNotTaken, "Is a directory.")
	case errors.Is(err, ErrNotDir):
		s.reply(ftp.CodeActionNotTaken, "Not a directory.")
	case errors.Is(err, ErrQuota):
		s.reply(ftp.CodeExceededStorage, "Storage quota exceeded.")
	case errors.Is(err, ErrInvalidName):
		s.reply(ftp.CodeBadFileName, "File name not allowed.")
	case errors.Is(err, ftp.ErrBadDeflate): // the client's upload in MODE Z
		s.reply(ftp.CodeTransferAborted, "Transfer aborted: the compressed (MODE Z) data is corrupt.")
	case errors.Is(err, ErrBusy): // another upload writes the file in place
		s.reply(ftp.CodeFileUnavailable, "File busy.")
	case errors.Is(err, ErrUnavailable):
		s.log.Warn("storage unavailable", "err", err)
		s.reply(ftp.CodeFileUnavailable, "Storage temporarily unavailable; try again later.")
	case errors.Is(err, ErrNotSupported):
		s.reply(ftp.CodeNotImplemented, "Not supported by this storage.")
	case errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC): // disk full: 452, a quota (above) 552
		s.reply(ftp.CodeInsufficientStorage, "Insufficient storage space.")
	case errors.Is(err, syscall.ENAMETOOLONG):
		s.reply(ftp.CodeBadFileName, "File name too long.")
	default:
		s.log.Error("command failed", "err", err)
		s.reply(ftp.CodeLocalError, "Requested action aborted: local error in processing.")
	}
}

// serve starts the session and runs its control loop until QUIT, a fatal
// error or shutdown.
func (s *session) serve() {
	s.log.Debug("session opened")
	if o := s.srv.Observer; o != nil {
		o.SessionStarted(s.snapshot())
	}
	if s.listener.ImplicitTLS {
		if err := s.startTLS(); err != nil {
			s.log.Info("implicit TLS handshake failed", "err", err)
			s.end()
			return
		}
		// Implicit FTPS protects data connections from the start.
		s.tls.pbsz, s.tls.protP = true, true
	}
	banner := s.srv.Banner
	if banner == "" {
		banner = "ferry FTP server ready."
	}
	s.activeAt = time.Now()
	s.reply(ftp.CodeServiceReady, banner)
	s.run()
}

// run is the control loop, in whichever goroutine has the session: it
// returns when the session has ended, or when the client went quiet and
// the session was handed to a waiter (see handOver).
func (s *session) run() {
	ended := true
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("session panic", "panic", r, "stack", string(debug.Stack()))
			ended = true
		}
		if ended {
			s.end()
		}
	}()
	for !s.quitting {
		line, err := s.readCommand()
		if err != nil {
			if errors.Is(err, errQuiet) {
				ended = false
				s.handOver()
				return
			}
			if errors.Is(err, ftp.ErrLineTooLong) {
				s.reply(ftp.CodeSyntaxError, "Command line too long.")
				if s.countBad() {
					return
				}
				continue
			}
			return
		}
		s.dispatch(line)
		s.activeAt = time.Now() // the idle timeout counts from the reply
		if s.closing.Load() {
			s.waitTransfer()
			if !s.quitting {
				s.reply(ftp.CodeServiceNotAvailable, "Server is shutting down.")
			}
			return
		}
	}
}

// end releases what the session holds and removes it from the server.
func (s *session) end() {
	s.abortTransfer()
	s.waitTransfer()
	if s.acct != nil {
		s.srv.releaseUser(s.acct)
	}
	s.data.close()
	s.dropSpare()
	s.cancel()
	s.conn.Close()
	s.srv.endSession(s, s.remote)
	if o := s.srv.Observer; o != nil {
		o.SessionEnded(s.snapshot())
	}
	s.log.Debug("session closed")
}

// quietAfter is how long a session waits for its next command on its own
// goroutine before it hands over to a waiter. A goroutine that has run
// commands keeps the stack they needed (8 KiB or more); a session that
// merely waits for the client needs almost none. Busy sessions (a
// command every few hundred microseconds in a transfer loop) never hand
// over; an idle logged-in session does so once and then costs its state
// and a waiter's small stack.
const quietAfter = 50 * time.Millisecond

// errQuiet is readCommand's way of saying the client has been quiet for
// quietAfter and the session can hand over.
var errQuiet = errors.New("client quiet")

// handOver ends the calling goroutine's part in the session: a new
// goroutine, with a fresh small stack, waits until the control connection
// is readable (or its deadline passes, or it is closed) and then runs the
// control loop. The read deadline readCommand set, the idle or login
// timeout, stays in force meanwhile, and Shutdown and Close reach the
// waiter as they reach a blocked read.
func (s *session) handOver() {
	raw := s.raw
	// Nothing is buffered or half read (readCommand checked): the
	// reader's buffers can go too, and come back with the next command.
	s.lr = nil
	go func() {
		waitReadable(raw)
		s.run()
	}()
}

// readCommand reads the next command line, arming the idle timeout. The
// timeout never ends a session while a transfer runs. It returns errQuiet
// when the client has sent nothing for quietAfter and the session may
// hand over (see handOver).
func (s *session) readCommand() (string, error) {
	for {
		if s.closing.Load() {
			// Shutting down: a running transfer may finish (within the
			// grace period), then the client is told why it goes.
			s.waitTransfer()
			s.reply(ftp.CodeServiceNotAvailable, "Server is shutting down.")
			return "", ErrServerClosed
		}
		if len(s.pending) > 0 { // read ahead during a transfer
			p := s.pending[0]
			s.pending = s.pending[1:]
			if len(s.pending) == 0 {
				s.pending = nil // do not keep the backing array
			}
			return p.line, p.err
		}
		if s.readErr != nil {
			return "", s.readErr
		}
		if s.lr == nil {
			s.newLineReader()
		}
		idleEnd := s.activeAt.Add(durationOr(s.srv.IdleTimeout, DefaultIdleTimeout))
		timeoutMsg := "Timeout: closing control connection."
		if s.acct == nil {
			idleEnd = s.loginFrom.Add(durationOr(s.srv.LoginTimeout, DefaultLoginTimeout))
			timeoutMsg = "Login timeout: closing control connection."
		}
		now := time.Now()
		deadline := idleEnd
		quiet := s.mayHandOver()
		if quiet && now.Add(quietAfter).Before(deadline) {
			deadline = now.Add(quietAfter)
		}
		s.conn.SetReadDeadline(deadline)
		if s.closing.Load() {
			// Shutdown may have set its deadline just before ours.
			continue
		}
		line, err := s.lr.ReadLine()
		if err == nil {
			return string(line), nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if s.transferring() || s.closing.Load() {
				s.activeAt = time.Now() // a transfer is activity
				continue
			}
			if time.Now().Before(idleEnd) {
				if quiet && !s.lr.Partial() {
					// The waiter keeps the idle (or login) deadline.
					s.conn.SetReadDeadline(idleEnd)
					if s.closing.Load() {
						continue // as above
					}
					return "", errQuiet
				}
				continue // a partial line: wait for the rest on this goroutine
			}
			s.reply(ftp.CodeServiceNotAvailable, timeoutMsg)
			return "", err
		}
		return "", err
	}
}

// mayHandOver reports whether the session can wait for its client on a
// waiter goroutine: on a plain TCP control connection (a TLS connection
// may hold decrypted input the socket does not show), with no transfer
// running and no partial command line read.
func (s *session) mayHandOver() bool {
	tc, ok := plainTCP(s.conn)
	if !ok || !canWaitReadable || s.lr.Partial() || s.transferring() {
		return false
	}
	if s.raw == nil {
		raw, err := tc.SyscallConn()
		if err != nil {
			return false
		}
		s.raw = raw
	}
	return true
}

// countBad records a rejected command and reports whether the session has
// now exceeded the bad-command threshold (and has been told so).
func (s *session) countBad() bool {
	return s.countBadAs(offenceCommand)
}

// countBadAs is countBad for an offence of the given kind, which the
// Defender scores: a ban it starts ends the session too.
func (s *session) countBadAs(kind offence) bool {
	if s.srv.offend(s.remote, kind, s) {
		return true
	}
	limit := s.srv.MaxBadCommands
	if limit == 0 {
		limit = DefaultMaxBadCommands
	}
	s.badCount++
	if limit > 0 && s.badCount >= limit {
		s.log.Warn("too many bad commands; closing session")
		s.reply(ftp.CodeServiceNotAvailable, "Too many bad commands, closing connection.")
		s.quitting = true
		return true
	}
	return false
}

// shutdown asks the session to end once its transfer (if any) is done: an
// idle read is interrupted at once. It never blocks (see base).
func (s *session) shutdown() {
	s.closing.Store(true)
	s.base.SetReadDeadline(time.Now())
}

// kill ends the session now, without waiting for anything the peer does:
// a blocked reply or read fails as the socket closes, and a storage call
// blocked on a backend (a download's read from an object store) fails as
// the session's context is cancelled. The transfer is aborted on its own
// goroutine, so that nothing a backend or a data connection does while
// being closed can hold Close up. (An upload's commit or abort runs on a
// context of its own and still ends the upload properly.)
func (s *session) kill() {
	s.closing.Store(true)
	s.base.Close()
	s.cancel()
	go s.abortTransfer()
}

// dispatch runs one command line.
func (s *session) dispatch(line string) {
	cmd, err := ftp.ParseCommand(line)
	if err != nil {
		s.reply(ftp.CodeSyntaxError, "Syntax error, command unrecognized.")
		s.countBad()
		return
	}
	s.setCommand(cmd.Verb, cmd.Arg)
	def, ok := commandTable[cmd.Verb]
	if !ok {
		s.replyf(ftp.CodeSyntaxError, "Unknown command %q.", truncate(cmd.Verb, 16))
		s.countBad()
		return
	}
	if !def.duringTransfer && s.transferring() {
		// Commands are answered in order: one that arrives while a
		// transfer runs waits for its final reply. QUIT does not wait
		// for local work (HASH) that only it would have read.
		if cmd.Verb == "QUIT" {
			s.abortLocal()
		}
		s.queued.set(cmd.Verb)
		s.awaitTransfer()
		s.queued.set("")
	}
	if cmd.Verb != "PASV" && cmd.Verb != "EPSV" && !def.duringTransfer {
		s.dropSpare()
	}
	if s.renameFrom != "" && cmd.Verb != "RNTO" && !def.duringTransfer {
		s.renameFrom = "" // RNTO must follow RNFR directly
	}
	if def.needLogin && s.acct == nil {
		s.reply(ftp.CodeNotLoggedIn, "Please log in with USER and PASS.")
		s.countBad()
		return
	}
	if def.needArg && cmd.Arg == "" {
		s.replyf(ftp.CodeArgumentError, "%s needs an argument.", cmd.Verb)
		s.countBad()
		return
	}
	if def.path && !ftp.ValidPathName(cmd.Arg) {
		s.reply(ftp.CodeBadFileName, "File name not allowed.")
		return
	}
	loggedIn := s.acct != nil
	err = def.handler(s, cmd.Arg)
	if loggedIn && s.acct == nil {
		s.loginFrom = time.Now() // logged out: a new login timeout
	}
	if err == nil {
		// The threshold counts rejected commands in a row; USER does not
		// break the row, so repeated USER/PASS guessing still trips it.
		if cmd.Verb != "USER" {
			s.badCount = 0
		}
		return
	}
	if c := ftp.CodeOf(err); c == ftp.CodeArgumentError || c == ftp.CodeSyntaxError {
		if s.countBad() {
			return
		}
	}
	s.replyError(err)
}

// pendingLine is a command line read ahead, or the error in its place.
type pendingLine struct {
	line string
	err  error
}

// maxPending bounds the commands read ahead behind a queued one; past it
// the client waits, as it would for a server that reads no further.
const maxPending = 32

// awaitTransfer waits for the running transfer's final reply while a
// command is queued behind it, reading the control connection meanwhile:
// an ABOR behind the queued command acts at once (RFC 959 §4.1.3: the
// transfer's 426, then ABOR's 226), whatever is queued before it, and is
// the only command that overtakes; the others are kept, in order, for
// readCommand.
func (s *session) awaitTransfer() {
	t := s.currentTransfer()
	for t != nil && !s.closing.Load() && s.readErr == nil && len(s.pending) < maxPending {
		line, err := s.readAhead()
		if errors.Is(err, errTransferOver) {
			return
		}
		var ne net.Error
		switch {
		case err == nil && isVerb(line, "ABOR"):
			s.dispatch(line)
		case err == nil || errors.Is(err, ftp.ErrLineTooLong):
			if isVerb(line, "QUIT") {
				s.abortLocal() // as in dispatch
				s.queued.found(aheadQuit)
			}
			s.pending = append(s.pending, pendingLine{line, err})
			if isVerb(line, "AUTH") || isVerb(line, "CCC") || isVerb(line, "REIN") {
				// What follows belongs to the connection's next
				// security state: it must stay unread, where AUTH
				// finds (and refuses) commands sent before the
				// handshake, and CCC and REIN read up to the close_notify.
				s.queued.found(aheadParked)
				<-t.done
				return
			}
		case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, ErrServerClosed):
			// The idle timeout never ends a session during a transfer;
			// shutdown (the transfer may finish) is seen above.
		default:
			// The client hung up or the connection failed: what was
			// read still runs (a transfer is not cut short, so an
			// upload the client finished is kept), the error ends the
			// session after it. Local work has nobody to answer.
			s.readErr = err
			s.abortLocal()
			s.queued.found(aheadEnded)
		}
		t = s.currentTransfer()
	}
	if t != nil {
		// Reading stopped while the transfer runs: the rest of the
		// input stays unread until its reply (see uploadComplete).
		s.queued.found(aheadParked)
		<-t.done
	}
}

// errTransferOver is readAhead's way of saying the transfer has ended.
var errTransferOver = errors.New("transfer over")

// readAhead reads one command line while a transfer runs; the transfer's
// end interrupts it (see startTransfer).
func (s *session) readAhead() (string, error) {
	idle := durationOr(s.srv.IdleTimeout, DefaultIdleTimeout)
	s.aheadMu.Lock()
	s.readingAhead = true
	s.conn.SetReadDeadline(time.Now().Add(idle))
	s.aheadMu.Unlock()
	defer func() {
		s.aheadMu.Lock()
		s.readingAhead = false
		// An interruption the read did not see must not cut the next
		// read (AUTH's handshake, CCC's close_notify) short.
		s.conn.SetReadDeadline(time.Now().Add(idle))
		s.aheadMu.Unlock()
	}()
	// After the deadline is set: a transfer ending from here on sees
	// readingAhead and interrupts the read; one that ended before is
	// seen here.
	if !s.transferring() {
		return "", errTransferOver
	}
	if s.closing.Load() {
		return "", ErrServerClosed // Shutdown's deadline may be gone
	}
	line, err := s.lr.ReadLine()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !s.transferring() {
			return "", errTransferOver
		}
		return "", err
	}
	return string(line), nil
}

// isVerb reports whether line is a verb command (Telnet IP and Synch,
// which may come before an ABOR, are gone by now: see ftp.LineReader).
func isVerb(line, verb string) bool {
	cmd, err := ftp.ParseCommand(line)
	return err == nil && cmd.Verb == verb
}

// wakeReader interrupts the control loop's read ahead, if it is in one,
// once the transfer it waits for has ended.
func (s *session) wakeReader() {
	s.aheadMu.Lock()
	defer s.aheadMu.Unlock()
	if s.readingAhead {
		s.base.SetReadDeadline(time.Now())
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// resolve turns a client path into the virtual absolute path for storage.
func (s *session) resolve(arg string) string {
	return ftp.JoinPath(s.cwd, arg)
}

// inDir reports whether p lies strictly below dir (both clean, absolute).
func inDir(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return len(p) > len(dir) && p[:len(dir)] == dir && p[len(dir)] == '/'
}
