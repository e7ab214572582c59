package sftpserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"path"
	"sync"
)

// SFTP v3 packet types the filter looks at (draft-ietf-secsh-filexfer-02).
const (
	fxpInit          = 1
	fxpVersion       = 2
	fxpOpen          = 3
	fxpClose         = 4
	fxpRead          = 5
	fxpWrite         = 6
	fxpOpendir       = 11
	fxpStatus        = 101
	fxpHandle        = 102
	fxpData          = 103
	fxpExtended      = 200
	fxpExtendedReply = 201
)

// maxPacket is the longest packet (its length field's value) the server
// takes: pkg/sftp's maxMsgLength, past which its receive loop fails and
// the session ends. The filter ends it the same way, before pkg/sftp
// sees the packet.
const maxPacket = 256 << 10

// maxHandle bounds the handle strings the filter keeps: pkg/sftp's
// handles are short decimal numbers, and SFTP v3 caps handles at 256
// bytes.
const maxHandle = 256

var (
	errPacketTooLong = errors.New("sftp packet longer than the server accepts")
	errPacketEmpty   = errors.New("sftp packet of length 0")
	errFilterClosed  = errors.New("sftp session ended")
)

// filter sits between the SSH channel and pkg/sftp's request server. It
// serves the extended requests pkg/sftp does not (see ext.go) and passes
// every other packet through untouched, byte for byte. To serve them it
// follows the session: which handle names which open file (OPEN and its
// HANDLE reply), and which WRITEs on a handle are not yet answered (so
// that fsync comes after them). It adds its extensions to the VERSION
// reply pkg/sftp sends.
//
// Read is called only by pkg/sftp's receive loop, Write only by its
// sender (under pkg/sftp's own lock); the filter's replies are written
// from other goroutines, so every write to the channel takes wlock for a
// whole packet.
type filter struct {
	ch   io.ReadWriter
	ext  *extensions
	done chan struct{} // closed when the session ends

	// Inbound state, owned by Read's caller.
	buf    []byte // the head (or all) of the current packet
	in     []byte // what of buf is still to be handed to pkg/sftp
	inLeft int    // bytes of the current packet still in ch, handed on as read
	inErr  error  // returned once in is drained

	// Outbound state, owned by Write's caller.
	outHead []byte // the head of the packet being collected
	outLeft int    // bytes of the current packet still to pass through
	wlock   chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a WRITE is answered or the session ends
	closed  bool
	handles map[string]*handleInfo
	opens   map[uint32]openRequest // OPEN and OPENDIR requests awaiting their reply
	writes  map[uint32]*handleInfo // WRITE ids not yet answered
	opened  []openedFile           // files the handlers opened, in answer order
}

// handleInfo is what the filter knows of an open handle.
type handleInfo struct {
	dir  bool
	file openedFile
}

// noteOpen remembers an OPEN or OPENDIR until its reply; f.mu is held.
// The maps are made on first use: an idle session keeps none.
func (f *filter) noteOpen(id uint32, r openRequest) {
	if f.opens == nil {
		f.opens = map[uint32]openRequest{}
	}
	f.opens[id] = r
}

// openRequest is an OPEN (file, with the path as pkg/sftp cleans it) or
// OPENDIR request.
type openRequest struct {
	file bool
	path string
}

// cleanRequestPath is a request's path as pkg/sftp hands it to the
// handlers (its cleanPathWithBase with the start directory "/").
func cleanRequestPath(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join("/", p)
}

// openedFile is a file the handlers opened: its path, and its upload or
// its download.
type openedFile struct {
	path string
	w    *fileWriter
	r    *fileReader
}

func newFilter(ch io.ReadWriter, ext *extensions) *filter {
	f := &filter{
		ch:    ch,
		ext:   ext,
		done:  make(chan struct{}),
		wlock: make(chan struct{}, 1),
	}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// end marks the session over: waiters for writes and for the channel give
// up.
func (f *filter) end() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
	f.cond.Broadcast()
	f.mu.Unlock()
}

// Read hands pkg/sftp the packets it serves.
func (f *filter) Read(p []byte) (int, error) {
	for {
		switch {
		case len(f.in) > 0:
			n := copy(p, f.in)
			f.in = f.in[n:]
			return n, nil
		case f.inErr != nil:
			return 0, f.inErr
		case f.inLeft > 0:
			n, err := f.ch.Read(p[:min(len(p), f.inLeft)])
			f.inLeft -= n
			if errors.Is(err, io.EOF) && f.inLeft > 0 {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		case len(p) == 0:
			return 0, nil
		}
		f.inErr = f.nextPacket()
	}
}

// nextPacket reads the next packet's head from the channel and either
// serves the packet (reading all of it) or leaves it to be handed on: the
// head in f.in, the rest (f.inLeft bytes) still in the channel, so that
// uploads' data is not copied once more.
func (f *filter) nextPacket() error {
	if cap(f.buf) < 64 || cap(f.buf) > 4<<10 {
		// A large extended request's buffer is not kept for the
		// session's life.
		f.buf = make([]byte, 0, 64)
	}
	f.buf = f.buf[:4]
	if n, err := io.ReadFull(f.ch, f.buf); err != nil {
		f.in = f.buf[:n]
		return err
	}
	length := int(binary.BigEndian.Uint32(f.buf))
	switch {
	case length > maxPacket:
		return errPacketTooLong
	case length == 0:
		return errPacketEmpty
	}
	// The type and id; all of the small requests the filter follows or
	// serves; of a WRITE, up to its handle.
	need := min(length, 5)
	if err := f.readHead(need); err != nil {
		return err
	}
	if length >= 5 {
		switch f.buf[4] {
		case fxpExtended, fxpClose, fxpOpen:
			need = length
		case fxpRead:
			if length <= readLength(maxHandle) {
				need = length
			}
		case fxpWrite:
			need = min(length, 9)
			if length >= 9 {
				if err := f.readHead(need); err != nil {
					return err
				}
				if hl := int(binary.BigEndian.Uint32(f.buf[9:])); hl <= maxHandle {
					need = min(length, 9+hl)
				}
			}
		}
	}
	if err := f.readHead(need); err != nil {
		return err
	}
	if length >= 5 && (f.buf[4] == fxpWrite || f.buf[4] == fxpRead) {
		serve := f.serveWrite
		if f.buf[4] == fxpRead {
			serve = f.serveRead
		}
		served, err := serve(length)
		if served {
			f.in, f.inLeft = nil, 0
		}
		if served || err != nil {
			return err
		}
	}
	body := f.buf[4:]
	f.inLeft = length - len(body)
	if f.inspectRequest(body) {
		// Served here: pkg/sftp never sees it.
		f.in, f.inLeft = nil, 0
		return nil
	}
	f.in = f.buf
	return nil
}

// readHead reads the current packet's body up to n bytes (after the
// length field) into f.buf.
func (f *filter) readHead(n int) error {
	have := len(f.buf) - 4
	if n <= have {
		return nil
	}
	f.buf = growTo(f.buf, 4+n)
	m, err := io.ReadFull(f.ch, f.buf[4+have:])
	f.buf = f.buf[:4+have+m]
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		f.in = f.buf
		return err
	}
	return nil
}

// growTo returns b extended to length n, reallocated when needed.
func growTo(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(b)))
	copy(nb, b)
	return nb
}

// inspectRequest notes what the filter follows in a client's packet
// (body: from the type byte, as much as nextPacket read) and reports
// whether the filter serves it itself.
func (f *filter) inspectRequest(body []byte) bool {
	if len(body) < 5 {
		return false
	}
	typ, id, rest := body[0], binary.BigEndian.Uint32(body[1:]), body[5:]
	switch typ {
	case fxpOpen:
		name, _, ok := sshString(rest)
		if !ok {
			return false
		}
		f.mu.Lock()
		f.noteOpen(id, openRequest{file: true, path: cleanRequestPath(string(name))})
		f.mu.Unlock()
	case fxpOpendir:
		f.mu.Lock()
		f.noteOpen(id, openRequest{})
		f.mu.Unlock()
	case fxpWrite:
		handle, _, ok := sshString(rest)
		if !ok {
			return false
		}
		f.mu.Lock()
		if h := f.handles[string(handle)]; h != nil {
			if f.writes == nil {
				f.writes = map[uint32]*handleInfo{}
			}
			f.writes[id] = h
		}
		f.mu.Unlock()
	case fxpClose:
		handle, _, ok := sshString(rest)
		if !ok {
			return false
		}
		f.mu.Lock()
		delete(f.handles, string(handle))
		f.mu.Unlock()
	case fxpExtended:
		name, args, ok := sshString(rest)
		if !ok {
			return false
		}
		return f.ext.serve(f, id, string(name), args)
	}
	return false
}

// sshString splits an SSH string (uint32 length, bytes) off the front of
// b; ok is false when b is too short for it.
func sshString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, b, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, b, false
	}
	return b[4 : 4+n], b[4+n:], true
}

// Write passes pkg/sftp's replies to the channel, a whole packet under
// wlock at a time, noting the replies the filter follows and adding its
// extensions to VERSION. A packet's head goes out in one channel write
// with the rest of the packet in the same Write, as pkg/sftp wrote it:
// each channel write is an SSH message of its own.
func (f *filter) Write(p []byte) (int, error) {
	off := 0
	for off < len(p) {
		if f.outLeft > 0 {
			n := min(len(p)-off, f.outLeft)
			if err := f.pass(p[off : off+n]); err != nil {
				return off, err
			}
			off += n
			continue
		}
		start, fresh := off, len(f.outHead) == 0
		for off < len(p) && len(f.outHead) < replyHeadLength(f.outHead) {
			take := min(len(p)-off, replyHeadLength(f.outHead)-len(f.outHead))
			f.outHead = append(f.outHead, p[off:off+take]...)
			off += take
		}
		if len(f.outHead) < replyHeadLength(f.outHead) {
			break // the rest of the head comes in the next Write
		}
		head, changed := f.inspectReply(f.outHead)
		headLen := len(f.outHead)
		rest := max(4+int(binary.BigEndian.Uint32(f.outHead))-headLen, 0)
		f.outHead = f.outHead[:0]
		if err := f.lock(); err != nil {
			return off, err
		}
		if fresh && !changed {
			// p[start:off] is the head, and what follows it in p is
			// the same packet's.
			n := min(len(p)-off, rest)
			f.outLeft = headLen + rest
			if err := f.pass(p[start : off+n]); err != nil {
				return start, err
			}
			off += n
			continue
		}
		f.outLeft = len(head) + rest
		if err := f.pass(head); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// pass writes b, the next bytes of the packet being sent (f.outLeft of
// it are left, b included), and releases wlock once the packet is whole
// or the channel failed.
func (f *filter) pass(b []byte) error {
	_, err := f.ch.Write(b)
	f.outLeft -= len(b)
	if err != nil || f.outLeft <= 0 {
		f.outLeft = 0
		f.unlock()
	}
	return err
}

// maxVersionPacket bounds the VERSION reply the filter rewrites: pkg/sftp's
// is a few dozen bytes.
const maxVersionPacket = 4 << 10

// replyHeadLength is how much of a reply (length field included) the
// filter needs before passing it on, given its first bytes: the length,
// type and id; all of a HANDLE (to learn the handle) and of VERSION (to
// extend it).
func replyHeadLength(head []byte) int {
	if len(head) < 5 {
		return 5
	}
	total := 4 + int(binary.BigEndian.Uint32(head))
	switch head[4] {
	case fxpVersion, fxpHandle:
		if total <= maxVersionPacket {
			return total
		}
	}
	return min(total, 9)
}

// inspectReply notes what the filter follows in one of pkg/sftp's replies
// (its head, from the length field on) and returns the bytes to send in
// its place: the same, or (changed) VERSION with the filter's extensions.
func (f *filter) inspectReply(head []byte) ([]byte, bool) {
	if len(head) < 5 {
		return head, false
	}
	typ := head[4]
	if typ == fxpVersion {
		if len(head) != 4+int(binary.BigEndian.Uint32(head)) {
			return head, false // too long to be pkg/sftp's: passed on as it is
		}
		return appendExtensions(head), true
	}
	if len(head) < 9 {
		return head, false
	}
	id := binary.BigEndian.Uint32(head[5:])
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.writes[id]; ok {
		delete(f.writes, id)
		f.cond.Broadcast()
		return head, false
	}
	open, ok := f.opens[id]
	if !ok {
		return head, false
	}
	delete(f.opens, id)
	if typ != fxpHandle {
		return head, false // a failed open
	}
	handle, _, ok := sshString(head[9:])
	if !ok || len(handle) > maxHandle {
		return head, false
	}
	info := &handleInfo{dir: !open.file}
	if open.file {
		// The handlers opened files in this order; a path that does not
		// match means the two lost step (a client reusing request ids):
		// the handle is then left unknown rather than bound to another
		// file.
		if len(f.opened) == 0 || f.opened[0].path != open.path {
			f.opened = nil
			return head, false
		}
		info.file = f.opened[0]
		f.opened = f.opened[1:]
	}
	if f.handles == nil {
		f.handles = map[string]*handleInfo{}
	}
	f.handles[string(handle)] = info
	return head, false
}

// fileOpened is told by the handlers, in the order pkg/sftp answers the
// OPEN requests (it serves them one at a time), of each file they opened.
func (f *filter) fileOpened(path string, w *fileWriter, r *fileReader) {
	f.mu.Lock()
	f.opened = append(f.opened, openedFile{path: path, w: w, r: r})
	f.mu.Unlock()
}

// appendExtensions returns the VERSION packet head with the filter's
// extension pairs appended and its length fixed.
func appendExtensions(head []byte) []byte {
	out := append([]byte(nil), head...)
	for _, e := range serverExtensions {
		out = appendString(out, e.name)
		out = appendString(out, e.data)
	}
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func (f *filter) lock() error {
	select {
	case f.wlock <- struct{}{}:
		return nil
	case <-f.done:
		return errFilterClosed
	}
}

func (f *filter) unlock() { <-f.wlock }

// send writes one whole packet of the filter's own.
func (f *filter) send(pkt []byte) error {
	if err := f.lock(); err != nil {
		return err
	}
	defer f.unlock()
	_, err := f.ch.Write(pkt)
	return err
}

// awaitWrites waits until every WRITE on h sent before now is answered,
// or ctx ends.
func (f *filter) awaitWrites(ctx context.Context, h *handleInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []uint32
	for id, wh := range f.writes {
		if wh == h {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		for f.writes[id] == h {
			if f.closed {
				return errFilterClosed
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			f.cond.Wait()
		}
	}
	return nil
}

// handle returns what the filter knows of an open handle, nil if none.
func (f *filter) handle(handle string) *handleInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handles[handle]
}
