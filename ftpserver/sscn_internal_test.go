package ftpserver

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

// chunkConn serves stream in reads of the sizes it is given (cycled), as
// a socket may deliver it.
type chunkConn struct {
	net.Conn
	stream []byte
	chunks []byte
	n      int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.stream) == 0 {
		return 0, io.EOF
	}
	size := len(c.stream)
	if len(c.chunks) > 0 {
		size = int(c.chunks[c.n%len(c.chunks)]) + 1
		c.n++
	}
	size = min(size, len(p), len(c.stream))
	copy(p, c.stream[:size])
	c.stream = c.stream[size:]
	return size, nil
}

// boundaries lists where the headers and bodies of the TLS records of
// stream end.
func boundaries(stream []byte) map[int]bool {
	ends := map[int]bool{}
	for at := 0; at+5 <= len(stream); {
		ends[at+5] = true
		at += 5 + int(binary.BigEndian.Uint16(stream[at+3:]))
		ends[at] = true
	}
	return ends
}

// FuzzRecordConn checks that recordConn passes every byte through once,
// in order, and that no read crosses the end of a record's header or
// body, whatever the sizes of the socket's and the reader's reads.
func FuzzRecordConn(f *testing.F) {
	closeNotify := []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00}
	f.Add(append(closeNotify, "USER alice\r\n"...), []byte{0}, []byte{3, 200})
	f.Add([]byte{0x17, 0x03, 0x03, 0x00, 0x00, 0x16, 0x03, 0x01, 0x01, 0x00, 'x'}, []byte{}, []byte{0})
	f.Add([]byte{0x16, 0x03}, []byte{1}, []byte{})
	f.Add([]byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, stream, socketReads, reads []byte) {
		rc := &recordConn{Conn: &chunkConn{stream: stream, chunks: socketReads}}
		ends := boundaries(stream)
		var got []byte
		for i := 0; ; i++ {
			size := 4096
			if len(reads) > 0 {
				size = int(reads[i%len(reads)]) + 1
			}
			buf := make([]byte, size)
			n, err := rc.Read(buf)
			for at := len(got) + 1; at < len(got)+n; at++ {
				if ends[at] {
					t.Fatalf("a read of %d bytes from %d crosses the record boundary at %d", n, len(got), at)
				}
			}
			got = append(got, buf[:n]...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if i > 4*len(stream)+10 && n == 0 {
				t.Fatal("no progress")
			}
		}
		if string(got) != string(stream) {
			t.Fatalf("read %q, want %q", got, stream)
		}
	})
}
