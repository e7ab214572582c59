package ftpclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

func TestBlockModeRoundTrip(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	var trace syncBuffer
	c := dial(t, ts.addr, ftpclient.WithDebug(&trace), ftpclient.WithPoolSize(1))
	ctx := testCtx(t)
	data := pattern(3<<20 + 17)

	up := &ftpclient.Marks{Interval: 1 << 20}
	n, err := c.Store(ctx, "/b.bin", bytes.NewReader(data), 0, ftpclient.BlockMode(up))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Store: %d, %v", n, err)
	}
	if got, _ := ts.fs.ReadFile("/b.bin"); !bytes.Equal(got, data) {
		t.Fatalf("server has %d bytes, want %d", len(got), len(data))
	}
	if m, ok := up.Last(); !ok || m != (ftpclient.Mark{Local: 3 << 20, Server: "3145728"}) {
		t.Fatalf("upload's last mark %+v %v, want the 110 reply to the 3 MiB marker", m, ok)
	}
	for _, want := range []string{"MODE B", "110 MARK 1048576 = 1048576", "110 MARK 3145728 = 3145728"} {
		if !strings.Contains(trace.String(), want) {
			t.Errorf("trace lacks %q", want)
		}
	}

	down := &ftpclient.Marks{}
	var buf bytes.Buffer
	n, err = c.Retrieve(ctx, "/b.bin", 0, &buf, ftpclient.BlockMode(down))
	if err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("Retrieve: %d, %v (%d bytes)", n, err, buf.Len())
	}
	if m, ok := down.Last(); !ok || m != (ftpclient.Mark{Local: 3 << 20, Server: "3145728"}) {
		t.Fatalf("download's last mark %+v %v, want the server's 3 MiB marker", m, ok)
	}

	// From an offset, through Open: markers count from the file's start.
	down = &ftpclient.Marks{}
	rc, err := c.Open(ctx, "/b.bin", 1<<20+5, ftpclient.BlockMode(down))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[1<<20+5:]) {
		t.Fatalf("Open at an offset: %d bytes, %v", len(got), err)
	}
	if m, ok := down.Last(); !ok || m != (ftpclient.Mark{Local: 3 << 20, Server: "3145728"}) {
		t.Fatalf("Open's last mark %+v %v", m, ok)
	}

	// Listings and transfers without the option go back to stream mode
	// on the same (only) connection.
	entries, err := c.List(ctx, "/")
	if err != nil || len(entries) == 0 {
		t.Fatalf("List after MODE B: %v, %v", entries, err)
	}
	buf.Reset()
	if _, err := c.Retrieve(ctx, "/b.bin", 0, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("Retrieve in stream mode after MODE B: %v (%d bytes)", err, buf.Len())
	}
	if !strings.Contains(trace.String(), "MODE S") {
		t.Error("the client never went back to MODE S")
	}
}

// An upload's markers thin out: the interval doubles after every 128, so
// the server's replies, read after the data, stay few for any file size.
func TestBlockModeMarkersThinOut(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	var trace syncBuffer
	c := dial(t, ts.addr, ftpclient.WithDebug(&trace))
	data := pattern(300000)
	marks := &ftpclient.Marks{Interval: 1000}
	if _, err := c.Store(testCtx(t), "/m.bin", bytes.NewReader(data), 0, ftpclient.BlockMode(marks)); err != nil {
		t.Fatal(err)
	}
	// 128 markers every 1000 bytes up to 128000, then every 2000.
	if got, want := strings.Count(trace.String(), "110 MARK"), 128+(300000-128000)/2000; got != want {
		t.Errorf("%d marker replies, want %d", got, want)
	}
	for _, want := range []string{"110 MARK 128000 = 128000", "110 MARK 130000 = 130000"} {
		if !strings.Contains(trace.String(), want) {
			t.Errorf("trace lacks %q", want)
		}
	}
	if strings.Contains(trace.String(), "110 MARK 129000 ") {
		t.Error("a marker at 129000 after the interval doubled")
	}
	if m, ok := marks.Last(); !ok || m != (ftpclient.Mark{Local: 300000, Server: "300000"}) {
		t.Fatalf("last mark %+v %v", m, ok)
	}
	if got, _ := ts.fs.ReadFile("/m.bin"); !bytes.Equal(got, data) {
		t.Fatalf("server has %d bytes", len(got))
	}
}

// gatedReader gives its data up to cut, then waits for ready and fails.
type gatedReader struct {
	data  []byte
	cut   int
	ready func()
}

var errSourceFailed = errors.New("source failed")

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.cut == 0 {
		g.ready()
		return 0, errSourceFailed
	}
	n := copy(p, g.data[:min(len(p), g.cut)])
	g.data, g.cut = g.data[n:], g.cut-n
	return n, nil
}

// An upload that fails after a restart marker resumes from the server's
// marker, and the file on disk ends up whole.
func TestBlockModeUploadResumesFromMark(t *testing.T) {
	t.Parallel()
	// In place, so the test sees how far the server has written.
	ts, dir := startDiskServer(t, func(s *ftpserver.Server) { s.Upload = ftpserver.UploadDirect })
	c := dial(t, ts.addr)
	ctx := testCtx(t)
	data := pattern(3<<20 + 333)
	target := filepath.Join(dir, "r.bin")

	marks := &ftpclient.Marks{Interval: 1 << 20}
	src := &gatedReader{data: data, cut: 3<<19 + 10, ready: func() {
		// Once a byte past the first marker is on disk, the server has
		// answered that marker.
		testwait.For(t, "the server to write past 1 MiB", func() bool {
			fi, err := os.Stat(target)
			return err == nil && fi.Size() > 1<<20
		})
	}}
	if _, err := c.Store(ctx, "/r.bin", src, 0, ftpclient.BlockMode(marks)); !errors.Is(err, errSourceFailed) {
		t.Fatalf("Store with a failing source: %v", err)
	}
	m, ok := marks.Last()
	if !ok || m != (ftpclient.Mark{Local: 1 << 20, Server: "1048576"}) {
		t.Fatalf("last mark %+v %v, want the server's reply to the 1 MiB marker", m, ok)
	}
	off, ok := m.Offset()
	if !ok {
		t.Fatalf("server marker %q is not an offset", m.Server)
	}
	if _, err := c.Store(ctx, "/r.bin", bytes.NewReader(data[m.Local:]), off, ftpclient.BlockMode(marks)); err != nil {
		t.Fatalf("resumed Store: %v", err)
	}
	if got, err := os.ReadFile(target); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("on disk: %d bytes, %v; want the %d sent", len(got), err, len(data))
	}
}

func TestBlockModeAppendAndASCII(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts.addr)
	ctx := testCtx(t)
	ts.fs.WriteFile("/log", []byte("one\n"))
	if _, err := c.Append(ctx, "/log", strings.NewReader("two\n"), ftpclient.BlockMode(nil), ftpclient.ASCII()); err != nil {
		t.Fatal(err)
	}
	if got, _ := ts.fs.ReadFile("/log"); string(got) != "one\ntwo\n" {
		t.Fatalf("appended in MODE B, TYPE A: %q", got)
	}
	var buf bytes.Buffer
	if _, err := c.Retrieve(ctx, "/log", 0, &buf, ftpclient.BlockMode(nil), ftpclient.ASCII()); err != nil || buf.String() != "one\ntwo\n" {
		t.Fatalf("Retrieve in MODE B, TYPE A: %q, %v", buf.String(), err)
	}
}

func TestBlockModeRefused(t *testing.T) {
	t.Parallel()
	fs := startFake(t) // answers MODE with 502
	c := dial(t, fs.addr)
	_, err := c.Retrieve(testCtx(t), "/f", 0, io.Discard, ftpclient.BlockMode(nil))
	if !errors.Is(err, ftpclient.ErrUnsupported) {
		t.Fatalf("Retrieve in MODE B from a server without it: %v", err)
	}
	if fs.count("RETR") != 0 {
		t.Fatal("RETR sent although MODE B was refused")
	}
}

// A download whose blocks end without the EOF block failed, even if the
// server says 226.
func TestBlockModeDownloadWithoutEOFBlock(t *testing.T) {
	t.Parallel()
	fs := startFake(t)
	fs.handle("MODE", func(s *fakeSession, _ string) { s.reply(200, "ok") })
	fs.handle("REST", func(s *fakeSession, _ string) { s.reply(350, "ok") })
	fs.handle("RETR", func(s *fakeSession, _ string) { s.sendData([]byte("\x00\x00\x03abc")) })
	c := dial(t, fs.addr)
	var buf bytes.Buffer
	_, err := c.Retrieve(testCtx(t), "/f", 0, &buf, ftpclient.BlockMode(nil))
	if !errors.Is(err, ftp.ErrBlockIncomplete) {
		t.Fatalf("Retrieve of a cut-short block stream: %v (got %q)", err, buf.String())
	}
}

// Upload a file in block mode and, if the upload fails, resume it from
// the last restart marker the server confirmed.
func ExampleBlockMode() {
	ctx := context.Background()
	c, err := ftpclient.Dial(ctx, "ftp.example.com:21", ftpclient.WithLogin("alice", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	f, err := os.Open("backup.tar")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	marks := &ftpclient.Marks{Interval: 8 << 20}
	_, err = c.Store(ctx, "/backup.tar", f, 0, ftpclient.BlockMode(marks))
	if m, ok := marks.Last(); err != nil && ok {
		// The server has everything before m: send the rest.
		offset, isOffset := m.Offset()
		if _, serr := f.Seek(m.Local, io.SeekStart); serr == nil && isOffset {
			_, err = c.Store(ctx, "/backup.tar", f, offset, ftpclient.BlockMode(marks))
		}
	}
	if err != nil {
		log.Fatal(err)
	}
}
