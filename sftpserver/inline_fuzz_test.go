package sftpserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/pkg/sftp"
)

// FuzzInline feeds a client's byte stream through the filter with an
// upload open as handle "1" and a download as "2", so that the READs and
// WRITEs it serves itself (inline.go) are reached: it never panics or
// hangs, every whole packet is either handed on to pkg/sftp or answered
// by one whole reply, and the upload holds no more than it may.
func FuzzInline(f *testing.F) {
	write := func(id uint32, off uint64, data string) []byte { return rawPacketFor(fxpWrite, id, "1", off, data) }
	read := func(id uint32, off uint64, n uint32) []byte { return rawPacketFor(fxpRead, id, "2", off, n) }
	for _, seed := range [][]byte{
		bytes.Join([][]byte{write(1, 0, "hello"), write(2, 5, " world"), read(3, 0, 4), read(4, 996, 100), read(5, 5000, 10)}, nil),
		bytes.Join([][]byte{write(1, 10, "ahead"), write(2, 0, "0123456789"), write(3, 3, "behind")}, nil),
		write(1, 1<<63, "x"),
		read(1, 1<<63+5, 1<<31),
		rawPacketFor(fxpWrite, 1, "1", uint64(0), uint32(9), "short"),
		rawPacketFor(fxpRead, 1, "2", uint64(0)),
		rawPacketFor(fxpWrite, 1, "3", uint64(0), "no such handle"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		h := fuzzSession(t)
		put := sftp.NewRequest("Put", "/up")
		put.Flags = 0x1a // WRITE | CREAT | TRUNC
		wa, err := h.Filewrite(put)
		if err != nil {
			t.Fatal(err)
		}
		ra, err := h.Fileread(sftp.NewRequest("Get", "/f"))
		if err != nil {
			t.Fatal(err)
		}
		fw, fr := wa.(*fileWriter), ra.(*fileReader)
		ch := &fuzzChannel{in: bytes.NewReader(input)}
		ext := newExtensions(h)
		flt := newFilter(ch, ext)
		flt.handles = map[string]*handleInfo{
			"1": {file: openedFile{path: "/up", w: fw}},
			"2": {file: openedFile{path: "/f", r: fr}},
		}
		handed, err := io.ReadAll(flt)
		flt.end()
		ext.stop()
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errPacketTooLong) && !errors.Is(err, errPacketEmpty) {
			t.Fatalf("unexpected error %v", err)
		}
		if fw.pendingBytes > maxPending {
			t.Fatalf("the upload holds %d bytes ahead of a gap, more than %d", fw.pendingBytes, maxPending)
		}
		fw.Close()
		fr.Close()

		whole := 0
		for rest := input; len(rest) >= 4; {
			n := binary.BigEndian.Uint32(rest)
			if n == 0 || n > maxPacket || uint64(len(rest)-4) < uint64(n) {
				break
			}
			whole++
			rest = rest[4+n:]
		}
		passed := 0
		for rest := handed; len(rest) >= 4; {
			n := binary.BigEndian.Uint32(rest)
			if uint64(len(rest)-4) < uint64(n) {
				break // the truncated last packet
			}
			passed++
			rest = rest[4+n:]
		}
		replies := 0
		for out := ch.out.Bytes(); len(out) > 0; replies++ {
			if len(out) < 9 {
				t.Fatalf("reply stream ends in %d stray bytes", len(out))
			}
			n := binary.BigEndian.Uint32(out)
			if uint64(n) > uint64(len(out)-4) || out[4] != fxpStatus && out[4] != fxpExtendedReply && out[4] != fxpData {
				t.Fatalf("malformed reply %x", out)
			}
			out = out[4+n:]
		}
		if passed+replies != whole {
			t.Fatalf("%d whole packets: %d handed on, %d answered", whole, passed, replies)
		}
	})
}
