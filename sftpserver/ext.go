package sftpserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pkg/sftp"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// SFTP status codes (draft-ietf-secsh-filexfer-02 §7).
const (
	fxOK            = 0
	fxEOF           = 1
	fxNoSuchFile    = 2
	fxPermission    = 3
	fxFailure       = 4
	fxBadMessage    = 5
	fxConnLost      = 7
	fxOpUnsupported = 8
)

// The request server's limits, in one place: what session.go configures
// pkg/sftp with and what limits@openssh.com tells clients.
const (
	// maxReadLength is the most data one READ reply carries
	// (sftp.WithRSMaxTxPacket); a client asking for more gets a short
	// read. As OpenSSH's sftp-server: a packet less room for its head.
	maxReadLength = maxPacket - 1024
	// maxWriteLength is the WRITE size clients are asked to use, as
	// OpenSSH's sftp-server asks. pkg/sftp's workers hand an upload's
	// writes over out of order, and the larger they are the sooner those
	// ahead of a gap pass what an upload holds (maxPending, files.go):
	// such writes wait for the gap there rather than failing.
	maxWriteLength = maxPacket - 1024
)

// serverExtensions are the extensions the filter adds to pkg/sftp's
// VERSION reply (which names posix-rename, statvfs and hardlink).
var serverExtensions = []struct{ name, data string }{
	{"fsync@openssh.com", "1"},
	{"limits@openssh.com", "1"},
	{"check-file", checkFileAlgorithmList},
}

// extensions serves the extended requests of one SFTP session that
// pkg/sftp does not.
type extensions struct {
	h      *handlers
	ctx    context.Context // ends with the session
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// slots bounds the requests served at once: when they are all
	// taken, the session's next request waits to be read, as pkg/sftp's
	// busy workers make it wait.
	slots chan struct{}
}

// maxExtensionsRunning is how many fsync and check-file requests of one
// session run at once.
const maxExtensionsRunning = 4

func newExtensions(h *handlers) *extensions {
	ctx, cancel := context.WithCancel(h.ctx())
	return &extensions{h: h, ctx: ctx, cancel: cancel, slots: make(chan struct{}, maxExtensionsRunning)}
}

// stop cancels what is running and waits for it.
func (e *extensions) stop() {
	e.cancel()
	e.wg.Wait()
}

// serve handles the extended request name with its arguments (args is
// only valid during the call) and reports whether it is one of the
// filter's; other names are left to pkg/sftp.
func (e *extensions) serve(f *filter, id uint32, name string, args []byte) bool {
	e.h.c.note(name)
	switch name {
	case "limits@openssh.com":
		e.reply(f, limitsReply(id))
	case "fsync@openssh.com":
		handle, _, ok := sshString(args)
		if !ok {
			e.reply(f, statusPacket(id, fxBadMessage, "Bad message"))
			return true
		}
		e.spawn(func() { e.reply(f, e.fsync(f, id, string(handle))) })
	case "check-file-handle", "check-file-name":
		req, err := parseCheckFile(name, args)
		if err != nil {
			e.reply(f, statusPacket(id, fxBadMessage, "Bad message"))
			return true
		}
		e.spawn(func() { e.reply(f, e.checkFile(f, id, req)) })
	default:
		return false
	}
	return true
}

// spawn runs fn beside the packet loop: a slow disk or a long hash must
// not hold up the session's other requests.
func (e *extensions) spawn(fn func()) {
	select {
	case e.slots <- struct{}{}:
	case <-e.ctx.Done():
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() { <-e.slots }()
		defer func() {
			var err error
			e.h.c.recoverPanic(&err)
		}()
		fn()
	}()
}

func (e *extensions) reply(f *filter, pkt []byte) {
	if err := f.send(pkt); err != nil && e.ctx.Err() == nil {
		e.h.c.log.Debug("sftp extension reply not sent", "err", err)
	}
}

// limitsReply answers limits@openssh.com (OpenSSH's PROTOCOL §4.8):
// OpenSSH's sftp sizes its reads and writes from it. Handles are not
// limited by the server (0).
func limitsReply(id uint32) []byte {
	b := packetHead(fxpExtendedReply, id)
	b = binary.BigEndian.AppendUint64(b, maxPacket)
	b = binary.BigEndian.AppendUint64(b, maxReadLength)
	b = binary.BigEndian.AppendUint64(b, maxWriteLength)
	b = binary.BigEndian.AppendUint64(b, 0)
	return finishPacket(b)
}

// fsync serves fsync@openssh.com: once every WRITE sent on the handle
// before it is answered, the upload's bytes so far are made durable by
// the backend (ftpserver.Syncer: fsync of the staging file on local
// disk). A backend without it (an object store, whose upload is durable
// only once committed) answers "operation unsupported". On a download
// handle there is nothing to make durable: OK, as fsync(2) of a file
// opened for reading.
func (e *extensions) fsync(f *filter, id uint32, handle string) []byte {
	h := f.handle(handle)
	switch {
	case h == nil:
		return statusPacket(id, fxFailure, "No such handle")
	case h.dir:
		return statusPacket(id, fxFailure, "Not a file")
	}
	if err := f.awaitWrites(e.ctx, h); err != nil {
		return statusPacket(id, fxConnLost, "Connection lost")
	}
	if h.file.w == nil {
		return statusPacket(id, fxOK, "OK")
	}
	return statusFor(id, h.file.w.Sync(e.ctx))
}

// Sync makes what the upload wrote so far durable (fsync@openssh.com).
// Data held ahead of a gap (a WRITE beyond one not yet received) cannot
// be: the request fails rather than claim it.
func (f *fileWriter) Sync(ctx context.Context) (err error) {
	defer f.h.c.recoverPanic(&err)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return &codeError{sftp.ErrSSHFxFailure, "File closed"}
	case f.failed != nil:
		return f.h.status("sync", f.path, f.failed)
	case f.w == nil:
		return nil // nothing written yet
	case len(f.pending) > 0:
		return &codeError{sftp.ErrSSHFxFailure, "Data after a gap cannot be made durable"}
	}
	s, ok := f.w.(ftpserver.Syncer)
	if !ok {
		return sftp.ErrSSHFxOpUnsupported
	}
	return f.h.status("sync", f.path, s.Sync(ctx))
}

// statusFor is the STATUS reply for an error from handlers.status (whose
// messages are chosen to be shown to clients).
func statusFor(id uint32, err error) []byte {
	if err == nil {
		return statusPacket(id, fxOK, "OK")
	}
	for _, c := range []struct {
		err  error
		code uint32
	}{
		{sftp.ErrSSHFxEOF, fxEOF},
		{sftp.ErrSSHFxNoSuchFile, fxNoSuchFile},
		{sftp.ErrSSHFxPermissionDenied, fxPermission},
		{sftp.ErrSSHFxBadMessage, fxBadMessage},
		{sftp.ErrSSHFxConnectionLost, fxConnLost},
		{sftp.ErrSSHFxOpUnsupported, fxOpUnsupported},
	} {
		if errors.Is(err, c.err) {
			return statusPacket(id, c.code, err.Error())
		}
	}
	var ce *codeError
	if errors.As(err, &ce) {
		return statusPacket(id, fxFailure, ce.msg)
	}
	return statusPacket(id, fxFailure, "Failure")
}

// statusPacket is an SSH_FXP_STATUS reply.
func statusPacket(id, code uint32, msg string) []byte {
	b := packetHead(fxpStatus, id)
	b = binary.BigEndian.AppendUint32(b, code)
	b = appendString(b, msg)
	b = appendString(b, "en")
	return finishPacket(b)
}

// packetHead starts a packet: room for the length, the type, the id.
func packetHead(typ byte, id uint32) []byte {
	b := make([]byte, 4, 64)
	b = append(b, typ)
	return binary.BigEndian.AppendUint32(b, id)
}

// finishPacket fills in the length.
func finishPacket(b []byte) []byte {
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// openTracker is the FileGet and FilePut pkg/sftp is given: the session's
// handlers, telling the filter of each file opened, so that it can bind
// the HANDLE reply to the upload.
type openTracker struct {
	*handlers
	f *filter
}

func (t openTracker) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	rd, err := t.handlers.Fileread(r)
	if err == nil {
		fr, _ := rd.(*fileReader)
		t.f.fileOpened(r.Filepath, nil, fr)
	}
	return rd, err
}

func (t openTracker) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	wr, err := t.handlers.Filewrite(r)
	if err == nil {
		fw, _ := wr.(*fileWriter)
		t.f.fileOpened(r.Filepath, fw, nil)
	}
	return wr, err
}

var errNoAlgorithm = fmt.Errorf("no hash algorithm in common: %w", ftpserver.ErrNotSupported)
