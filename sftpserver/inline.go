package sftpserver

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"sync"

	"github.com/pkg/sftp"
)

// The filter serves the READs and WRITEs of the files it knows itself,
// in the order they arrive, on the goroutine that reads the channel.
// Handed to pkg/sftp, each would cross three goroutines (its receive
// loop, a worker, its sender) and a fresh buffer of its size: those
// hand-offs, and the garbage, cost more server CPU than the SSH
// encryption. Served here, the data goes between the channel and the
// backend through one pooled buffer; an upload whose client sends in
// order never waits for a gap, and a download is read in order.
//
// A request served here is answered before the next one is read, so it
// comes after everything the client sent before it on that handle (what
// fsync needs); requests pkg/sftp serves may be answered around it, as
// SFTP allows (replies are matched by id).

// readLength is the length field of a READ with a handle of n bytes.
func readLength(n int) int { return 1 + 4 + 4 + n + 8 + 4 }

// dataBuffers hold a WRITE's data while it is served; taken per request,
// so an idle session holds none.
var dataBuffers = sync.Pool{New: func() any {
	b := make([]byte, maxPacket)
	return &b
}}

// serveWrite serves the WRITE whose head up to the handle is in f.buf
// (length is its length field) when its handle is an upload the filter
// knows; false leaves it to pkg/sftp, the head read so far in f.buf. A
// malformed WRITE is left to pkg/sftp too, which answers it.
func (f *filter) serveWrite(length int) (bool, error) {
	id, handle, _, ok := requestHandle(f.buf[4:])
	if !ok {
		return false, nil
	}
	h := f.handle(string(handle))
	if h == nil || h.file.w == nil {
		return false, nil
	}
	headLen := 9 + len(handle) + 12 // type, id, handle, offset, data length
	if length < headLen {
		return false, nil
	}
	if err := f.readHead(headLen); err != nil {
		return false, err
	}
	p := f.buf[4+headLen-12:]
	off, n := binary.BigEndian.Uint64(p), binary.BigEndian.Uint32(p[8:])
	if int64(n) != int64(length-headLen) {
		return false, nil
	}
	if off <= math.MaxInt64 && !h.file.w.canTake(int64(off), int(n)) {
		// Too far ahead of a gap to hold: pkg/sftp's worker waits for
		// the gap while this loop reads on, as for any other write.
		return false, nil
	}
	bp := dataBuffers.Get().(*[]byte)
	defer dataBuffers.Put(bp)
	data := (*bp)[:n]
	if _, err := io.ReadFull(f.ch, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return true, err
	}
	var werr error
	if off > math.MaxInt64-uint64(n) {
		werr = &codeError{sftp.ErrSSHFxBadMessage, "Offset out of range"}
	} else {
		_, werr = h.file.w.writeAt(data, int64(off), false)
	}
	return true, f.send(statusFor(id, werr))
}

// serveRead serves the READ in f.buf (all of it: length is its length
// field) when its handle is a download the filter knows, with a DATA
// reply of at most maxReadLength bytes (a short read, as SFTP allows) or
// a STATUS; false leaves it to pkg/sftp.
func (f *filter) serveRead(length int) (bool, error) {
	if len(f.buf)-4 != length {
		return false, nil
	}
	id, handle, rest, ok := requestHandle(f.buf[4:])
	if !ok || len(rest) != 12 {
		return false, nil
	}
	h := f.handle(string(handle))
	if h == nil || h.file.r == nil {
		return false, nil
	}
	off, n := binary.BigEndian.Uint64(rest), min(binary.BigEndian.Uint32(rest[8:]), maxReadLength)
	if off > math.MaxInt64 {
		return true, f.send(statusFor(id, &codeError{sftp.ErrSSHFxBadMessage, "Offset out of range"}))
	}
	bp := dataBuffers.Get().(*[]byte)
	defer dataBuffers.Put(bp)
	const head = 4 + 1 + 4 + 4 // length, type, id, data length
	pkt := (*bp)[:head+int(n)]
	got, err := h.file.r.ReadAt(pkt[head:], int64(off))
	eof := errors.Is(err, io.EOF) || (err == nil && got == 0)
	switch {
	case eof && got == 0:
		return true, f.send(statusPacket(id, fxEOF, "EOF"))
	case err != nil && !eof:
		// As pkg/sftp: a read that failed part way is a failure, not
		// a short read.
		return true, f.send(statusFor(id, err))
	}
	pkt = pkt[:head+got]
	binary.BigEndian.PutUint32(pkt, uint32(len(pkt)-4))
	pkt[4] = fxpData
	binary.BigEndian.PutUint32(pkt[5:], id)
	binary.BigEndian.PutUint32(pkt[9:], uint32(got))
	return true, f.send(pkt)
}

// canTake reports whether a write of n bytes at off would be written or
// held now, without waiting for a gap.
func (f *fileWriter) canTake(off int64, n int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w == nil || off <= f.next || f.pendingBytes+n <= maxPending
}

// requestHandle splits a request's body (from its type byte) into its id,
// its handle and what follows; ok is false when it is too short.
func requestHandle(body []byte) (id uint32, handle, rest []byte, ok bool) {
	if len(body) < 9 {
		return 0, nil, nil, false
	}
	handle, rest, ok = sshString(body[5:])
	return binary.BigEndian.Uint32(body[1:]), handle, rest, ok
}
