package ftpserver_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// protPClient logs in over explicit TLS with PROT P.
func (ts *tlsServer) protPClient(t *testing.T, conf *tls.Config) *client {
	t.Helper()
	c := ts.dial(t)
	c.authTLS(conf)
	c.cmd(200, "PBSZ 0")
	c.cmd(200, "PROT P")
	c.loginAs("alice", "secret")
	return c
}

// download sends command and reads its data from the connection opened
// for it.
func (c *client) download(data io.Reader, command string) []byte {
	c.t.Helper()
	c.cmd(150, "%s", command)
	got, err := io.ReadAll(data)
	if err != nil {
		c.t.Fatalf("%s: %v", command, err)
	}
	c.expect(226)
	return got
}

// transferRefused sends a transfer command whose data connection must be
// refused: 425, after a 150 or instead of it.
func (c *client) transferRefused(command string) {
	c.t.Helper()
	c.send("%s", command)
	if code, msg := c.read(); code == 150 {
		c.expect(425)
	} else if code != 425 {
		c.t.Fatalf("%s: %d %q, want 425", command, code, msg)
	}
}

// secureFirst opens a PROT P data connection and completes its TLS
// handshake before any transfer command is sent, as Node's basic-ftp
// expects to be able to.
func (c *client) secureFirst(conf *tls.Config) *tls.Conn {
	c.t.Helper()
	tc := tls.Client(c.pasv(), conf)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("data handshake before the transfer command: %v", err)
	}
	if !tc.ConnectionState().DidResume {
		c.t.Fatal("the data connection did not resume the control session")
	}
	tc.SetDeadline(time.Time{})
	return tc
}

// wantEmpty checks that an upload stored an empty file.
func (ts *testServer) wantEmpty(t *testing.T, name string) {
	t.Helper()
	if got, err := ts.fs.ReadFile(name); err != nil || len(got) != 0 {
		t.Fatalf("%s: %q, %v; want an empty file", name, got, err)
	}
}

// TestTLSDataSecuredBeforeTransferCommand: the server completes a PROT P
// data connection's handshake when the connection arrives, so a client
// that finishes the handshake, uploads nothing and closes before its STOR
// still stores an empty file, and so does one that closes when 150 comes
// (basic-ftp's zero-byte uploads).
func TestTLSDataSecuredBeforeTransferCommand(t *testing.T) {
	t.Parallel()
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Parallel()
			ts := startTLSServer(t)
			conf := ts.clientConfig(version)
			c := ts.protPClient(t, conf)
			for i := range 10 {
				data := c.secureFirst(conf)
				data.Close() // close_notify and FIN: an empty upload, done
				c.cmd(150, "STOR empty%d", i)
				c.expect(226)
				ts.wantEmpty(t, fmt.Sprintf("/empty%d", i))
			}

			// What basic-ftp does: send the ClientHello (resuming the
			// control session) without waiting for the rest, send STOR,
			// and for an empty upload close at once when 150 arrives,
			// taking the resumed session for a finished handshake. The
			// server answers 150 only after its side of the handshake.
			// STOR goes once the server has answered the ClientHello:
			// the case is a ClientHello that reached the server before
			// STOR, and two connections' segments are not ordered (on a
			// loaded machine even loopback delivers STOR first now and
			// then, and the server cannot tell that client from one
			// that waits for 150 before its handshake).
			for i := range 20 {
				raw := c.pasv()
				hello := &notifyConn{Conn: raw, answered: make(chan struct{})}
				handshake := make(chan error, 1)
				go func() { handshake <- tls.Client(hello, conf).Handshake() }()
				<-hello.answered // the server has the ClientHello
				c.cmd(150, "STOR closed-at-150-%d", i)
				raw.Close()
				<-handshake // failed or not: the server's side is what counts
				c.expect(226)
				ts.wantEmpty(t, fmt.Sprintf("/closed-at-150-%d", i))
			}

			// The same client's ClientHello arriving after its STOR (on
			// a loaded machine, now and then): once the session has shown
			// that it begins the handshake first, the server waits for
			// it before 150 instead of taking the client for one that
			// waits for 150.
			for i := range 3 {
				raw := c.pasv()
				c.send("STOR late-%d", i)
				c.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				if _, err := c.tp.R.Peek(1); err == nil {
					t.Fatal("a reply came before the data connection's handshake began")
				} else if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatal(err)
				}
				handshake := make(chan error, 1)
				go func() { handshake <- tls.Client(raw, conf).Handshake() }()
				c.expect(150)
				raw.Close()
				<-handshake
				c.expect(226)
				ts.wantEmpty(t, fmt.Sprintf("/late-%d", i))
			}

			content := bytes.Repeat([]byte("early bird "), 5000)
			data := c.secureFirst(conf)
			c.cmd(150, "STOR f")
			data.Write(content)
			data.Close()
			c.expect(226)
			if got := c.download(c.secureFirst(conf), "RETR f"); !bytes.Equal(got, content) {
				t.Fatalf("RETR: %d bytes of %d", len(got), len(content))
			}

			// The usual order (transfer command, then handshake) works
			// as before.
			got, err := c.secureRetr("f", conf, nil)
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("RETR, handshake after 150: %d bytes, %v", len(got), err)
			}
			c.expect(226)
		})
	}
}

// notifyConn closes answered when its first read returns: the peer has
// answered what was written.
type notifyConn struct {
	net.Conn
	once     sync.Once
	answered chan struct{}
}

func (c *notifyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.once.Do(func() { close(c.answered) })
	return n, err
}

// TestTLSEarlyDataAbort: ABOR while the data connection's handshake
// stalls (the client connected and sent nothing) is answered at once,
// not after the data timeout.
func TestTLSEarlyDataAbort(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, func(s *ftpserver.Server) { s.DataTimeout = time.Minute })
	ts.fs.WriteFile("/f", []byte("data"))
	conf := ts.clientConfig(0)
	c := ts.protPClient(t, conf)
	c.pasv() // connected, no handshake
	c.cmd(150, "RETR f")
	c.send("ABOR")
	c.expect(426)
	c.expect(226)
	// The session goes on with a new data connection.
	if got := c.download(c.secureFirst(conf), "RETR f"); string(got) != "data" {
		t.Fatalf("RETR after ABOR: %q", got)
	}
}

// TestTLSEarlyDataForeignAddress: a connection from another address to
// the passive port is turned away while the data connection is awaited
// early, and the client's own connection still gets the data.
func TestTLSEarlyDataForeignAddress(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	ts.fs.WriteFile("/secret", []byte("not for thieves"))
	conf := ts.clientConfig(0)
	c := ts.protPClient(t, conf)
	msg := c.cmd(229, "EPSV")
	thief := c.dataFrom("127.0.0.2", msg)
	thief.SetReadDeadline(time.Now().Add(5 * time.Second))
	stolen := tls.Client(thief, ts.clientConfig(0))
	if err := stolen.Handshake(); err == nil {
		t.Fatal("the server secured a data connection from a foreign address")
	}
	if n, _ := io.ReadAll(stolen); len(n) != 0 {
		t.Fatalf("thief received %q", n)
	}
	data := tls.Client(c.dataFrom("127.0.0.1", msg), conf)
	data.SetDeadline(time.Now().Add(5 * time.Second))
	if err := data.Handshake(); err != nil {
		t.Fatal(err)
	}
	if got := c.download(data, "RETR secret"); string(got) != "not for thieves" {
		t.Fatalf("RETR: %q", got)
	}
}

// TestTLSEarlyDataProtChanged: PROT C between EPSV and the transfer
// command makes the connection secured early useless: 425, and the next
// data connection is in the clear.
func TestTLSEarlyDataProtChanged(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	ts.fs.WriteFile("/f", []byte("clear"))
	conf := ts.clientConfig(0)
	c := ts.protPClient(t, conf)
	c.secureFirst(conf)
	c.cmd(200, "PROT C")
	c.transferRefused("RETR f")
	if got := string(c.retr("f")); got != "clear" {
		t.Fatalf("clear RETR: %q", got)
	}
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTLSUnresumedDataLogNamesCause: a data connection that resumes
// another control connection's session (rclone before 1.64 shares one
// session cache) is refused with 425, and the log says what to look at.
func TestTLSUnresumedDataLogNamesCause(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	ts := startTLSServer(t, func(s *ftpserver.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ts.fs.WriteFile("/f", []byte("data"))
	shared := ts.clientConfig(0)
	first := ts.protPClient(t, shared)
	second := ts.protPClient(t, shared) // the cache now holds second's session
	_ = first
	raw := first.pasv()
	tc := tls.Client(raw, shared)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	tc.Handshake() // resumes second's session: refused
	first.transferRefused("RETR f")
	second.cmd(200, "NOOP")
	waitUntil(t, func() string {
		if l := logs.String(); !strings.Contains(l, "shares one session cache") || !strings.Contains(l, "allow_unresumed_data") {
			return "log does not name the cause:\n" + l
		}
		return ""
	})
}

// A PROT P data connection whose early handshake fails is closed at once,
// not left to the garbage collector: a client repeating garbage handshakes
// would otherwise exhaust the server's descriptors.
func TestTLSEarlyDataFailedHandshakeClosed(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	ts.fs.WriteFile("/f", []byte("data"))
	c := ts.protPClient(t, ts.clientConfig(0))
	data := c.pasv()
	if _, err := io.WriteString(data, "this is no TLS ClientHello\r\n"); err != nil {
		t.Fatal(err)
	}
	c.transferRefused("RETR f")
	// The server's side is closed: the client reads its end (an alert
	// may come first), long before any deadline.
	data.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(data); err != nil {
		t.Fatalf("data connection after a failed handshake: %v (still open on the server)", err)
	}
	c.cmd(200, "NOOP")
}
