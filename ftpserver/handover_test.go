//go:build unix

package ftpserver_test

import (
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// waiters counts the goroutines waiting on a quiet control connection.
func waiters() int {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "ftpserver.waitReadable(")
}

// waitFor polls cond for up to 2 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A session whose client goes quiet hands its goroutine over to a waiter;
// the next command, a command split by a pause, and the idle timeout all
// work as before.
func TestQuietSessionHandsOver(t *testing.T) {
	ts := startServer(t)
	before := waiters()
	c := ts.login(t)
	waitFor(t, "the session to hand over", func() bool { return waiters() == before+1 })
	c.cmd(200, "NOOP")
	c.cmd(257, "PWD")
	if _, err := c.conn.Write([]byte("NO")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // more than the hand-over delay
	c.cmd(200, "OP")
	waitFor(t, "the session to hand over again", func() bool { return waiters() == before+1 })
	data := c.pasv()
	time.Sleep(200 * time.Millisecond) // quiet with a passive channel prepared
	c.cmd(150, "LIST")
	io.ReadAll(data)
	c.expect(226)
}

func TestShutdownReachesQuietSessions(t *testing.T) {
	ts := startServer(t)
	before := waiters()
	var cs []*client
	for range 3 {
		cs = append(cs, ts.login(t))
	}
	waitFor(t, "the sessions to hand over", func() bool { return waiters() == before+3 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range cs {
		c.expect(421)
	}
	if n := ts.srv.SessionCount(); n != 0 {
		t.Errorf("%d sessions after Shutdown", n)
	}
}

func TestCloseReachesQuietSessions(t *testing.T) {
	ts := startServer(t)
	before := waiters()
	c := ts.login(t)
	waitFor(t, "the session to hand over", func() bool { return waiters() == before+1 })
	ts.srv.Close()
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.conn.Read(make([]byte, 64)); err != io.EOF {
		t.Errorf("read after Close: %v, want EOF", err)
	}
	waitFor(t, "the session to end", func() bool { return ts.srv.SessionCount() == 0 })
	waitFor(t, "the waiter to end", func() bool { return waiters() == before })
}
