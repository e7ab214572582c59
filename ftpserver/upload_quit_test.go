package ftpserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// quitRightAfterData uploads content as name the way scripted clients do
// when they do not wait for the final reply: data, close data, QUIT, close
// control.
func quitRightAfterData(t *testing.T, ts *testServer, name string, content []byte) {
	t.Helper()
	c := ts.login(t)
	data := c.transfer("STOR %s", name)
	if _, err := data.Write(content); err != nil {
		t.Fatal(err)
	}
	data.Close()
	c.send("QUIT")
	c.conn.Close()
}

// TestUploadCompleteWhenClientQuitsAtOnce: EOF on the data connection ends
// the file in stream mode, and a QUIT sent after it is proof the client
// finished rather than died, however soon the control connection closes.
func TestUploadCompleteWhenClientQuitsAtOnce(t *testing.T) {
	t.Parallel()
	const rounds = 150
	for _, mode := range []ftpserver.UploadMode{ftpserver.UploadAtomic, ftpserver.UploadAtomicResume} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			ts, dir := startDiskServer(t, mode)
			want := make([][]byte, rounds)
			for i := range rounds {
				want[i] = make([]byte, 1000+rand.IntN(200<<10))
				for j := range want[i] {
					want[i][j] = byte(rand.Uint32())
				}
				quitRightAfterData(t, ts, fmt.Sprintf("f%03d", i), want[i])
			}
			waitSessions(t, ts)
			lost := 0
			for i := range rounds {
				got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)))
				if err != nil || !bytes.Equal(got, want[i]) {
					lost++
					t.Logf("f%03d: %d bytes (err %v), want %d identical", i, len(got), err, len(want[i]))
				}
			}
			if lost > 0 {
				t.Fatalf("%d of %d uploads lost or damaged", lost, rounds)
			}
		})
	}
}

// gatedFS holds every upload's first write until its gate opens, so a
// test can put both of a client's connections into a known state before
// the server sees the end of the data.
type gatedFS struct {
	ftpserver.FileSystem
	gate chan struct{}
}

func (g *gatedFS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	w, err := g.FileSystem.Create(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	return &gatedWriter{FileWriter: w, gate: g.gate}, nil
}

type gatedWriter struct {
	ftpserver.FileWriter
	gate chan struct{}
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	<-w.gate
	return w.FileWriter.Write(p)
}

func (w *gatedWriter) ReadFrom(r io.Reader) (int64, error) {
	<-w.gate
	if rf, ok := w.FileWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.FileWriter}, r)
}

// startGatedServer serves a temp directory in mode with uploads held at
// their first write until the returned gate is closed.
func startGatedServer(t *testing.T, mode ftpserver.UploadMode) (*testServer, string, chan struct{}) {
	gate := make(chan struct{})
	ts, dir := startWrappedDiskServer(t, mode, func(fsys ftpserver.FileSystem) ftpserver.FileSystem {
		return &gatedFS{FileSystem: fsys, gate: gate}
	})
	return ts, dir, gate
}

// TestUploadQuitBeforeServerSawData: everything the client will ever send
// (data, EOF, QUIT, EOF on control) has arrived before the server reads
// the data; the file is complete and both replies are sent.
func TestUploadQuitBeforeServerSawData(t *testing.T) {
	t.Parallel()
	for _, mode := range []ftpserver.UploadMode{ftpserver.UploadAtomic, ftpserver.UploadAtomicResume, ftpserver.UploadDirect} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			ts, dir, gate := startGatedServer(t, mode)
			os.WriteFile(filepath.Join(dir, "target"), []byte("previous version"), 0o644)
			content := bytes.Repeat([]byte("complete "), 20000)
			c := ts.login(t)
			storThenHalfClose(c, "target", content, "QUIT")
			close(gate)
			c.expect(226)
			c.expect(221)
			if got, _ := os.ReadFile(filepath.Join(dir, "target")); !bytes.Equal(got, content) {
				t.Fatalf("target holds %d bytes, want the %d sent", len(got), len(content))
			}
		})
	}
}

// TestKilledAfterDataEOFKeepsPreviousVersion: a killed client's kernel
// closes the data connection with a FIN as a finished one does, and the
// control connection without QUIT (FIN) or with a reset. In atomic mode
// the partial never becomes the file, and no temp file remains.
func TestKilledAfterDataEOFKeepsPreviousVersion(t *testing.T) {
	t.Parallel()
	for _, reset := range []bool{false, true} {
		name := "control-fin"
		if reset {
			name = "control-rst"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, dir, gate := startGatedServer(t, ftpserver.UploadAtomic)
			os.WriteFile(filepath.Join(dir, "target"), []byte("previous version"), 0o644)
			c := ts.login(t)
			data := c.transfer("STOR target")
			if _, err := data.Write(bytes.Repeat([]byte("partial "), 20000)); err != nil {
				t.Fatal(err)
			}
			data.Close()
			if reset {
				c.conn.(*net.TCPConn).SetLinger(0)
			}
			c.conn.Close()
			close(gate)
			waitSessions(t, ts)
			if got, _ := os.ReadFile(filepath.Join(dir, "target")); string(got) != "previous version" {
				t.Fatalf("target holds %d bytes, want the previous version", len(got))
			}
			if names := dirNames(t, dir); strings.Join(names, ",") != "target" {
				t.Fatalf("directory holds %q", names)
			}
		})
	}
}

// TestUploadQuitBehindAnotherCommand: the QUIT that proves the client
// finished may wait behind another command the control loop holds back
// until the transfer's reply; it is found in what is still unread.
func TestUploadQuitBehindAnotherCommand(t *testing.T) {
	t.Parallel()
	ts, dir, gate := startGatedServer(t, ftpserver.UploadAtomic)
	content := bytes.Repeat([]byte("complete "), 20000)
	c := ts.login(t)
	storThenHalfClose(c, "target", content, "NOOP", "QUIT")
	close(gate)
	c.expect(226)
	c.expect(200)
	c.expect(221)
	if got, _ := os.ReadFile(filepath.Join(dir, "target")); !bytes.Equal(got, content) {
		t.Fatalf("target holds %d bytes, want the %d sent", len(got), len(content))
	}
}

// storThenHalfClose sends content for STOR name, closes the data
// connection, sends commands and shuts down its sending side of the
// control connection without waiting for any reply after 150.
func storThenHalfClose(c *client, name string, content []byte, commands ...string) {
	c.t.Helper()
	data := c.transfer("STOR %s", name)
	if _, err := data.Write(content); err != nil {
		c.t.Fatal(err)
	}
	data.Close()
	for _, cmd := range commands {
		c.send("%s", cmd)
	}
	c.conn.(*net.TCPConn).CloseWrite()
}
