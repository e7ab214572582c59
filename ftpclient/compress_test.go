package ftpclient_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/internal/texttest"
)

// byteCountingDialer counts the bytes that cross every connection the
// client makes, control and data, both ways.
type byteCountingDialer struct{ n atomic.Int64 }

func (d *byteCountingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &d.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func TestCompressionAgainstFerry(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	var trace syncBuffer
	var wire byteCountingDialer
	c := dial(t, ts.addr, ftpclient.WithCompression(true), ftpclient.WithDebug(&trace), ftpclient.WithDialer(wire.dial), ftpclient.WithPoolSize(1))
	ctx := testCtx(t)
	data := texttest.Lines(1 << 20)

	before := wire.n.Load()
	if _, err := c.Store(ctx, "/t.txt", bytes.NewReader(data), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, "/t.txt", strings.NewReader("appended\n")); err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Clone(data), "appended\n"...)
	var got bytes.Buffer
	if _, err := c.Retrieve(ctx, "/t.txt", 0, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("Retrieve: %d bytes, want %d identical", got.Len(), len(want))
	}
	if moved := wire.n.Load() - before; moved > int64(len(data))/2 {
		t.Errorf("two transfers of %d bytes of text took %d bytes on the wire", len(data), moved)
	}

	// From an offset: it counts the file's bytes.
	got.Reset()
	if _, err := c.Retrieve(ctx, "/t.txt", 1000000, &got); err != nil || !bytes.Equal(got.Bytes(), want[1000000:]) {
		t.Fatalf("Retrieve from 1000000: %d bytes, %v", got.Len(), err)
	}
	// Open, read whole and in part.
	r, err := c.Open(ctx, "/t.txt", 0)
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(all, want) {
		t.Fatalf("Open: %d bytes, %v", len(all), err)
	}
	r, err = c.Open(ctx, "/t.txt", 0)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 100)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, want[:100]) {
		t.Fatalf("Open then a partial read: %q, %v", head, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// ASCII on top of MODE Z.
	got.Reset()
	if _, err := c.Store(ctx, "/a.txt", strings.NewReader("x\ny\n"), 0, ftpclient.ASCII()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Retrieve(ctx, "/a.txt", 0, &got); err != nil || got.String() != "x\ny\n" {
		t.Fatalf("binary Retrieve of an ASCII upload: %q, %v", got.String(), err)
	}
	got.Reset()
	if _, err := c.Retrieve(ctx, "/a.txt", 0, &got, ftpclient.ASCII()); err != nil || got.String() != "x\ny\n" {
		t.Fatalf("ASCII Retrieve: %q, %v", got.String(), err)
	}
	// Listings.
	entries, err := c.List(ctx, "/")
	if err != nil || len(entries) != 3 {
		t.Fatalf("List: %v, %v", entries, err)
	}
	names, err := c.NameList(ctx, "/")
	if err != nil || len(names) != 3 {
		t.Fatalf("NameList: %v, %v", names, err)
	}
	if n := strings.Count(trace.String(), "> MODE Z"); n != 1 {
		t.Errorf("MODE Z sent %d times on one connection, want once:\n%s", n, trace.String())
	}
	if strings.Contains(trace.String(), "> MODE S") {
		t.Errorf("MODE S sent:\n%s", trace.String())
	}
}

func TestCompressPerTransfer(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	var trace syncBuffer
	c := dial(t, ts.addr, ftpclient.WithDebug(&trace), ftpclient.WithPoolSize(1))
	ctx := testCtx(t)
	data := texttest.Lines(100000)
	if _, err := c.Store(ctx, "/f", bytes.NewReader(data), 0, ftpclient.Compress()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(trace.String(), "> MODE Z") {
		t.Fatalf("Compress() did not send MODE Z:\n%s", trace.String())
	}
	var got bytes.Buffer
	if _, err := c.Retrieve(ctx, "/f", 0, &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("plain Retrieve after a compressed Store: %d bytes, %v", got.Len(), err)
	}
	if !strings.Contains(trace.String(), "> MODE S") {
		t.Errorf("the plain transfer did not return to MODE S:\n%s", trace.String())
	}
}

// A server that does not offer MODE Z gets plain transfers and no MODE
// command; one that offers it but refuses it is not asked again.
func TestCompressionFallsBack(t *testing.T) {
	t.Parallel()
	data := texttest.Lines(5000)
	for _, offered := range []bool{false, true} {
		t.Run(fmt.Sprint("offered=", offered), func(t *testing.T) {
			t.Parallel()
			fs := startFake(t)
			if offered {
				fs.feat = append(fs.feat, "MODE Z")
			}
			fs.handle("RETR", func(s *fakeSession, arg string) { s.sendData(data) })
			c := dial(t, fs.addr, ftpclient.WithCompression(true), ftpclient.WithPoolSize(1))
			ctx := testCtx(t)
			for range 2 {
				var got bytes.Buffer
				if _, err := c.Retrieve(ctx, "/f", 0, &got); err != nil || !bytes.Equal(got.Bytes(), data) {
					t.Fatalf("Retrieve: %d bytes, %v", got.Len(), err)
				}
			}
			wantModes := 0
			if offered {
				wantModes = 1
			}
			if n := fs.count("MODE"); n != wantModes {
				t.Errorf("MODE sent %d times, want %d: %v", n, wantModes, fs.received())
			}
		})
	}
}

// A corrupt compressed download is an error, never data.
func TestCompressionCorruptDownload(t *testing.T) {
	t.Parallel()
	fs := startFake(t)
	fs.feat = append(fs.feat, "MODE Z")
	fs.handle("MODE", func(s *fakeSession, arg string) { s.reply(200, "Mode set to "+arg) })
	fs.handle("RETR", func(s *fakeSession, arg string) { s.sendData([]byte("this is not deflate data")) })
	c := dial(t, fs.addr, ftpclient.WithCompression(true), ftpclient.WithPoolSize(1))
	var got bytes.Buffer
	if _, err := c.Retrieve(testCtx(t), "/f", 0, &got); err == nil {
		t.Fatalf("Retrieve of a corrupt stream succeeded with %q", got.String())
	}
}
