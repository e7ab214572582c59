package sftpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Fileread opens a file for download, checked as FTP's RETR is: the
// download permission, and for an account limited to world-readable
// files, the file's o+r bit.
func (h *handlers) Fileread(r *sftp.Request) (_ io.ReaderAt, err error) {
	defer h.c.recoverPanic(&err)
	h.c.note("open(read)", r.Filepath)
	p, err := vpath(r.Filepath)
	if err == nil {
		err = h.allowed(p, ftpserver.PermDownload)
	}
	if err != nil {
		return nil, h.status("open", r.Filepath, err)
	}
	fsys := h.acct.FS
	fi, err := fsys.Stat(h.ctx(), p)
	switch {
	case err != nil:
	case fi.IsDir():
		err = ftpserver.ErrIsDir
	case h.acct.WorldReadableOnly && fi.Mode().Perm()&0o004 == 0:
		err = fmt.Errorf("%w: not readable by everyone", fs.ErrPermission)
	}
	if err != nil {
		return nil, h.status("open", p, err)
	}
	rc, err := fsys.Open(h.ctx(), p, 0)
	if err != nil {
		return nil, h.status("open", p, err)
	}
	fr := &fileReader{openFile: h.open(p), size: fi.Size(), rc: rc}
	fr.live = h.c.startTransfer("RETR", p, fi.Size())
	fr.ra, _ = rc.(io.ReaderAt)
	return fr, nil
}

// fileReader serves a download's reads. SFTP reads name their offset;
// a backend file that is an io.ReaderAt (a local *os.File) is read
// there directly, any other stream is read in order and reopened at a
// new offset when the client jumps.
type fileReader struct {
	openFile
	size int64

	rc    io.ReadCloser
	ra    io.ReaderAt // rc, when it is one
	pos   int64       // rc's position when ra is nil
	hist  []byte      // the last bytes read from rc, up to pos
	bytes int64       // moved to the client
	end   int64       // the furthest offset read
	eof   bool
	err   error
}

func (f *fileReader) ReadAt(b []byte, off int64) (_ int, err error) {
	defer f.h.c.recoverPanic(&err)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, sftp.ErrSSHFxFailure
	}
	var n int
	if f.ra != nil {
		n, err = f.ra.ReadAt(b, off)
	} else {
		n, err = f.streamReadAt(b, off)
	}
	f.bytes += int64(n)
	f.live.bytes.Add(int64(n))
	f.end = max(f.end, off+int64(n))
	if werr := wait(f.h.ctx(), f.h.acct.DownloadLimit, n); werr != nil && err == nil {
		err = werr
	}
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF):
		f.eof = true
		return n, io.EOF
	}
	f.err = err
	return n, f.h.status("read", f.path, err)
}

// maxHistory is how far behind or ahead of a streamed download a read
// may be and still be served from the stream: pkg/sftp's workers (8)
// hand reads over out of order, so the reads served at once span up to
// 8 of the largest (maxReadLength, just under 256 KiB).
const maxHistory = 8 * maxPacket

// streamReadAt serves a read of a backend stream that cannot seek: from
// the bytes already read when off is a little behind the stream, by
// reading on when it is a little ahead, and by reopening the file at off
// otherwise (a client that jumps).
func (f *fileReader) streamReadAt(b []byte, off int64) (int, error) {
	histStart := f.pos - int64(len(f.hist))
	if off < histStart || off > f.pos+maxHistory {
		f.rc.Close()
		f.hist = f.hist[:0]
		rc, err := f.h.acct.FS.Open(f.h.ctx(), f.path, off)
		if err != nil {
			f.rc = io.NopCloser(eofReader{})
			return 0, err
		}
		f.rc, f.pos, histStart = rc, off, off
	}
	var err error
	for f.pos < off+int64(len(b)) && err == nil {
		if f.pos == off {
			// In order: straight into b, kept for a later read behind.
			var n int
			n, err = io.ReadFull(f.rc, b)
			f.pos += int64(n)
			f.remember(b[:n])
			break
		}
		chunk := make([]byte, min(off+int64(len(b))-f.pos, 256<<10))
		var n int
		n, err = io.ReadFull(f.rc, chunk)
		f.pos += int64(n)
		f.remember(chunk[:n])
	}
	histStart = f.pos - int64(len(f.hist))
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	if off < histStart {
		return 0, sftp.ErrSSHFxFailure // cannot happen: reads are smaller than maxHistory
	}
	if off >= f.pos { // at or past the end of the file
		if err == nil {
			err = io.EOF
		}
		return 0, err
	}
	n := copy(b, f.hist[off-histStart:])
	if n == len(b) {
		err = nil
	} else if err == nil {
		err = io.EOF
	}
	return n, err
}

// remember appends p to the history; past twice maxHistory its oldest
// bytes are dropped down to maxHistory (so each byte is moved at most
// once more).
func (f *fileReader) remember(p []byte) {
	f.hist = append(f.hist, p...)
	if len(f.hist) > 2*maxHistory {
		f.hist = append(f.hist[:0], f.hist[len(f.hist)-maxHistory:]...)
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// openFile is what downloads and uploads share: the session's count of
// open files, and knowing whether the connection was lost under them.
type openFile struct {
	h     *handlers
	path  string
	start time.Time
	live  *liveTransfer // what Sessions shows of it

	mu          sync.Mutex
	interrupted bool
	closed      bool
}

func (h *handlers) open(path string) openFile {
	h.c.openFiles.Add(1)
	return openFile{h: h, path: path, start: time.Now()}
}

// TransferError is told why the connection ended with the file open:
// the client is gone, so the transfer is reported aborted (an upload is
// aborted as an interrupted one).
func (f *openFile) TransferError(error) {
	f.mu.Lock()
	f.interrupted = true
	f.mu.Unlock()
}

// close marks the file closed, reporting false when it was already;
// f.mu is held.
func (f *openFile) close() bool {
	if f.closed {
		return false
	}
	f.closed = true
	f.h.c.openFiles.Add(-1)
	f.h.c.endTransfer(f.live)
	return true
}

// Close ends the download and reports it: complete when the client read
// to the end of the file.
func (f *fileReader) Close() (err error) {
	defer f.h.c.recoverPanic(&err)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.close() {
		return nil
	}
	f.rc.Close()
	result, err := ftpserver.TransferOK, f.err
	switch {
	case err != nil:
		result = ftpserver.TransferFailed
	case !f.eof && f.end < f.size || f.interrupted:
		result, err = ftpserver.TransferAborted, errIncomplete
	}
	f.h.record(ftpserver.Download, f.path, 0, f.start, f.bytes, result, err)
	return nil
}

// errIncomplete is a transfer's error when the client stopped before the
// end of the file, or the connection was lost.
var errIncomplete = errors.New("transfer not completed by the client")

// maxPending bounds the out-of-order upload data held while waiting for
// the write that fills the gap before it. A write ahead that would pass
// it waits for the stream to move instead (see WriteAt), which holds the
// client back as a full window does.
const maxPending = 4 << 20

// gapWait bounds how long a write ahead waits without the stream moving
// before it fails: far longer than a backend write of the gap takes, so
// only a client that never sends the gap pays it.
const gapWait = time.Minute

// Filewrite opens a file for upload. The file is created through the
// backend's Create with the server's upload mode, as FTP's STOR does:
// nothing is visible at the name before Close commits it (except what
// the mode documents for an interrupted upload). Opened with truncation
// or as a new file, it is created at once (so errors come at open);
// opened over an existing file without truncation, the first write
// decides where the upload starts, as REST n + STOR: at its offset when
// that is within the file (the bytes before it are kept), at the file's
// end when it is past it. A client resuming from the end sends several
// writes at once and pkg/sftp's workers may hand a later one over first;
// it waits as pending for the ones before it. (What OpenSSH's reput does
// with the append flag starts at the end at once.)
func (h *handlers) Filewrite(r *sftp.Request) (_ io.WriterAt, err error) {
	defer h.c.recoverPanic(&err)
	h.c.note("open(write)", r.Filepath)
	p, err := vpath(r.Filepath)
	if err != nil {
		return nil, h.status("open", r.Filepath, err)
	}
	flags := r.Pflags()
	fsys := h.acct.FS
	fi, err := fsys.Stat(h.ctx(), p)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
	case exists && fi.IsDir():
		err = ftpserver.ErrIsDir
	case exists && flags.Creat && flags.Excl:
		err = fs.ErrExist
	case !exists && !flags.Creat:
	case exists:
		err = h.allowed(p, ftpserver.PermOverwrite)
	default:
		err = h.allowed(p, ftpserver.PermUpload)
	}
	if err != nil {
		return nil, h.status("open", p, err)
	}
	fw := &fileWriter{openFile: openFile{h: h, path: p, start: time.Now()}, exclusive: flags.Excl}
	if exists {
		fw.size = fi.Size()
	}
	switch {
	case flags.Trunc || !exists:
		err = fw.create(ftpserver.WriteTruncate, 0)
	case flags.Append:
		err = fw.create(ftpserver.WriteAppend, fi.Size())
	}
	if err != nil {
		return nil, h.status("open", p, err)
	}
	h.c.openFiles.Add(1)
	fw.live = h.c.startTransfer("STOR", p, -1)
	fw.releaseHeap = holdHeapRoom(h.c.srv.UploadHeapRoom)
	return fw, nil
}

// fileWriter turns SFTP's positioned writes into the backend's stream.
// pkg/sftp's workers hand writes over out of order, so one that arrives
// ahead of a gap is held (up to maxPending) until the gap is filled. A
// write behind what was already written is refused: the backend stream
// cannot go back. With the append flag the offsets are honoured too
// (SFTP v3 says they are ignored, but out-of-order handling leaves no
// arrival order to append in): OpenSSH's reput writes from the file's
// size, where the stream starts.
type fileWriter struct {
	openFile
	exclusive bool
	// moved is closed (and replaced) when the stream moves on, fails or
	// the file is closed: what the waiters, writes waiting for a gap,
	// wait for.
	moved   chan struct{}
	waiters int

	w            ftpserver.FileWriter // nil until created
	size         int64                // the existing file's size, where a resume may start
	offset       int64                // where the upload started
	next         int64                // the offset the stream is at
	pending      map[int64][]byte
	pendingBytes int
	bytes        int64
	failed       error
	releaseHeap  func() // ends this upload's hold of UploadHeapRoom
}

func (f *fileWriter) create(mode ftpserver.WriteMode, at int64) error {
	w, err := f.h.acct.FS.Create(f.h.ctx(), f.path, ftpserver.CreateOptions{
		Mode:      mode,
		Offset:    at,
		Upload:    f.h.c.srv.Upload,
		Exclusive: f.exclusive,
	})
	if err != nil {
		return err
	}
	f.w, f.offset, f.next = w, at, at
	return nil
}

// WriteAt writes b at off. pkg/sftp's workers call it out of order, even
// for a client that sends its writes in order, and with OpenSSH's 64
// requests of up to 255 KiB in flight, writes can run further ahead of
// the stream than maxPending. Such a write waits for the stream to move:
// the write that fills the gap was sent before it, so it is in another
// worker already. A client that really sends out of order could have
// every worker wait for a gap that is still queued behind them: one
// worker of the session never waits (waitSlots), and its write ahead
// fails instead, as does one that waits gapWait in vain.
func (f *fileWriter) WriteAt(b []byte, off int64) (int, error) {
	return f.writeAt(b, off, true)
}

// writeAt is WriteAt; mayWait false never waits for a gap (a write ahead
// that cannot be held fails), for the filter's writes served in arrival
// order (inline.go), where the gap could only come after it.
func (f *fileWriter) writeAt(b []byte, off int64, mayWait bool) (_ int, err error) {
	defer f.h.c.recoverPanic(&err)
	f.mu.Lock()
	defer f.mu.Unlock()
	if mayWait {
		f.awaitRoom(off, len(b))
	}
	switch {
	case f.closed:
		return 0, sftp.ErrSSHFxFailure
	case f.failed != nil:
		return 0, f.h.status("write", f.path, f.failed)
	case f.w == nil:
		if err := f.create(ftpserver.WriteAt, min(off, f.size)); err != nil {
			f.fail(err)
			return 0, f.h.status("open", f.path, err)
		}
	}
	switch {
	case off == f.next:
		if err := f.write(b); err != nil {
			return 0, err
		}
		for f.pending != nil {
			next, ok := f.pending[f.next]
			if !ok {
				break
			}
			delete(f.pending, f.next)
			f.pendingBytes -= len(next)
			if err := f.write(next); err != nil {
				return 0, err
			}
		}
		f.wake()
		return len(b), nil
	case off > f.next && f.pendingBytes+len(b) <= maxPending:
		if f.pending == nil {
			f.pending = map[int64][]byte{}
		}
		if old, ok := f.pending[off]; ok {
			f.pendingBytes -= len(old)
		}
		f.pending[off] = append([]byte(nil), b...)
		f.pendingBytes += len(b)
		return len(b), nil
	}
	f.fail(fmt.Errorf("%w: write at %d, upload at %d", ftpserver.ErrNotSupported, off, f.next))
	return 0, &codeError{sftp.ErrSSHFxOpUnsupported, "Writes must go forward: rewriting uploaded data is not supported"}
}

// awaitRoom waits, f.mu held (released meanwhile), while a write of n
// bytes at off is ahead of the stream and would pass maxPending: until
// the stream moves, the upload fails or ends, gapWait passes, or the
// connection ends. It returns at once when the session's other workers
// could all be waiting (see WriteAt).
func (f *fileWriter) awaitRoom(off int64, n int) {
	var deadline <-chan time.Time
	for f.w != nil && !f.closed && f.failed == nil && off > f.next && f.pendingBytes+n > maxPending {
		if deadline == nil {
			t := time.NewTimer(gapWait)
			defer t.Stop()
			deadline = t.C
		}
		if !f.h.waiting.acquire() {
			return
		}
		if f.moved == nil {
			f.moved = make(chan struct{})
		}
		moved := f.moved
		f.waiters++
		f.mu.Unlock()
		select {
		case <-moved:
		case <-deadline:
		case <-f.h.ctx().Done():
		}
		f.mu.Lock()
		select {
		case <-moved: // wake gave the slot back
		default:
			f.waiters--
			f.h.waiting.release(1)
			return
		}
	}
}

// wake lets the writes waiting in awaitRoom look again; f.mu is held.
// Their slots are given back here, not when each of them runs again: the
// worker that filled the gap may take the next write ahead before they
// do, and must find a slot free.
func (f *fileWriter) wake() {
	if f.moved != nil {
		close(f.moved)
		f.moved = nil
		f.h.waiting.release(f.waiters)
		f.waiters = 0
	}
}

// fail ends the upload with err; f.mu is held.
func (f *fileWriter) fail(err error) {
	f.failed = err
	f.wake()
}

// waitSlots counts a session's writes waiting in awaitRoom: fewer than
// pkg/sftp's workers for reads and writes, so that one is always free to
// take the next request (the gap, when a client sends out of order).
type waitSlots struct{ n atomic.Int32 }

func (w *waitSlots) acquire() bool {
	if w.n.Add(1) > int32(sftp.SftpServerWorkerCount-1) {
		w.n.Add(-1)
		return false
	}
	return true
}

func (w *waitSlots) release(n int) { w.n.Add(-int32(n)) }

// write sends b to the backend at f.next, paced by the upload limit.
func (f *fileWriter) write(b []byte) error {
	if err := wait(f.h.ctx(), f.h.acct.UploadLimit, len(b)); err != nil {
		f.fail(err)
		return f.h.status("write", f.path, err)
	}
	n, err := f.w.Write(b)
	f.next += int64(n)
	f.bytes += int64(n)
	f.live.bytes.Add(int64(n))
	if err != nil {
		f.fail(err)
		return f.h.status("write", f.path, err)
	}
	return nil
}

// Close ends the upload: Commit when every write arrived and the client
// closed the file; Abort as FTP's interrupted upload when the connection
// was lost (UploadAtomicResume then publishes what arrived, for reput),
// and as failed when a write failed or a gap was never filled.
func (f *fileWriter) Close() (err error) {
	defer f.h.c.recoverPanic(&err)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.close() {
		return nil
	}
	f.releaseHeap()
	if f.w == nil {
		return nil
	}
	f.wake()
	// Ending an upload outlives the connection, as in ftpserver.
	ctx := context.WithoutCancel(f.h.ctx())
	var result ftpserver.TransferResult
	switch {
	case f.failed != nil || len(f.pending) > 0:
		result, err = ftpserver.TransferFailed, f.failed
		if err == nil {
			err = fmt.Errorf("upload closed with %d bytes after a gap at %d", f.pendingBytes, f.next)
		}
		if aerr := f.w.Abort(ctx, ftpserver.AbortFailed); aerr != nil {
			f.h.c.log.Error("upload abort failed", "path", f.path, "err", aerr)
		}
	case f.interrupted:
		result, err = ftpserver.TransferAborted, errIncomplete
		if aerr := f.w.Abort(ctx, ftpserver.AbortInterrupted); aerr != nil {
			f.h.c.log.Error("upload abort failed", "path", f.path, "err", aerr)
		}
	default:
		if err = f.w.Commit(ctx); err != nil {
			result = ftpserver.TransferFailed
		} else {
			result = ftpserver.TransferOK
		}
	}
	f.pending = nil
	f.h.record(ftpserver.Upload, f.path, f.offset, f.start, f.bytes, result, err)
	if result == ftpserver.TransferOK {
		return nil
	}
	return f.h.status("close", f.path, err)
}

// record logs a finished transfer and reports it to the Observer.
func (h *handlers) record(dir ftpserver.Direction, path string, offset int64, start time.Time, bytes int64, result ftpserver.TransferResult, err error) {
	verb := "RETR"
	if dir == ftpserver.Upload {
		verb = "STOR"
	}
	d := time.Since(start)
	attrs := []any{"path", path, "bytes", bytes, "duration", d, "result", string(result)}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	h.c.log.Info(string(dir), attrs...)
	if o := h.c.srv.Observer; o != nil {
		o.TransferEnded(ftpserver.TransferRecord{
			SessionID: h.c.id,
			Remote:    h.c.remote,
			User:      h.acct.User,
			Anonymous: h.acct.Anonymous,
			Verb:      verb,
			Direction: dir,
			Path:      path,
			Offset:    offset,
			Started:   start,
			Duration:  d,
			Bytes:     bytes,
			Result:    result,
			Err:       err,
			Protocol:  "sftp",
		})
	}
}
