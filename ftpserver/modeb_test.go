package ftpserver_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// The block framing of these tests is written by hand from RFC 959
// §3.4.2, independently of package ftp's codec: a header of a descriptor
// byte (EOR 128, EOF 64, suspect 32, restart marker 16) and a 16-bit
// big-endian count, then count bytes.

// rawBlock frames one block.
func rawBlock(desc byte, data []byte) []byte {
	if len(data) > 65535 {
		panic("block too long")
	}
	b := []byte{desc, 0, 0}
	binary.BigEndian.PutUint16(b[1:], uint16(len(data)))
	return append(b, data...)
}

// rawData frames data in as many blocks as it needs, the last with desc.
func rawData(desc byte, data []byte) []byte {
	var out []byte
	for len(data) > 65535 {
		out = append(out, rawBlock(0, data[:65535])...)
		data = data[65535:]
	}
	return append(out, rawBlock(desc, data)...)
}

// rawMark is a restart marker and how many data bytes preceded it.
type rawMark struct {
	marker string
	at     int
}

// readRawBlocks parses a block-mode stream until its EOF block and checks
// that nothing follows it (the server closes the connection after it).
func readRawBlocks(t *testing.T, r io.Reader) ([]byte, []rawMark) {
	t.Helper()
	var data []byte
	var marks []rawMark
	for {
		var hdr [3]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			t.Fatalf("block header after %d data bytes: %v", len(data), err)
		}
		desc, n := hdr[0], int(binary.BigEndian.Uint16(hdr[1:]))
		if desc&0x0f != 0 {
			t.Fatalf("descriptor %#x has unassigned bits", desc)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatalf("block of %d bytes: %v", n, err)
		}
		if desc&16 != 0 {
			marks = append(marks, rawMark{string(body), len(data)})
		} else {
			data = append(data, body...)
		}
		if desc&64 != 0 {
			break
		}
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Fatalf("after the EOF block: %d bytes, %v; want the connection closed", len(rest), err)
	}
	return data, marks
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}

func putFile(t *testing.T, ts *testServer, name string, content []byte) {
	t.Helper()
	if err := ts.fs.WriteFile(name, content); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, ts *testServer, name string) []byte {
	t.Helper()
	b, err := ts.fs.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blockTransfer logs in, sets MODE B, and starts command on a passive
// data connection, which it returns.
func blockTransfer(t *testing.T, ts *testServer, command string) (*client, net.Conn) {
	t.Helper()
	c := ts.login(t)
	c.cmd(200, "MODE B")
	data := c.transfer("%s", command)
	return c, data
}

func TestModeCommand(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	if got := c.cmd(200, "MODE B"); got != "Mode set to B." {
		t.Errorf("MODE B: %q", got)
	}
	if stat := c.cmd(211, "STAT"); !strings.Contains(stat, "MODE: Block") {
		t.Errorf("STAT in MODE B: %q", stat)
	}
	c.cmd(200, "mode s")
	c.cmd(504, "MODE C")
	c.cmd(501, "MODE X")
	if got := c.cmd(214, "HELP MODE"); !strings.Contains(got, "MODE <S|B") {
		t.Errorf("HELP MODE = %q, want the syntax to list B", got)
	}
}

func TestModeBRetrMarkers(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	content := randomBytes(2<<20 + 12345)
	putFile(t, ts, "/big.bin", content)
	c := ts.login(t)
	c.cmd(200, "TYPE I")
	c.cmd(200, "MODE B")

	data := c.transfer("RETR big.bin")
	got, marks := readRawBlocks(t, data)
	c.expect(226)
	if !bytes.Equal(got, content) {
		t.Fatalf("got %d bytes, want the %d of the file", len(got), len(content))
	}
	want := []rawMark{{"1048576", 1 << 20}, {"2097152", 2 << 20}}
	if fmt.Sprint(marks) != fmt.Sprint(want) {
		t.Fatalf("markers %v, want %v", marks, want)
	}

	// A server marker is a REST argument: the download resumes there.
	c.cmd(350, "REST %s", marks[1].marker)
	data = c.transfer("RETR big.bin")
	got, marks = readRawBlocks(t, data)
	c.expect(226)
	if !bytes.Equal(got, content[2<<20:]) || len(marks) != 0 {
		t.Fatalf("after REST: %d bytes, markers %v; want the last %d bytes, no marker", len(got), marks, len(content)-2<<20)
	}

	// MODE S again: the plain stream.
	c.cmd(200, "MODE S")
	if got := c.retr("big.bin"); !bytes.Equal(got, content) {
		t.Fatalf("MODE S after MODE B: %d bytes", len(got))
	}
}

func TestModeBRetrEmptyAndASCII(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	putFile(t, ts, "/empty", nil)
	putFile(t, ts, "/text", []byte("one\ntwo\n"))
	c := ts.login(t)
	c.cmd(200, "MODE B")
	data := c.transfer("RETR empty")
	if got, marks := readRawBlocks(t, data); len(got) != 0 || len(marks) != 0 {
		t.Fatalf("empty file: %q %v", got, marks)
	}
	c.expect(226)

	c.cmd(200, "TYPE A")
	data = c.transfer("RETR text")
	if got, _ := readRawBlocks(t, data); string(got) != "one\r\ntwo\r\n" {
		t.Fatalf("TYPE A in MODE B: %q", got)
	}
	c.expect(226)
}

func TestModeBStorMarkers(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	content := randomBytes(1000)
	c, data := blockTransfer(t, ts, "STOR up.bin")
	stream := bytes.Join([][]byte{
		rawBlock(0, content[:300]),
		rawBlock(16, []byte("A1")),
		rawBlock(128, content[300:700]), // EOR: data all the same
		rawBlock(16, []byte("r#700")),
		rawBlock(64, content[700:]),
	}, nil)
	if _, err := data.Write(stream); err != nil {
		t.Fatal(err)
	}
	if got := c.expect(110); got != "MARK A1 = 300" {
		t.Errorf("first marker reply %q, want %q", got, "MARK A1 = 300")
	}
	if got := c.expect(110); got != "MARK r#700 = 700" {
		t.Errorf("second marker reply %q, want %q", got, "MARK r#700 = 700")
	}
	c.expect(226)
	if got := readFile(t, ts, "/up.bin"); !bytes.Equal(got, content) {
		t.Fatalf("stored %d bytes, want the %d sent", len(got), len(content))
	}
}

// An upload cut off before its EOF block is interrupted, not complete:
// 426, and the part before the last marker is kept, so REST with the
// server's marker and STOR finish the file.
func TestModeBInterruptedStorResumes(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	content := randomBytes(5000)
	c, data := blockTransfer(t, ts, "STOR resume.bin")
	stream := bytes.Join([][]byte{
		rawBlock(0, content[:3000]),
		rawBlock(16, []byte("3000")),
		rawBlock(0, content[3000:3500]), // then the link fails
	}, nil)
	if _, err := data.Write(stream); err != nil {
		t.Fatal(err)
	}
	got := c.expect(110)
	if got != "MARK 3000 = 3000" {
		t.Fatalf("marker reply %q", got)
	}
	data.Close()
	if code, msg := c.read(); code != 426 || !strings.Contains(msg, "end-of-file block") {
		t.Fatalf("cut-short upload: %d %q, want 426 naming the missing end-of-file block", code, msg)
	}

	mmmm := strings.TrimPrefix(got, "MARK 3000 = ")
	c.cmd(350, "REST %s", mmmm)
	data = c.transfer("STOR resume.bin")
	if _, err := data.Write(append(rawBlock(0, content[3000:]), rawBlock(64, nil)...)); err != nil {
		t.Fatal(err)
	}
	c.expect(226)
	if got := readFile(t, ts, "/resume.bin"); !bytes.Equal(got, content) {
		t.Fatalf("resumed file: %d bytes, equal %v; want the %d bytes sent", len(got), bytes.Equal(got, content), len(content))
	}
}

// In MODE B the EOF block, not the closing of the connection, ends the
// file: a client that sends it and stays connected gets its 226.
func TestModeBStorEOFBlockEnds(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c, data := blockTransfer(t, ts, "STOR kept-open")
	if _, err := data.Write(rawBlock(64, []byte("done"))); err != nil {
		t.Fatal(err)
	}
	c.expect(226) // the data connection is still open on our side
	if got := readFile(t, ts, "/kept-open"); string(got) != "done" {
		t.Fatalf("stored %q", got)
	}
	// The server closes the data connection after the transfer.
	data.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := data.Read(make([]byte, 1)); err == nil {
		t.Fatalf("data connection still open after 226 (read %d)", n)
	}
}

func TestModeBAppe(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	putFile(t, ts, "/log", []byte("hello"))
	c, data := blockTransfer(t, ts, "APPE log")
	stream := bytes.Join([][]byte{rawBlock(0, []byte(", ")), rawBlock(16, []byte("x2")), rawBlock(64, []byte("world"))}, nil)
	if _, err := data.Write(stream); err != nil {
		t.Fatal(err)
	}
	// The server's marker is the offset in the file, as REST takes it.
	if got := c.expect(110); got != "MARK x2 = 7" {
		t.Errorf("marker reply %q, want %q", got, "MARK x2 = 7")
	}
	c.expect(226)
	if got := readFile(t, ts, "/log"); string(got) != "hello, world" {
		t.Fatalf("appended file %q", got)
	}
}

func TestModeBStou(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.cmd(200, "MODE B")
	data := c.pasv()
	msg := c.cmd(150, "STOU")
	name := strings.TrimPrefix(msg, "FILE: ")
	if _, err := data.Write(rawBlock(64, []byte("unique"))); err != nil {
		t.Fatal(err)
	}
	c.expect(226)
	if got := readFile(t, ts, "/"+name); string(got) != "unique" {
		t.Fatalf("STOU stored %q at %q", got, name)
	}
}

func TestModeBListings(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	putFile(t, ts, "/listed.txt", []byte("x"))
	c := ts.login(t)
	c.cmd(200, "MODE B")
	for _, cmd := range []string{"LIST", "NLST", "MLSD"} {
		data := c.transfer("%s", cmd)
		got, _ := readRawBlocks(t, data)
		c.expect(226)
		if !strings.Contains(string(got), "listed.txt\r\n") {
			t.Errorf("%s in MODE B: %q", cmd, got)
		}
	}
}

// Malformed block data gets a clear 426 and no 226; the session goes on.
func TestModeBBadUploadStreams(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		stream []byte
		close  bool
		reply  string
	}{
		{"unassigned descriptor bit", append(rawBlock(0, []byte("ab")), rawBlock(0x01, []byte("cd"))...), false, "Malformed block-mode data"},
		{"marker with a line break", rawBlock(16, []byte("1\r\n226 fake")), false, "Malformed block-mode data"},
		{"empty marker", rawBlock(16, nil), false, "Malformed block-mode data"},
		{"truncated header", append(rawBlock(0, []byte("ab")), 0x40, 0x00), true, "end-of-file block"},
		{"no EOF block", rawBlock(0, []byte("ab")), true, "end-of-file block"},
		{"nothing at all", nil, true, "end-of-file block"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			c, data := blockTransfer(t, ts, "STOR bad")
			data.Write(tc.stream)
			if tc.close {
				data.Close()
			}
			code, msg := c.read()
			if code != 426 || !strings.Contains(msg, tc.reply) {
				t.Fatalf("got %d %q, want 426 with %q", code, msg, tc.reply)
			}
			c.cmd(200, "NOOP") // nothing else (no 226) came before
		})
	}
}

func TestModeBOverTLS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	content := randomBytes(1<<20 + 777)
	putFile(t, ts.testServer, "/secret.bin", content)
	conf := ts.clientConfig(0)
	c := ts.protPClient(t, conf)
	c.cmd(200, "MODE B")

	secure := func(command string) *tls.Conn {
		raw := c.transfer("%s", command)
		tc := tls.Client(raw, conf)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		return tc
	}
	got, marks := readRawBlocks(t, secure("RETR secret.bin"))
	c.expect(226)
	if !bytes.Equal(got, content) || len(marks) != 1 || marks[0] != (rawMark{"1048576", 1 << 20}) {
		t.Fatalf("RETR over TLS: %d bytes (equal %v), markers %v", len(got), bytes.Equal(got, content), marks)
	}

	tc := secure("STOR back.bin")
	stream := bytes.Join([][]byte{rawBlock(0, content[:1000]), rawBlock(16, []byte("k")), rawData(64, content[1000:])}, nil)
	if _, err := tc.Write(stream); err != nil {
		t.Fatal(err)
	}
	if got := c.expect(110); got != "MARK k = 1000" {
		t.Errorf("marker reply over TLS %q", got)
	}
	c.expect(226)
	tc.Close()
	if got := readFile(t, ts.testServer, "/back.bin"); !bytes.Equal(got, content) {
		t.Fatalf("STOR over TLS stored %d bytes", len(got))
	}
}
