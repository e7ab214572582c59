package ftpserver_test

import (
	"errors"
	"net/textproto"
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
