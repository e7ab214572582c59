package ftpserver_test

import (
	"bytes"
	"compress/zlib"
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/texttest"
)

// The independent peer of these tests is the standard library's
// compress/zlib; the server uses another implementation.

func zlibBytes(t *testing.T, data []byte, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func inflate(t *testing.T, wire []byte) []byte {
	t.Helper()
	zr, err := zlib.NewReader(bytes.NewReader(wire))
	if err != nil {
		t.Fatalf("not a zlib stream (%d bytes): %v", len(wire), err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("inflating: %v", err)
	}
	return data
}

func TestModeZNegotiation(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	feat := c.cmd(211, "FEAT")
	if !strings.Contains(feat, "\n MODE Z\n") {
		t.Errorf("FEAT does not list MODE Z:\n%s", feat)
	}
	c.cmd(200, "MODE Z")
	if stat := c.cmd(211, "STAT"); !strings.Contains(stat, "MODE: Deflate") {
		t.Errorf("STAT in MODE Z: %q", stat)
	}
	c.cmd(200, "mode z")
	c.cmd(200, "MODE S")
	if stat := c.cmd(211, "STAT"); !strings.Contains(stat, "MODE: Stream") {
		t.Errorf("STAT in MODE S: %q", stat)
	}
	c.cmd(504, "MODE C")
	c.cmd(501, "MODE X")
	for _, ok := range []string{"Z LEVEL 0", "Z LEVEL 9", "z level 5"} {
		if msg := c.cmd(200, "OPTS MODE %s", ok); !strings.Contains(msg, "LEVEL") {
			t.Errorf("OPTS MODE %s: %q", ok, msg)
		}
	}
	for _, bad := range []string{"", "Z", "Z LEVEL", "Z LEVEL 10", "Z LEVEL -1", "Z LEVEL x", "Z LEVEL 1 2", "Z LEVEL 05", "Y LEVEL 1", "Z ENGINE zlib"} {
		c.cmd(501, "OPTS MODE %s", bad)
	}
}

func TestModeZRetr(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	content := texttest.Lines(1 << 20)
	c.stor("STOR", "text.txt", content)
	c.cmd(200, "MODE Z")
	wire := c.retr("text.txt")
	if got := inflate(t, wire); !bytes.Equal(got, content) {
		t.Fatalf("inflated %d bytes, want %d identical", len(got), len(content))
	}
	if len(wire) > len(content)/4 {
		t.Errorf("%d bytes of text went out as %d: not compressed", len(content), len(wire))
	}

	// The level applies: 0 is stored blocks, larger than the text.
	c.cmd(200, "OPTS MODE Z LEVEL 0")
	stored := c.retr("text.txt")
	if got := inflate(t, stored); !bytes.Equal(got, content) {
		t.Fatal("level 0: content differs")
	}
	if len(stored) <= len(content) {
		t.Errorf("level 0: %d bytes became %d; stored blocks cannot be smaller", len(content), len(stored))
	}

	// An empty file is an empty stream, not no stream.
	c.stor("STOR", "empty", nil)
	if got := inflate(t, c.retr("empty")); len(got) != 0 {
		t.Errorf("empty file inflated to %d bytes", len(got))
	}

	// Back in MODE S the bytes are the file's.
	c.cmd(200, "MODE S")
	if got := c.retr("text.txt"); !bytes.Equal(got, content) {
		t.Error("MODE S after MODE Z: content differs")
	}
}

func TestModeZRetrRest(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	content := texttest.Lines(300 << 10)
	c.stor("STOR", "f", content)
	c.cmd(200, "MODE Z")
	// The offset counts bytes of the file, not of the compressed stream.
	c.cmd(350, "REST 100000")
	if got := inflate(t, c.retr("f")); !bytes.Equal(got, content[100000:]) {
		t.Fatalf("REST 100000: got %d bytes, want the %d after the offset", len(got), len(content)-100000)
	}
	c.cmd(350, "REST %d", len(content))
	if got := inflate(t, c.retr("f")); len(got) != 0 {
		t.Fatalf("REST at the end: got %d bytes", len(got))
	}
}

func TestModeZStorAppe(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	content := texttest.Lines(700 << 10)
	c.cmd(200, "MODE Z")
	c.stor("STOR", "up.txt", zlibBytes(t, content, 6))
	c.stor("APPE", "up.txt", zlibBytes(t, []byte("tail\n"), 9))
	c.cmd(200, "MODE S")
	want := append(bytes.Clone(content), "tail\n"...)
	if got := c.retr("up.txt"); !bytes.Equal(got, want) {
		t.Fatalf("stored %d bytes, want %d identical", len(got), len(want))
	}

	// REST + STOR: the offset is in the file's bytes.
	c.cmd(200, "MODE Z")
	c.cmd(350, "REST 10")
	c.stor("STOR", "up.txt", zlibBytes(t, []byte("XYZ"), 1))
	c.cmd(200, "MODE S")
	want = append(want[:10:10], "XYZ"...) // WriteAt drops what followed
	if got := c.retr("up.txt"); !bytes.Equal(got, want) {
		t.Fatal("REST 10 + STOR in MODE Z: content differs")
	}

	// A stored-blocks stream and a stream with no bytes at all.
	c.cmd(200, "MODE Z")
	c.stor("STOR", "stored", zlibBytes(t, content[:5000], 0))
	c.stor("STOR", "nothing", nil)
	c.cmd(200, "MODE S")
	if got := c.retr("stored"); !bytes.Equal(got, content[:5000]) {
		t.Error("level-0 stream: content differs")
	}
	if got := c.retr("nothing"); len(got) != 0 {
		t.Errorf("no bytes stored %d bytes", len(got))
	}
}

// A corrupt or truncated stream fails the upload with a clear reply, and
// nothing of it is published.
func TestModeZStorCorrupt(t *testing.T) {
	t.Parallel()
	content := texttest.Lines(200 << 10)
	good := zlibBytes(t, content, 6)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/3] ^= 0xff
	for name, wire := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"flipped":   flipped,
		"plain":     content, // a client that sent MODE S data after all
		"trailing":  append(bytes.Clone(good), "more"...),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			c := ts.login(t)
			c.stor("STOR", "old", []byte("previous version\n"))
			c.cmd(200, "MODE Z")
			for _, target := range []string{"new", "old"} {
				data := c.transfer("STOR %s", target)
				data.Write(wire)
				data.Close()
				code, msg := c.read()
				if code != 426 || !strings.Contains(msg, "MODE Z") {
					t.Fatalf("STOR %s: got %d %q, want 426 naming MODE Z", target, code, msg)
				}
			}
			c.cmd(550, "SIZE new")
			c.cmd(200, "MODE S")
			if got := c.retr("old"); string(got) != "previous version\n" {
				t.Errorf("old file became %q", got)
			}
			// The session goes on.
			c.cmd(200, "MODE Z")
			c.stor("STOR", "new", zlibBytes(t, []byte("ok\n"), 6))
			c.cmd(213, "SIZE new")
		})
	}
}

func TestModeZListings(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	for i := range 300 {
		c.stor("STOR", fmt.Sprintf("file-%03d.txt", i), []byte("x"))
	}
	plain := map[string][]byte{}
	for _, cmd := range []string{"LIST", "NLST", "MLSD"} {
		data := c.transfer("%s", cmd)
		b, _ := io.ReadAll(data)
		c.expect(226)
		plain[cmd] = b
	}
	c.cmd(200, "MODE Z")
	for _, cmd := range []string{"LIST", "NLST", "MLSD"} {
		data := c.transfer("%s", cmd)
		wire, _ := io.ReadAll(data)
		c.expect(226)
		got := inflate(t, wire)
		// LIST's times may tick between the two; the names are what
		// tells a compressed listing from garbage.
		if cmd != "LIST" && !bytes.Equal(got, plain[cmd]) {
			t.Errorf("%s in MODE Z differs from MODE S:\n%.300s", cmd, got)
		}
		if n := bytes.Count(got, []byte("file-")); n != 300 {
			t.Errorf("%s: %d entries, want 300", cmd, n)
		}
		if len(wire) >= len(got) {
			t.Errorf("%s: %d bytes of listing went out as %d", cmd, len(got), len(wire))
		}
	}
}

// TYPE A applies next to the file, MODE Z next to the connection: the
// compressed bytes are those of the CRLF text.
func TestModeZWithTypeA(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.stor("STOR", "unix.txt", []byte("one\ntwo\n"))
	c.cmd(200, "TYPE A")
	c.cmd(200, "MODE Z")
	if got := inflate(t, c.retr("unix.txt")); string(got) != "one\r\ntwo\r\n" {
		t.Errorf("RETR in TYPE A, MODE Z: %q", got)
	}
	c.stor("STOR", "dos.txt", zlibBytes(t, []byte("a\r\nb\r\n"), 6))
	c.cmd(200, "TYPE I")
	c.cmd(200, "MODE S")
	if got := c.retr("dos.txt"); string(got) != "a\nb\n" {
		t.Errorf("STOR in TYPE A, MODE Z stored %q", got)
	}
}

// REIN returns to MODE S and the default level.
func TestModeZReset(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	content := texttest.Lines(10000)
	c.stor("STOR", "f", content)
	c.cmd(200, "MODE Z")
	c.cmd(200, "OPTS MODE Z LEVEL 0")
	c.cmd(220, "REIN")
	c.loginAs("alice", "secret")
	if got := c.retr("f"); !bytes.Equal(got, content) {
		t.Fatal("after REIN the download is not plain")
	}
	c.cmd(200, "MODE Z")
	if wire := c.retr("f"); len(wire) >= len(content) || !bytes.Equal(inflate(t, wire), content) {
		t.Errorf("after REIN, MODE Z sent %d bytes for %d: the level stayed 0", len(wire), len(content))
	}
}

// A transfer takes the MODE in force when it is asked for, whatever
// comes on the control connection while it runs.
func TestModeZChangedDuringTransfer(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	content := texttest.Lines(1 << 20)
	c.stor("STOR", "big", content)
	c.cmd(200, "MODE Z")
	data := c.transfer("RETR big")
	c.send("MODE S") // answered after the transfer's reply
	wire, err := io.ReadAll(data)
	if err != nil {
		t.Fatal(err)
	}
	c.expect(226)
	c.expect(200)
	if !bytes.Equal(inflate(t, wire), content) {
		t.Fatal("content differs")
	}
	if got := c.retr("big"); !bytes.Equal(got, content) {
		t.Fatal("the next download is not plain")
	}
}

func TestModeZUnderTLS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	c := ts.dial(t)
	conf := ts.clientConfig(0)
	c.authTLS(conf)
	c.cmd(200, "PBSZ 0")
	c.cmd(200, "PROT P")
	c.loginAs("alice", "secret")
	content := texttest.Lines(500 << 10)
	c.cmd(200, "MODE Z")

	// Upload.
	raw := c.transfer("STOR tls.txt")
	tc := tls.Client(raw, conf)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := tc.Write(zlibBytes(t, content, 6)); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	c.expect(226)

	// Download, recording the ciphertext: it must be the size of the
	// compressed stream, not of the text.
	var wire bytes.Buffer
	got, err := c.secureRetr("tls.txt", conf, &wire)
	if err != nil {
		t.Fatal(err)
	}
	c.expect(226)
	if !bytes.Equal(inflate(t, got), content) {
		t.Fatal("content differs")
	}
	if wire.Len() > len(content)/4 {
		t.Errorf("%d bytes of text took %d bytes of TLS", len(content), wire.Len())
	}
}

// A rate limit protects the link: in MODE Z it counts the compressed
// bytes on the wire, not the file's.
func TestModeZRateLimitCountsWireBytes(t *testing.T) {
	t.Parallel()
	down, up := &countingLimiter{burst: 16 << 10}, &countingLimiter{burst: 16 << 10}
	ts := startServer(t, withAccount(func(a *ftpserver.Account) { a.DownloadLimit, a.UploadLimit = down, up }))
	c := loginCarol(t, ts, "")
	content := texttest.Lines(1 << 20)
	c.stor("STOR", "f", content)
	if got := up.bytes.Load(); got != int64(len(content)) {
		t.Fatalf("MODE S upload: the limiter counted %d bytes, want the %d sent", got, len(content))
	}
	c.cmd(200, "MODE Z")
	wire := zlibBytes(t, content, 6)
	c.stor("STOR", "g", wire)
	if got := up.bytes.Load() - int64(len(content)); got != int64(len(wire)) {
		t.Errorf("MODE Z upload: the limiter counted %d bytes, want the %d on the wire", got, len(wire))
	}
	received := c.retr("g")
	if !bytes.Equal(inflate(t, received), content) {
		t.Fatal("content differs")
	}
	if got := down.bytes.Load(); got != int64(len(received)) {
		t.Errorf("MODE Z download: the limiter counted %d bytes, want the %d on the wire", got, len(received))
	}
}

// ABOR interrupts a MODE Z download waiting for its limiter, and the
// session goes on.
func TestModeZAbortWhileRateLimited(t *testing.T) {
	t.Parallel()
	lim := &countingLimiter{burst: 4096, block: true, waiting: make(chan struct{})}
	ts := startServer(t, withAccount(func(a *ftpserver.Account) { a.DownloadLimit = lim }))
	if err := ts.fs.WriteFile("/f", texttest.Lines(1<<20)); err != nil {
		t.Fatal(err)
	}
	c := loginCarol(t, ts, "")
	c.cmd(200, "MODE Z")
	data := c.transfer("RETR /f")
	<-lim.waiting
	c.send("ABOR")
	c.expect(426)
	c.expect(226)
	io.Copy(io.Discard, data)
	c.cmd(200, "MODE S")
	c.cmd(213, "SIZE /f")
}
