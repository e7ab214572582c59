//go:build unix

package ftpserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/textproto"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// stallControl logs in on a connection with a tiny receive buffer, asks
// for the STAT listing of a directory far larger than the socket buffers
// (see stallServer)
// and reads only its first line: the server is then blocked writing the
// reply to a peer that does not read, and stays so for DataTimeout.
func stallControl(t *testing.T, ts *testServer) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, raw syscall.RawConn) error {
		return raw.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	conn, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, tp: textproto.NewConn(conn)}
	c.expect(220)
	c.loginAs("alice", "secret")
	c.send("STAT /many")
	// The reply has begun: the session is in it, not waiting for a
	// command that Shutdown could answer with 421.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.tp.ReadLine()
	if err != nil || !strings.HasPrefix(line, "213-") {
		t.Fatalf("STAT reply begins %q, %v", line, err)
	}
	return conn
}

// stallServer is a server whose alice sees a directory "/many" whose
// listing, about 9 MB, is twice the largest socket send buffer, and whose
// replies may block for 30 s on a client that does not read.
// It returns the server and a control connection stalled in that listing
// (see stallControl).
func stallServer(t *testing.T) (*testServer, net.Conn) {
	ts := startServer(t, withFS(newSynthFS(150_000, 0)), func(s *ftpserver.Server) { s.DataTimeout = 30 * time.Second })
	return ts, stallControl(t, ts)
}

// expectClosed checks that the server closed conn: after what was
// already buffered, a read ends with EOF or a reset, not a timeout.
func expectClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server did not close the stalled control connection")
	}
}

// Defect 3 of issue 10: a reply blocked on a client that does not read
// held the lock Shutdown took while holding the server's lock.
func TestShutdownWithClientNotReadingReplies(t *testing.T) {
	t.Parallel()
	ts, stalled := stallServer(t)

	other := ts.login(t)
	other.cmd(200, "NOOP") // served while the stalled session blocks

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	shutdownErr := start(func() error { return ts.srv.Shutdown(ctx) })
	other.expect(421) // the idle session is told at once
	if err := within(t, shutdownErr, 5*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a 1 s grace period = %v, want %v", err, context.DeadlineExceeded)
	}
	expectClosed(t, stalled)
	waitSessions(t, ts)
}

func TestCloseWithClientNotReadingReplies(t *testing.T) {
	t.Parallel()
	ts, stalled := stallServer(t)

	other := ts.login(t)
	other.cmd(257, "PWD") // served while the stalled session blocks
	ts.login(t).cmd(200, "NOOP")

	if err := within(t, start(ts.srv.Close), 5*time.Second); err != nil {
		t.Fatalf("Close = %v", err)
	}
	expectClosed(t, stalled)
	expectClosed(t, other.conn)
	waitSessions(t, ts)
}

// start runs f in its own goroutine; its result comes on the channel.
func start(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

// within returns what done delivers, failing the test if that takes
// longer than d.
func within(t *testing.T, done <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
		return nil
	}
}
