package ftpserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// The tests here that time timeouts, pace a slow client or fill socket
// buffers with large transfers do not call t.Parallel: they share nothing
// with the others, but beside them on a two-core machine under -race
// their timing would not hold.

// bigFile puts a file large enough that a client that stops reading
// blocks the server's writes.
func bigFile(t *testing.T, ts *testServer, name string) []byte {
	t.Helper()
	content := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	if err := ts.fs.WriteFile(name, content); err != nil {
		t.Fatal(err)
	}
	return content
}

// blockedDownload starts a 64 MiB RETR and reads only its first KiB, so
// the server soon blocks writing to a client that stopped reading; the
// test then sends ABOR its own way.
func blockedDownload(t *testing.T) *client {
	t.Helper()
	ts := startServer(t)
	bigFile(t, ts, "/big")
	c := ts.login(t)
	data := c.transfer("RETR big")
	io.ReadFull(data, make([]byte, 1024))
	return c
}

// expectAborted checks the replies to an ABOR of a running transfer (426
// for the transfer, then 226) and that the session goes on.
func expectAborted(c *client) {
	c.t.Helper()
	c.expect(426)
	c.expect(226)
	c.cmd(200, "NOOP")
}

func TestAbortWhileServerBlockedWriting(t *testing.T) {
	c := blockedDownload(t)
	time.Sleep(100 * time.Millisecond)
	c.send("ABOR")
	expectAborted(c)
}

func TestAbortWithTelnetSynch(t *testing.T) {
	c := blockedDownload(t)
	// RFC 959 §4.1.3: IAC IP, then IAC DM as urgent data, then ABOR.
	c.conn.Write([]byte("\xff\xf4\xff"))
	sendUrgent(t, c.conn, []byte{0xf2})
	c.conn.Write([]byte("ABOR\r\n"))
	expectAborted(c)
}

// TestAbortAsUrgentData does what Python's ftplib.abort() does: the whole
// "ABOR\r\n" sent with MSG_OOB, which makes its last byte urgent.
func TestAbortAsUrgentData(t *testing.T) {
	c := blockedDownload(t)
	sendUrgent(t, c.conn, []byte("ABOR\r\n"))
	expectAborted(c)
}

func sendUrgent(t *testing.T, conn net.Conn, b []byte) {
	t.Helper()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	raw.Write(func(fd uintptr) bool {
		serr = syscall.Sendto(int(fd), b, syscall.MSG_OOB, nil)
		return true
	})
	if serr != nil {
		t.Fatal(serr)
	}
}

func TestAbortWithoutTransfer(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.cmd(225, "ABOR")
	c.cmd(229, "EPSV")
	c.cmd(225, "ABOR")
	c.cmd(425, "LIST") // ABOR closed the prepared channel
}

func TestStatDuringTransfer(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	bigFile(t, ts, "/big")
	c := ts.login(t)
	data := c.transfer("RETR big")
	io.ReadFull(data, make([]byte, 1<<20))
	msg := c.cmd(211, "STAT")
	if !strings.Contains(msg, "RETR /big") || !strings.Contains(msg, fmt.Sprint(64<<20)) {
		t.Fatalf("STAT during transfer: %q", msg)
	}
	io.Copy(io.Discard, data)
	c.expect(226)
}

// TestStatAfterTransferReply: once a transfer's 226 has reached the
// client, STAT reports the session, not the transfer (the transfer used
// to be forgotten only after its reply and its cleanup).
func TestStatAfterTransferReply(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/small", []byte("x"))
	c := ts.login(t)
	for i := range 300 {
		c.retr("small")
		if msg := c.cmd(211, "STAT"); strings.Contains(msg, "in progress") {
			t.Fatalf("STAT right after the 226 of RETR %d: %q", i, msg)
		}
	}
}

func TestQuitDuringTransferSendsTransferReplyFirst(t *testing.T) {
	ts := startServer(t)
	content := bigFile(t, ts, "/big")
	c := ts.login(t)
	data := c.transfer("RETR big")
	c.send("QUIT")
	got, _ := io.ReadAll(data)
	if len(got) != len(content) {
		t.Fatalf("received %d of %d bytes", len(got), len(content))
	}
	c.expect(226)
	c.expect(221)
}

func TestPipelinedCommands(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.dial(t)
	c.conn.Write([]byte("USER alice\r\nPASS secret\r\nPWD\r\nNOOP\r\nSYST\r\n"))
	for _, want := range []int{331, 230, 257, 200, 215} {
		c.expect(want)
	}
}

func TestBadInputKeepsServing(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	inputs := map[string]string{
		"100KB line":   strings.Repeat("A", 100<<10) + "\r\n",
		"NUL bytes":    "US\x00ER x\r\n",
		"invalid UTF8": "CWD \xff\xfe\xfd\r\n",
		"telnet IAC":   "\xff\xfb\x01\xff\xfd\x03NOOP\r\n",
		"bare LF":      "NOOP\n",
		"only CRLF":    "\r\n",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			c := ts.dial(t)
			c.conn.Write([]byte(in))
			code, _ := c.read()
			if code < 200 || code >= 600 {
				t.Fatalf("reply %d", code)
			}
			c.cmd(331, "USER alice") // the same session goes on
			c.cmd(230, "PASS secret")
			fresh := ts.login(t) // and a fresh one is served
			fresh.cmd(257, "PWD")
		})
	}
}

func TestLongLineGets500(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.send("NOOP %s", strings.Repeat("x", 5000))
	c.expect(500)
	c.cmd(200, "NOOP")
}

func TestTraversalStaysInside(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/passwd", []byte("inside"))
	c := ts.login(t)
	c.pasv()
	c.cmd(550, "RETR ../../etc/passwd") // "/etc/passwd" of the user's tree
	if got := c.retr("../../../passwd"); string(got) != "inside" {
		t.Fatalf("got %q", got)
	}
}

func TestBadCommandThreshold(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) { s.MaxBadCommands = 3 })
	c := ts.dial(t)
	c.cmd(500, "BOGUS")
	c.cmd(500, "BOGUS")
	c.send("BOGUS")
	c.expect(500)
	c.expect(421)
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("session still open after the threshold")
	}
}

func TestFailedLoginCountsAsBad(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) { s.MaxBadCommands = 2 })
	c := ts.dial(t)
	c.cmd(331, "USER alice")
	c.cmd(530, "PASS wrong")
	c.cmd(331, "USER alice")
	c.send("PASS wrong")
	c.expect(421)
}

func TestLoginFailDelay(t *testing.T) {
	ts := startServer(t, func(s *ftpserver.Server) { s.LoginFailDelay = 300 * time.Millisecond })
	c := ts.dial(t)
	c.cmd(331, "USER alice")
	start := time.Now()
	c.cmd(530, "PASS wrong")
	if time.Since(start) < 250*time.Millisecond {
		t.Fatal("failed login was answered without the delay")
	}
}

func TestIdleTimeouts(t *testing.T) {
	ts := startServer(t, func(s *ftpserver.Server) {
		s.LoginTimeout = 200 * time.Millisecond
		s.IdleTimeout = 600 * time.Millisecond
	})
	pre := ts.dial(t)
	pre.expect(421) // not logged in: the short timeout
	c := ts.login(t)
	time.Sleep(300 * time.Millisecond)
	c.cmd(200, "NOOP") // logged in: the longer one
	c.expect(421)
}

func TestIdleTimeoutNeverFiresDuringTransfer(t *testing.T) {
	ts := startServer(t, func(s *ftpserver.Server) { s.IdleTimeout = 200 * time.Millisecond })
	content := bigFile(t, ts, "/big")
	c := ts.login(t)
	data := c.transfer("RETR big")
	// Read slowly for longer than the idle timeout.
	buf := make([]byte, 8<<20)
	var got int
	deadline := time.Now().Add(600 * time.Millisecond)
	for time.Now().Before(deadline) {
		n, _ := io.ReadFull(data, buf[:1<<20])
		got += n
		time.Sleep(50 * time.Millisecond)
	}
	rest, _ := io.ReadAll(data)
	got += len(rest)
	if got != len(content) {
		t.Fatalf("received %d of %d", got, len(content))
	}
	c.expect(226)
}

func TestSessionLimits(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) { s.MaxSessionsPerIP = 2 })
	ts.dial(t)
	ts.dial(t)
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line := make([]byte, 64)
	n, _ := conn.Read(line)
	if !strings.HasPrefix(string(line[:n]), "421 ") {
		t.Fatalf("third session got %q", line[:n])
	}
}

func TestShutdownLetsTransferFinish(t *testing.T) {
	ts := startServer(t)
	content := bigFile(t, ts, "/big")
	c := ts.login(t)
	idle := ts.login(t)
	data := c.transfer("RETR big")
	shutdownDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdownDone <- ts.srv.Shutdown(ctx)
	}()
	idle.expect(421)
	got, _ := io.ReadAll(data)
	if len(got) != len(content) {
		t.Fatalf("transfer cut short at shutdown: %d of %d", len(got), len(content))
	}
	c.expect(226)
	c.expect(421)
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

// TestSlowButMovingClientIsNotCutOff reads a download far more slowly than
// the server could send it, for much longer than DataTimeout: the deadline
// applies to each stretch of progress, not to the whole transfer.
func TestSlowButMovingClientIsNotCutOff(t *testing.T) {
	// A blocked writer wakes when about a third of the (autotuned, ~4 MB)
	// send buffer has drained, so the timeout must exceed that at the
	// client's rate.
	ts := startServer(t, func(s *ftpserver.Server) { s.DataTimeout = 800 * time.Millisecond })
	content := bytes.Repeat([]byte("slow"), 4<<20) // 16 MiB
	ts.fs.WriteFile("/slow", content)
	c := ts.login(t)
	data := c.pasv()
	data.(*net.TCPConn).SetReadBuffer(64 << 10)
	c.cmd(150, "RETR slow")
	var got, reads int
	start := time.Now()
	buf := make([]byte, 32<<10)
	for { // about 4 MB/s
		n, err := data.Read(buf)
		got += n
		reads++
		if err != nil {
			break
		}
		time.Sleep(8 * time.Millisecond)
	}
	t.Logf("%d bytes in %d reads, %v", got, reads, time.Since(start))
	c.expect(226)
	if got != len(content) {
		t.Fatalf("received %d of %d bytes", got, len(content))
	}
}

// A command typed slowly during a transfer (its first bytes, a pause
// longer than the idle timeout, the rest) is one command: the deadline
// that fires in between must not cut it in two.
func TestSlowCommandDuringTransfer(t *testing.T) {
	ts := startServer(t, func(s *ftpserver.Server) { s.IdleTimeout = 200 * time.Millisecond })
	bigFile(t, ts, "/big")
	c := ts.login(t)
	data := c.transfer("RETR big")
	io.ReadFull(data, make([]byte, 1<<20))
	if _, err := c.conn.Write([]byte("ST")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	msg := c.cmd(211, "AT")
	if !strings.Contains(msg, "RETR /big") {
		t.Fatalf("STAT during transfer: %q", msg)
	}
	io.Copy(io.Discard, data)
	c.expect(226)
}
