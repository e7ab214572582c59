package ftpserver_test

import (
	"context"
	"errors"
	"io"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// expectSoon reads replies and fails unless their codes are want, in
// order, all within d. The bound is far below the timeouts the server
// under test is given, so only a server that acts at once passes.
func expectSoon(c *client, d time.Duration, want ...int) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	for _, code := range want {
		got, msg, err := c.tp.ReadResponse(0)
		var te *textproto.Error
		if err != nil && !errors.As(err, &te) {
			c.t.Fatalf("waiting for %d (of %v): %v", code, want, err)
		}
		if got != code {
			c.t.Fatalf("got %d %q, want %d (of %v)", got, msg, code, want)
		}
	}
}

// stalledRetr starts a RETR of a 1 GiB file to a client that reads none
// of the data, on a server whose DataTimeout (30 s) is far longer than
// any test waits: the transfer stays blocked writing until aborted.
func stalledRetr(t *testing.T) (*client, *synthFS) {
	t.Helper()
	fsys := newSynthFS(0, 1<<30)
	ts := startServer(t, withFS(fsys), func(s *ftpserver.Server) { s.DataTimeout = 30 * time.Second })
	c := ts.login(t)
	c.pasv() // opened, never read
	c.cmd(150, "RETR endless")
	return c, fsys
}

// ABOR behind a queued command (issue 10): during a RETR to a client that
// does not read the data, ABOR sent after another command was answered
// only when the data timeout ended the transfer.
func TestAborOvertakesQueuedCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		send  func(t *testing.T, c *client)
		first []int // replies before ABOR's
	}{
		{"NOOP", func(t *testing.T, c *client) { c.conn.Write([]byte("NOOP\r\nABOR\r\n")) }, nil},
		// STAT during a transfer is answered at once (RFC 959 §4.1.3);
		// NOOP then waits and ABOR overtakes it.
		{"STAT NOOP", func(t *testing.T, c *client) { c.conn.Write([]byte("STAT /x\r\nNOOP\r\nABOR\r\n")) }, []int{211}},
		{"NOOP with Telnet IP and Synch", func(t *testing.T, c *client) {
			c.conn.Write([]byte("NOOP\r\n\xff\xf4\xff"))
			sendUrgent(t, c.conn, []byte{0xf2})
			c.conn.Write([]byte("ABOR\r\n"))
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := stalledRetr(t)
			tc.send(t, c)
			expectSoon(c, 5*time.Second, append(tc.first, 426, 226, 200)...)
			c.cmd(257, "PWD")
		})
	}
}

// Commands read ahead behind a queued one keep their order, and ABOR
// overtakes all of them.
func TestAborOvertakesSeveralQueuedCommands(t *testing.T) {
	t.Parallel()
	c, _ := stalledRetr(t)
	c.conn.Write([]byte("TYPE A\r\nPWD\r\nBOGUS\r\nTYPE I\r\nABOR\r\nNOOP\r\n"))
	expectSoon(c, 5*time.Second, 426, 226, 200, 257, 500, 200, 200)
}

// hashServer serves a 1 TiB "/endless" file of zeros with no cap on the
// size hashed: a HASH of it runs for as long as the test lets it.
func hashServer(t *testing.T) (*testServer, *synthFS) {
	t.Helper()
	fsys := newSynthFS(0, 1<<40)
	ts := startServer(t, withFS(fsys), func(s *ftpserver.Server) { s.MaxHashSize = -1 })
	return ts, fsys
}

// waitClosed waits until the server has closed the "/endless" reader, so
// hashing has stopped reading.
func waitClosed(t *testing.T, fsys *synthFS) {
	t.Helper()
	select {
	case <-fsys.closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("still hashing after 5 s (%d reads)", fsys.reads.Load())
	}
}

// HASH ran in the control loop (issue 10): STAT and ABOR waited for it.
func TestAborDuringHash(t *testing.T) {
	t.Parallel()
	for _, verb := range []string{"HASH endless", "XSHA256 endless", "XCRC endless 0 1099511627776"} {
		t.Run(verb, func(t *testing.T) {
			t.Parallel()
			ts, fsys := hashServer(t)
			c := ts.login(t)
			c.send("%s", verb)
			c.send("STAT")
			if msg := c.expect(211); !strings.Contains(msg, "/endless") {
				t.Fatalf("STAT during %s: %q", verb, msg)
			}
			c.send("ABOR")
			expectSoon(c, 5*time.Second, 426, 226)
			waitClosed(t, fsys)
			c.cmd(200, "NOOP")
		})
	}
}

// A client that goes during a HASH, alone or with a command queued behind
// it: the hash stops.
func TestHashStopsWhenClientGoes(t *testing.T) {
	t.Parallel()
	for name, commands := range map[string]string{
		"alone":                 "HASH endless\r\n",
		"with a command queued": "HASH endless\r\nNOOP\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, fsys := hashServer(t)
			c := ts.login(t)
			c.conn.Write([]byte(commands))
			waitUntil(t, func() string {
				if fsys.reads.Load() == 0 {
					return "HASH did not start reading"
				}
				return ""
			})
			c.conn.Close()
			waitClosed(t, fsys)
			waitSessions(t, ts)
		})
	}
}

func TestQuitDuringHash(t *testing.T) {
	t.Parallel()
	ts, fsys := hashServer(t)
	c := ts.login(t)
	c.conn.Write([]byte("HASH endless\r\nQUIT\r\n"))
	expectSoon(c, 5*time.Second, 426, 221)
	waitClosed(t, fsys)
}

func TestHashSizeCap(t *testing.T) {
	t.Parallel()
	fsys := newSynthFS(0, 5<<30)
	ts := startServer(t, withFS(fsys)) // the default cap, 4 GiB
	c := ts.login(t)
	if msg := c.cmd(504, "HASH endless"); !strings.Contains(msg, "4294967296") {
		t.Fatalf("HASH over the cap: %q", msg)
	}
	c.cmd(504, "XMD5 endless")
	// A range under the cap is hashed: MD5 of 1 KiB of zeros.
	if msg := c.cmd(250, "XMD5 endless 0 1024"); msg != "0f343b0931126a20f133d67c2b018a3b" {
		t.Fatalf("XMD5 of a range = %q", msg)
	}

	small := startServer(t, func(s *ftpserver.Server) { s.MaxHashSize = 4 })
	small.fs.WriteFile("/h.txt", []byte("hello"))
	c = small.login(t)
	c.cmd(504, "HASH h.txt")
	if msg := c.cmd(250, "XMD5 h.txt 0 4"); msg != "4229d691b07b13341da53f17ab9f2416" { // md5("hell")
		t.Fatalf("XMD5 range = %q", msg)
	}
}

// Commands behind a HASH are answered after it, in order.
func TestHashPipelined(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/h.txt", []byte("hello"))
	c := ts.login(t)
	c.conn.Write([]byte("HASH h.txt\r\nXCRC h.txt\r\nPWD\r\n"))
	if msg := c.expect(213); msg != "SHA-256 0-5 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 h.txt" {
		t.Fatalf("HASH = %q", msg)
	}
	if msg := c.expect(250); msg != "3610a686" {
		t.Fatalf("XCRC = %q", msg)
	}
	c.expect(257)
}

// The login timeout counts from the connection (issue 10): commands
// before login, NOOP every fifth of the timeout here, used to restart it.
func TestLoginTimeoutCountsFromConnection(t *testing.T) {
	t.Parallel()
	const loginTimeout = 500 * time.Millisecond
	ts := startServer(t, func(s *ftpserver.Server) { s.LoginTimeout = loginTimeout })
	connected := time.Now()
	c := ts.dial(t)
	c.cmd(331, "USER nobody") // a login begun but never finished
	tick := time.NewTicker(loginTimeout / 5)
	defer tick.Stop()
	for {
		c.send("NOOP")
		code, msg := c.read()
		if code == 421 {
			if elapsed := time.Since(connected); elapsed < loginTimeout {
				t.Fatalf("closed after %v, before the login timeout (%v): %q", elapsed, loginTimeout, msg)
			}
			break
		}
		if code != 200 {
			t.Fatalf("NOOP before login: %d %q", code, msg)
		}
		if time.Since(connected) > 10*loginTimeout {
			t.Fatalf("still open %v after connecting with a login timeout of %v", time.Since(connected), loginTimeout)
		}
		<-tick.C
	}
	expectClosed(t, c.conn)
	waitSessions(t, ts)
}

// After REIN the client has a new login timeout, however long the
// session has been open.
func TestLoginTimeoutRestartsAfterREIN(t *testing.T) {
	t.Parallel()
	const loginTimeout = 300 * time.Millisecond
	ts := startServer(t, func(s *ftpserver.Server) { s.LoginTimeout = loginTimeout })
	connected := time.Now()
	c := ts.login(t)
	for time.Since(connected) < 2*loginTimeout {
		c.cmd(257, "PWD") // logged in: the idle timeout (default 5 min) applies
	}
	reinAt := time.Now()
	c.cmd(220, "REIN")
	c.cmd(200, "NOOP") // not closed at once for the session's age
	c.expect(421)      // but once the new login timeout has run out
	if since := time.Since(reinAt); since < loginTimeout {
		t.Fatalf("closed %v after REIN, before the login timeout (%v)", since, loginTimeout)
	}
}

// Shutdown while a command waits behind a transfer: the transfer still
// finishes, and the replies keep their order (226, the queued command's,
// then 421).
func TestShutdownWithCommandQueuedBehindTransfer(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	// More than the socket buffers hold: the transfer is still running
	// when the NOOP comes.
	content := make([]byte, 24<<20)
	ts.fs.WriteFile("/big", content)
	c := ts.login(t)
	data := c.transfer("RETR big")
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(data, head); err != nil {
		t.Fatal(err)
	}
	c.send("NOOP")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shutdownErr := start(func() error { return ts.srv.Shutdown(ctx) })
	rest, _ := io.ReadAll(data)
	if got := len(head) + len(rest); got != len(content) {
		t.Fatalf("transfer cut at %d of %d bytes by Shutdown", got, len(content))
	}
	// The NOOP is answered if the server read it before Shutdown (almost
	// always); never before the transfer's reply.
	expectSoon(c, 5*time.Second, 226)
	if code, msg := c.read(); code == 200 {
		c.expect(421)
	} else if code != 421 {
		t.Fatalf("after the transfer: %d %q, want 200 then 421, or 421", code, msg)
	}
	if err := within(t, shutdownErr, 5*time.Second); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
}

// Commands sent behind AUTH before the handshake are refused (command
// injection), also when a transfer was running as they came and the
// control loop read ahead.
func TestReadAheadStopsAtAUTH(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, withFS(newSynthFS(0, 1<<30)), func(s *ftpserver.Server) { s.DataTimeout = time.Second })
	c := ts.login(t)
	c.pasv() // opened, never read: the RETR fails after DataTimeout
	c.cmd(150, "RETR endless")
	c.conn.Write([]byte("NOOP\r\nAUTH TLS\r\nUSER alice\r\n"))
	expectSoon(c, 10*time.Second, 426, 200, 421)
}

// ABOR behind a command queued behind a HASH: the hash stops at once.
func TestAborOvertakesCommandQueuedBehindHash(t *testing.T) {
	t.Parallel()
	ts, fsys := hashServer(t)
	c := ts.login(t)
	c.conn.Write([]byte("HASH endless\r\nNOOP\r\nABOR\r\n"))
	expectSoon(c, 5*time.Second, 426, 226, 200)
	waitClosed(t, fsys)
}
