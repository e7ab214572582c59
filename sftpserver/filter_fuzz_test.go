package sftpserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// fuzzChannel is a client's byte stream in, the server's replies out.
type fuzzChannel struct {
	in  io.Reader
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *fuzzChannel) Read(p []byte) (int, error) { return c.in.Read(p) }

func (c *fuzzChannel) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

// rawPacketFor frames an SFTP packet: type, id, then fields (strings,
// uint32, uint64).
func rawPacketFor(typ byte, id uint32, fields ...any) []byte {
	b := []byte{0, 0, 0, 0, typ}
	b = binary.BigEndian.AppendUint32(b, id)
	for _, f := range fields {
		switch v := f.(type) {
		case string:
			b = appendString(b, v)
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		}
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// servedByFilter restates which complete packets the filter keeps from
// pkg/sftp: extended requests whose name it serves.
func servedByFilter(body []byte) bool {
	if len(body) < 5 || body[0] != fxpExtended {
		return false
	}
	name, _, ok := sshString(body[5:])
	if !ok {
		return false
	}
	switch string(name) {
	case "limits@openssh.com", "fsync@openssh.com", "check-file-handle", "check-file-name":
		return true
	}
	return false
}

// fuzzSession is a session's handlers, as the fuzz targets use them: a
// writable account on a fresh memfs holding /f (1,000 bytes), its
// context cancelled when t ends.
func fuzzSession(t *testing.T) *handlers {
	fsys := memfs.New()
	if err := fsys.WriteFile("/f", bytes.Repeat([]byte("x"), 1000)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := &conn{srv: &Server{}, ctx: ctx, cancel: cancel, log: slog.New(slog.DiscardHandler)}
	return &handlers{c: c, acct: &ftpserver.Account{User: "u", FS: fsys, Write: true}}
}

// FuzzFilter feeds a client's byte stream through the filter: it never
// panics or hangs, hands pkg/sftp exactly the packets it does not serve,
// byte for byte and in order (a truncated last packet as far as it
// goes), stops at a packet longer than pkg/sftp takes or empty, and
// writes its own replies as whole packets.
func FuzzFilter(f *testing.F) {
	init := []byte{0, 0, 0, 5, fxpInit, 0, 0, 0, 3}
	open := rawPacketFor(fxpOpen, 1, "/a", uint32(0x1a), uint32(0))
	write := rawPacketFor(fxpWrite, 2, "1", uint64(0), "hello")
	fsync := rawPacketFor(fxpExtended, 3, "fsync@openssh.com", "1")
	limits := rawPacketFor(fxpExtended, 4, "limits@openssh.com")
	check := rawPacketFor(fxpExtended, 5, "check-file-name", "/f", "md5,sha256", uint64(0), uint64(0), uint32(256))
	checkHandle := rawPacketFor(fxpExtended, 6, "check-file-handle", "1", "crc32", uint64(1), uint64(2), uint32(0))
	closeH := rawPacketFor(fxpClose, 7, "1")
	other := rawPacketFor(fxpExtended, 8, "posix-rename@openssh.com", "/a", "/b")
	for _, seed := range [][]byte{
		init,
		bytes.Join([][]byte{init, open, write, fsync, limits, check, checkHandle, closeH, other}, nil),
		limits[:len(limits)-3],
		{0, 0, 0, 0},
		{0, 4, 0, 1, fxpWrite},
		{0, 0, 0, 9, fxpWrite, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff},
		rawPacketFor(fxpExtended, 9, "check-file-name", "/f"),
		rawPacketFor(fxpExtended, 10, "fsync@openssh.com"),
		{0, 0, 0, 2, fxpExtended, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		h := fuzzSession(t)
		ch := &fuzzChannel{in: bytes.NewReader(input)}
		ext := newExtensions(h)
		flt := newFilter(ch, ext)
		got, err := io.ReadAll(flt)
		flt.end()
		ext.stop()
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errPacketTooLong) && !errors.Is(err, errPacketEmpty) {
			t.Fatalf("unexpected error %v", err)
		}

		var want []byte
		rest := input
		for len(rest) > 0 {
			if len(rest) < 4 {
				want = append(want, rest...)
				break
			}
			n := binary.BigEndian.Uint32(rest)
			if n == 0 || n > maxPacket {
				break
			}
			if uint64(len(rest)-4) < uint64(n) {
				want = append(want, rest...)
				break
			}
			if !servedByFilter(rest[4 : 4+n]) {
				want = append(want, rest[:4+n]...)
			}
			rest = rest[4+n:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("handed on %x, want %x", got, want)
		}

		out := ch.out.Bytes()
		for len(out) > 0 {
			if len(out) < 9 {
				t.Fatalf("reply stream ends in %d stray bytes", len(out))
			}
			n := binary.BigEndian.Uint32(out)
			if uint64(n) > uint64(len(out)-4) || out[4] != fxpStatus && out[4] != fxpExtendedReply {
				t.Fatalf("malformed reply %x", out)
			}
			out = out[4+n:]
		}
	})
}

// FuzzFilterReplies writes a stream of reply packets (built from the
// input: a type byte, then a length byte scaled up, then that many
// payload bytes, repeated) through the filter's Write in pieces cut at
// the points cuts names: what reaches the channel is the same stream,
// VERSION packets aside, which gain the filter's extensions.
func FuzzFilterReplies(f *testing.F) {
	f.Add([]byte{fxpVersion, 1, 0, 0, 0, 3}, []byte{1, 2, 3})
	f.Add([]byte{fxpStatus, 2, 0, 0, 0, 7, 0, 0, 0, 0, 103, 200}, []byte{4, 9})
	f.Add([]byte{fxpHandle, 3, 0, 0, 0, 1, 0, 0, 0, 1, '1', 103, 255}, []byte{0, 5, 13})
	f.Fuzz(func(t *testing.T, spec, cuts []byte) {
		var stream, want []byte
		for len(spec) >= 2 && len(stream) < 1<<20 {
			typ, n := spec[0], int(spec[1])*37
			spec = spec[2:]
			payload := make([]byte, n)
			copy(payload, spec)
			spec = spec[min(n, len(spec)):]
			pkt := binary.BigEndian.AppendUint32(nil, uint32(1+n))
			pkt = append(append(pkt, typ), payload...)
			stream = append(stream, pkt...)
			if typ == fxpVersion && len(pkt) <= maxVersionPacket {
				pkt = appendExtensions(pkt)
			}
			want = append(want, pkt...)
		}
		ch := &fuzzChannel{in: bytes.NewReader(nil)}
		flt := newFilter(ch, nil)
		rest := stream
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(n, int(cuts[i])+1)
			}
			m, err := flt.Write(rest[:n])
			if err != nil || m != n {
				t.Fatalf("Write of %d bytes: %d, %v", n, m, err)
			}
			rest = rest[n:]
		}
		if got := ch.out.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("the channel got %x, want %x", got, want)
		}
		// Every packet was whole: the write lock is free.
		select {
		case flt.wlock <- struct{}{}:
		default:
			t.Fatal("the write lock is still held after whole packets")
		}
	})
}
