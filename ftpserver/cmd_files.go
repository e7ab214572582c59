package ftpserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/ferry-ftp/ferry/ftp"
)

// takeRest returns and clears the REST offset: it applies to one transfer.
func (s *session) takeRest() int64 {
	n := s.restOffset
	s.restOffset = 0
	return n
}

func cmdRETR(s *session, arg string) error {
	offset := s.takeRest()
	p := s.resolve(arg)
	if err := s.allow(p, PermDownload); err != nil {
		return err
	}
	// Open first and describe the open file where the backend allows
	// (an *os.File): one path walk instead of two per download.
	r, err := s.acct.FS.Open(s.ctx, p, offset)
	if err != nil {
		if errors.Is(err, ErrIsDir) {
			return ftp.Errorf(ftp.CodeActionNotTaken, "Not a regular file.")
		}
		if offset > 0 {
			// A backend may fail to seek where no file can reach (lseek
			// EINVAL past the largest file size): the client's error.
			if fi, serr := s.acct.FS.Stat(s.ctx, p); serr == nil && fi.Mode().IsRegular() && offset > fi.Size() {
				return restBeyondEnd(offset, fi.Size())
			}
		}
		return err
	}
	fi, err := openFileInfo(s, r, p)
	if err == nil && !fi.Mode().IsRegular() {
		err = ftp.Errorf(ftp.CodeActionNotTaken, "Not a regular file.")
	}
	if err == nil {
		err = s.mayRead(fi)
	}
	if err == nil && offset > fi.Size() {
		err = restBeyondEnd(offset, fi.Size())
	}
	if err != nil {
		r.Close()
		return err
	}
	c := s.coding()
	c.offset = offset
	open := s.trf("Opening %s mode data connection for %s (%d bytes).", s.describeMode(), quoteName(path.Base(p)), fi.Size()-offset)
	return s.startTransfer("RETR", p, fi.Size()-offset, offset, open, "Transfer complete.",
		func(t *transfer, conn net.Conn) error {
			return s.download(t, conn, c, r)
		},
		func() { r.Close() })
}

// restBeyondEnd refuses a restart offset past the end of the file.
func restBeyondEnd(offset, size int64) error {
	return ftp.Errorf(ftp.CodeArgumentError, "Restart offset %d is beyond the end of the file (%d bytes).", offset, size)
}

// openFileInfo describes an opened file: from the file itself when it can
// say (an *os.File), else from the backend.
func openFileInfo(s *session, r io.Reader, p string) (fs.FileInfo, error) {
	if st, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil {
			return fi, nil
		}
	}
	return s.acct.FS.Stat(s.ctx, p)
}

func cmdSTOR(s *session, arg string) error {
	return s.store("STOR", s.resolve(arg), WriteTruncate, false)
}

func cmdAPPE(s *session, arg string) error {
	s.takeRest()
	return s.store("APPE", s.resolve(arg), WriteAppend, false)
}

func cmdSTOU(s *session, arg string) error {
	s.takeRest()
	base := "ferry"
	if arg != "" {
		base = path.Base(s.resolve(arg))
	}
	dir := s.cwd
	if arg != "" {
		dir = path.Dir(s.resolve(arg))
	}
	// Try a few random suffixes; Exclusive creation makes the choice safe
	// against a concurrent upload of the same name.
	for i := 0; i < 8; i++ {
		var rnd [4]byte
		rand.Read(rnd[:])
		name := path.Join(dir, base+"."+hex.EncodeToString(rnd[:]))
		err := s.store("STOU", name, WriteTruncate, true)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return err
	}
	return ftp.Errorf(ftp.CodeActionNotTaken, "Could not find a unique file name.")
}

// store runs STOR, APPE and STOU: permission check, create, then the
// transfer; 226 only after the backend has committed the data durably.
func (s *session) store(verb, p string, mode WriteMode, exclusive bool) error {
	offset := int64(0)
	if verb == "STOR" {
		offset = s.takeRest()
	}
	existing, statErr := s.acct.FS.Stat(s.ctx, p)
	if statErr == nil && existing.IsDir() {
		return ftp.Errorf(ftp.CodeActionNotTaken, "Is a directory.")
	}
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return statErr
	}
	// A new name needs upload; changing an existing file, overwrite.
	// (Anonymous upload areas allow the first only.)
	need := PermOverwrite
	if statErr != nil && offset == 0 {
		need = PermUpload
	}
	if err := s.allow(p, need); err != nil {
		return err
	}
	if s.acct.permAt(p)&PermOverwrite == 0 {
		// Allowed as a new file only: the name must still be free when
		// the upload is published, or a concurrent upload of the same
		// name would be replaced.
		exclusive = true
	}
	if offset > 0 {
		size := int64(0)
		if statErr == nil {
			size = existing.Size()
		}
		if offset > size {
			return restBeyondEnd(offset, size)
		}
		mode = WriteAt
	}
	w, err := s.acct.FS.Create(s.ctx, p, CreateOptions{Mode: mode, Offset: offset, Upload: s.srv.Upload, Exclusive: exclusive})
	if err != nil {
		return err
	}
	c := s.coding()
	c.offset = offset
	if mode == WriteAppend && statErr == nil {
		c.offset = existing.Size()
	}
	open := s.trf("Ok to send data for %s.", quoteName(path.Base(p)))
	done := "Transfer complete."
	if verb == "STOU" {
		open = s.trf("FILE: %s", quoteName(path.Base(p)))
		done = s.trf("Transfer complete (unique file name: %s).", quoteName(path.Base(p)))
	}
	finished := false
	// Ending an upload must happen even once the session is over (a
	// killed client), so it does not take the session's cancellation;
	// it is bounded as any step of a transfer is, so a backend that hangs
	// cannot hold the session (and its address's slot) for ever.
	endCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(s.ctx), durationOr(s.srv.DataTimeout, DefaultDataTimeout))
	}
	end := func(why AbortReason) {
		finished = true
		ctx, cancel := endCtx()
		defer cancel()
		if err := w.Abort(ctx, why); err != nil {
			s.log.Error("aborting upload", "file", p, "reason", why, "err", err)
		}
	}
	return s.startTransfer(verb, p, -1, offset, open, done,
		func(t *transfer, conn net.Conn) error {
			err := s.upload(t, conn, c, w)
			if err == nil && c.mode != modeBlock {
				// In MODE B the EOF block has said the file is whole.
				err = s.uploadComplete(t)
			}
			if err != nil {
				end(abortReason(t, err))
				return err
			}
			finished = true
			ctx, cancel := endCtx()
			defer cancel()
			return w.Commit(ctx)
		},
		func() {
			if !finished {
				// The transfer never ran its body (no data connection)
				// or panicked: nothing arrived that should be kept.
				end(AbortFailed)
			}
		})
}

// abortReason says whose fault the end of an upload with err is: the
// client's (it stopped sending) or the server's (it could not store).
func abortReason(t *transfer, err error) AbortReason {
	if t.isAborted() || errors.Is(err, errAborted) || isNetError(err) {
		return AbortInterrupted
	}
	return AbortFailed
}

func cmdDELE(s *session, arg string) error {
	p := s.resolve(arg)
	if err := s.allow(p, PermDelete); err != nil {
		return err
	}
	if err := s.acct.FS.Remove(s.ctx, p); err != nil {
		return err
	}
	s.reply(ftp.CodeFileActionOK, "File deleted.")
	return nil
}

func cmdRMD(s *session, arg string) error {
	p := s.resolve(arg)
	if p == "/" {
		return ftp.Errorf(ftp.CodeActionNotTaken, "Permission denied.")
	}
	if err := s.allow(p, PermRmdir); err != nil {
		return err
	}
	if err := s.acct.FS.RemoveDir(s.ctx, p); err != nil {
		return err
	}
	s.reply(ftp.CodeFileActionOK, "Directory removed.")
	return nil
}

func cmdMKD(s *session, arg string) error {
	p := s.resolve(arg)
	if err := s.allow(p, PermMkdir); err != nil {
		return err
	}
	if err := s.acct.FS.Mkdir(s.ctx, p); err != nil {
		return err
	}
	s.replyf(ftp.CodePathCreated, "%s created.", quotePath(p))
	return nil
}

func cmdRNFR(s *session, arg string) error {
	p := s.resolve(arg)
	if p == "/" {
		return ftp.Errorf(ftp.CodeActionNotTaken, "Permission denied.")
	}
	if err := s.allow(p, PermRename); err != nil {
		return err
	}
	if _, err := s.acct.FS.Stat(s.ctx, p); err != nil {
		return err
	}
	s.renameFrom = p
	s.reply(ftp.CodePendingFurtherInfo, "Ready for RNTO.")
	return nil
}

func cmdRNTO(s *session, arg string) error {
	from := s.renameFrom
	s.renameFrom = ""
	if from == "" {
		return ftp.Errorf(ftp.CodeBadSequence, "RNFR required first.")
	}
	to := s.resolve(arg)
	if err := s.allow(to, PermRename); err != nil {
		return err
	}
	if s.acct.permAt(to)&PermOverwrite == 0 {
		// Renaming onto a file replaces it: without overwrite, only
		// onto a free name.
		if _, err := s.acct.FS.Stat(s.ctx, to); err == nil {
			return s.allow(to, PermOverwrite)
		}
	}
	if to == from || inDir(to, from) {
		return ftp.Errorf(ftp.CodeActionNotTaken, "Cannot move a directory into itself.")
	}
	if err := s.acct.FS.Rename(s.ctx, from, to); err != nil {
		return err
	}
	s.reply(ftp.CodeFileActionOK, "Rename successful.")
	return nil
}

func cmdSIZE(s *session, arg string) error {
	p := s.resolve(arg)
	if err := s.allow(p, PermList); err != nil {
		return err
	}
	fi, err := s.acct.FS.Stat(s.ctx, p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return ftp.Errorf(ftp.CodeActionNotTaken, "Not a regular file.")
	}
	// The size on disk in every TYPE, as vsftpd and Pure-FTPd answer.
	// RFC 3659 §4 would have TYPE A count line ends, but Python's ftplib
	// and BSD ftp switch to TYPE A for listings and then call SIZE for the
	// byte count of a binary download; they would get a wrong number.
	s.reply(ftp.CodeFileStatus, strconv.FormatInt(fi.Size(), 10))
	return nil
}

func cmdMDTM(s *session, arg string) error {
	p := s.resolve(arg)
	if err := s.allow(p, PermList); err != nil {
		return err
	}
	fi, err := s.acct.FS.Stat(s.ctx, p)
	if err != nil {
		return err
	}
	s.reply(ftp.CodeFileStatus, ftp.FormatMDTM(fi.ModTime()))
	return nil
}

func cmdMFMT(s *session, arg string) error {
	stamp, name, ok := strings.Cut(arg, " ")
	if !ok || name == "" {
		return ftp.Errorf(ftp.CodeArgumentError, "MFMT needs a time and a path.")
	}
	t, err := ftp.ParseMDTM(stamp)
	if err != nil {
		return ftp.Errorf(ftp.CodeArgumentError, "Bad time value; want YYYYMMDDHHMMSS.")
	}
	p := s.resolve(name)
	if err := s.allow(p, PermChmod); err != nil {
		return err
	}
	if err := s.acct.FS.SetModTime(s.ctx, p, t); err != nil {
		return err
	}
	s.replyf(ftp.CodeFileStatus, "Modify=%s; %s", ftp.FormatMDTM(t), quoteName(name))
	return nil
}

func cmdAVBL(s *session, arg string) error {
	sr, ok := s.acct.FS.(SpaceReporter)
	if !ok {
		return ftp.Errorf(ftp.CodeNotImplemented, "AVBL not supported by this storage.")
	}
	p := s.resolve(arg)
	fi, err := s.acct.FS.Stat(s.ctx, p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return ftp.Errorf(ftp.CodeActionNotTaken, "Not a directory.")
	}
	n, err := sr.AvailableSpace(s.ctx, p)
	if err != nil {
		return err
	}
	s.reply(ftp.CodeFileStatus, strconv.FormatInt(n, 10))
	return nil
}

func cmdSITE(s *session, arg string) error {
	sub, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	switch strings.ToUpper(sub) {
	case "HELP":
		s.reply(ftp.CodeHelp, siteHelp())
		return nil
	case "CHMOD":
		if s.acct == nil {
			return ftp.Errorf(ftp.CodeNotLoggedIn, "Please log in with USER and PASS.")
		}
		return siteChmod(s, rest)
	}
	return ftp.Errorf(ftp.CodeNotImplemented, "Unknown SITE command.")
}

func siteHelp() string {
	return "The following SITE commands are recognized.\n CHMOD <mode> <path>\n HELP\nHelp OK."
}

func siteChmod(s *session, arg string) error {
	modeText, name, ok := strings.Cut(strings.TrimSpace(arg), " ")
	if !ok || name == "" {
		return ftp.Errorf(ftp.CodeArgumentError, "SITE CHMOD needs a mode and a path.")
	}
	mode, err := strconv.ParseUint(modeText, 8, 32)
	if err != nil || mode > 0o7777 {
		return ftp.Errorf(ftp.CodeArgumentError, "Bad mode; want octal such as 644.")
	}
	if !ftp.ValidPathName(name) {
		return ftp.Errorf(ftp.CodeBadFileName, "File name not allowed.")
	}
	ch, ok := s.acct.FS.(Chmoder)
	if !ok {
		return ftp.Errorf(ftp.CodeNotImplemented, "SITE CHMOD not supported by this storage.")
	}
	p := s.resolve(name)
	if err := s.allow(p, PermChmod); err != nil {
		return err
	}
	if err := ch.Chmod(s.ctx, p, fs.FileMode(mode)); err != nil {
		return err
	}
	s.reply(ftp.CodeOK, "SITE CHMOD command successful.")
	return nil
}

// peerState is what the client's side of the control connection shows.
type peerState int

const (
	peerOpen   peerState = iota
	peerClosed           // EOF: the client closed (or shut down) its side
	peerReset            // RST or another socket error
)

// queuedCommand is the verb of the command the control loop holds back
// while a transfer runs ("" when none), set by dispatch, and what the
// control loop's reading ahead behind it has found (see awaitTransfer);
// read by the transfer's goroutine (see uploadComplete).
type queuedCommand struct {
	mu      sync.Mutex
	verb    string
	ahead   aheadState
	changed chan struct{} // closed when verb or ahead changes; made on demand
}

// aheadState is what reading ahead behind a queued command has found.
type aheadState int

const (
	aheadReading aheadState = iota // reading on, or not started
	aheadQuit                      // a QUIT was read: the client is leaving after the transfer
	aheadEnded                     // the control input ended (EOF or error) with no QUIT read
	aheadParked                    // stopped reading (a bound, AUTH, CCC, shutdown): the rest is unread
)

// set records the verb held back and starts its reading ahead afresh.
func (q *queuedCommand) set(verb string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.verb, q.ahead = verb, aheadReading
	q.wake()
}

// found records what reading ahead found. A QUIT stands: what comes after
// it cannot change that the client finished.
func (q *queuedCommand) found(state aheadState) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ahead == aheadQuit || q.ahead == aheadEnded && state == aheadParked {
		return
	}
	q.ahead = state
	q.wake()
}

func (q *queuedCommand) wake() {
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// get returns the verb, what reading ahead found, and a channel closed
// when either changes.
func (q *queuedCommand) get() (string, aheadState, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.changed == nil {
		q.changed = make(chan struct{})
	}
	return q.verb, q.ahead, q.changed
}

// peekLimit bounds how much unread control input uploadComplete looks
// through for a QUIT.
const peekLimit = 4096

// uploadComplete decides whether an upload whose data connection ended
// with EOF is complete (nil) or the partial of a client that died
// (errAborted).
//
// In stream mode EOF on the data connection ends the file (RFC 959 3.4.1).
// But the kernel of a killed client closes its data connection with a FIN
// too, so the file is complete unless there is evidence that the client
// went away without QUIT:
//   - the control connection is open: the client is there, complete;
//   - a QUIT is queued, read by the control loop (held back, or read
//     ahead behind another command) or still unread before the control
//     EOF: the client finished and is leaving, complete (RFC 959: QUIT
//     during a transfer waits for the transfer's reply);
//   - the control connection was reset, or reached EOF with no QUIT before
//     it: killed, partial.
//
// While the control loop is still reading (its own next command, or ahead
// behind a queued one) it is left to read up to the EOF: it either finds a
// QUIT, which proves the client finished, or reaches the EOF, which ends
// the session (or, reading ahead, says so here) and aborts this transfer.
// Only input the control loop will not read now is peeked at.
func (s *session) uploadComplete(t *transfer) error {
	var aborted <-chan struct{}
	for {
		if t.isAborted() {
			return errAborted
		}
		verb, ahead, changed := s.queued.get()
		if verb == "QUIT" || ahead == aheadQuit {
			return nil
		}
		switch controlState(s.base) {
		case peerOpen:
			return nil
		case peerReset:
			return errAborted
		}
		if ahead == aheadEnded {
			return errAborted
		}
		// parked: the control loop holds a command back until this
		// transfer's reply and reads no further, so its line reader's
		// buffer can be looked through too.
		parked := verb != "" && ahead == aheadParked
		if parked || verb == "" && s.closing.Load() {
			if s.quitUnread(parked) {
				return nil
			}
			return errAborted
		}
		if aborted == nil {
			ctx, cancel := context.WithCancel(s.ctx)
			defer cancel()
			if !t.setCancel(cancel) {
				return errAborted
			}
			aborted = ctx.Done()
		}
		select {
		case <-changed:
		case <-aborted:
		}
	}
}

// quitUnread reports whether a QUIT line waits in the control input that
// the control loop has not read: in the socket and, when inLineReader
// (only while the control loop is held back, so it does not read the
// buffer meanwhile), in the line reader's buffer before it.
func (s *session) quitUnread(inLineReader bool) bool {
	var pending []byte
	if inLineReader && s.lr != nil {
		pending = append(pending, s.lr.PeekBuffered()...)
	}
	var buf [peekLimit]byte
	pending = append(pending, peekControl(s.conn, buf[:])...)
	return quitQueued(pending)
}

// quitQueued reports whether input, unread control-connection bytes, holds
// a complete QUIT command line. It reads them as the control loop would.
func quitQueued(input []byte) bool {
	lr := ftp.NewLineReader(bufio.NewReaderSize(bytes.NewReader(input), 512), ftp.MaxLine)
	for {
		line, err := lr.ReadLine()
		if errors.Is(err, ftp.ErrLineTooLong) {
			continue
		}
		if err != nil {
			return false
		}
		if cmd, err := ftp.ParseCommand(string(line)); err == nil && cmd.Verb == "QUIT" {
			return true
		}
	}
}
