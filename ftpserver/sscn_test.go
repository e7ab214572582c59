package ftpserver_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
)

// secureLogin dials ts from ip ("" for any), secures the control
// connection, logs in as alice and protects data connections.
func (ts *tlsServer) secureLogin(t *testing.T, ip string) *client {
	t.Helper()
	c := ts.dialFrom(t, ip)
	c.authTLS(ts.clientConfig(0))
	c.loginAs("alice", "secret")
	c.cmd(200, "PBSZ 0")
	c.cmd(200, "PROT P")
	c.cmd(200, "TYPE I")
	return c
}

func TestSSCNStates(t *testing.T) {
	t.Parallel()
	plain := startServer(t)
	c := plain.login(t)
	c.cmd(502, "SSCN ON")
	c.cmd(502, "CPSV")
	if feat := c.cmd(211, "FEAT"); strings.Contains(feat, "SSCN") || strings.Contains(feat, "CPSV") {
		t.Errorf("FEAT without TLS lists SSCN or CPSV: %q", feat)
	}

	ts := startTLSServer(t)
	c = ts.dialHeld(t)
	if feat := c.cmd(211, "FEAT"); !strings.Contains(feat, "\n SSCN\n") || !strings.Contains(feat, "\n CPSV\n") {
		t.Errorf("FEAT with TLS lacks SSCN or CPSV: %q", feat)
	}
	c.cmd(503, "SSCN ON") // before AUTH TLS
	c.authTLS(ts.clientConfig(0))
	for _, step := range []struct {
		cmd, want string
		code      int
	}{
		{"SSCN", "SSCN:SERVER METHOD", 200},
		{"SSCN ON", "SSCN:CLIENT METHOD", 200},
		{"SSCN", "SSCN:CLIENT METHOD", 200},
		{"SSCN MAYBE", "SSCN takes ON or OFF.", 501},
		{"SSCN", "SSCN:CLIENT METHOD", 200},
		{"sscn off", "SSCN:SERVER METHOD", 200},
		{"SSCN on", "SSCN:CLIENT METHOD", 200},
	} {
		if msg := c.cmd(step.code, "%s", step.cmd); msg != step.want {
			t.Errorf("%s: %q, want %q", step.cmd, msg, step.want)
		}
	}
	// REIN goes back to the server role (and out of TLS).
	c.cmd(220, "REIN")
	c = c.clearTLS()
	c.authTLS(ts.clientConfig(0))
	if msg := c.cmd(200, "SSCN"); msg != "SSCN:SERVER METHOD" {
		t.Errorf("SSCN after REIN: %q", msg)
	}
}

// dataServer plays the other server of an FXP transfer in the TLS server
// role on a data connection: it answers the handshake of the ferry server,
// which must be the TLS client.
func dataServer(t *testing.T, conn net.Conn) *tls.Conn {
	t.Helper()
	tc := tls.Server(conn, testcert.New(t).ServerConfig())
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("the server did not take the TLS client role: %v", err)
	}
	return tc
}

func TestCPSV(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	content := bytes.Repeat([]byte("cpsv data\n"), 5000)
	ts.fs.WriteFile("/f.txt", content)

	c := ts.dial(t)
	conf := ts.clientConfig(0)
	c.authTLS(conf)
	c.loginAs("alice", "secret")
	c.cmd(503, "CPSV") // no PROT P yet
	c.cmd(200, "PBSZ 0")
	c.cmd(200, "PROT P")
	msg := c.cmd(227, "CPSV")
	ap, err := ftp.ParsePASVReply(msg)
	if err != nil || !strings.HasPrefix(msg, "Entering Passive Mode (127,0,0,1,") || ap.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("CPSV reply %q (%v)", msg, err)
	}
	raw, err := net.DialTimeout("tcp", ap.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c.cmd(150, "RETR f.txt")
	got, err := io.ReadAll(dataServer(t, raw))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("CPSV download: %d bytes, %v", len(got), err)
	}
	c.expect(226)

	// CPSV lasts one connection: the next PASV is back in the server
	// role, where the client resumes the control session.
	if got, err := c.secureRetr("f.txt", conf, nil); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("PROT P download after CPSV: %d bytes, %v", len(got), err)
	}
	c.expect(226)
}

func TestSSCNClientRoleActiveAndPassive(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	ts.fs.WriteFile("/f.bin", bytes.Repeat([]byte{1, 2, 3}, 70000))
	c := ts.secureLogin(t, "")
	c.cmd(200, "SSCN ON")

	// Passive: the server waits for our ClientHello... as a client.
	data := c.transfer("STOR up.bin")
	tc := dataServer(t, data)
	tc.Write([]byte("uploaded over SSCN"))
	tc.Close()
	c.expect(226)
	if got, _ := ts.fs.ReadFile("/up.bin"); string(got) != "uploaded over SSCN" {
		t.Errorf("uploaded %q", got)
	}

	// Active: the server connects and starts the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c.cmd(200, "EPRT |1|127.0.0.1|%d|", ln.Addr().(*net.TCPAddr).Port)
	c.cmd(150, "RETR f.bin")
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err := io.ReadAll(dataServer(t, conn))
	if want, _ := ts.fs.ReadFile("/f.bin"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("active download: %d bytes, %v", len(got), err)
	}
	c.expect(226)
}

// TestFXPOverTLS drives a server-to-server transfer between two ferry
// servers with PROT P, as an FXP client does: the controller is at
// 127.0.0.9, so each server sees the other as a foreign address
// (AllowFXP), and one of them takes the TLS client role.
func TestFXPOverTLS(t *testing.T) {
	t.Parallel()
	content := make([]byte, 3<<20+17)
	rand.Read(content)
	allowFXP := func(s *ftpserver.Server) { s.AllowFXP = true }

	for _, tc := range []struct {
		name string
		// passive is the command the destination gets; sscn is sent to
		// the source first when set.
		passive string
		sscn    bool
	}{
		{"CPSV on the destination", "CPSV", false},
		{"SSCN ON on the source", "PASV", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst, s, d := startFXP(t, content, tc.passive, tc.sscn, allowFXP)
			s.expect(226)
			d.expect(226)
			got, err := dst.fs.ReadFile("/copy.bin")
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("copy: %d bytes of %d, %v", len(got), len(content), err)
			}
		})
	}

	// Both in the server role: each waits for the other's ClientHello and
	// the transfer fails (the reason SSCN and CPSV exist), without a hang.
	t.Run("no client role", func(t *testing.T) {
		t.Parallel()
		_, s, d := startFXP(t, content, "PASV", false, allowFXP, shortData)
		if code, msg := s.read(); code != 425 {
			t.Errorf("source: %d %s, want 425", code, msg)
		}
		if code, msg := d.read(); code != 425 {
			t.Errorf("destination: %d %s, want 425", code, msg)
		}
	})
}

// startFXP starts two TLS servers, the source with content as /big.bin,
// and has the source send it to the destination's /copy.bin: passive
// ("PASV" or "CPSV") on the destination, after SSCN ON on the source when
// sscn is set. It returns once both have answered 150.
func startFXP(t *testing.T, content []byte, passive string, sscn bool, mutate ...func(*ftpserver.Server)) (dst *tlsServer, s, d *client) {
	t.Helper()
	src := startTLSServer(t, mutate...)
	dst = startTLSServer(t, mutate...)
	src.fs.WriteFile("/big.bin", content)
	s, d = src.secureLogin(t, "127.0.0.9"), dst.secureLogin(t, "127.0.0.9")
	if sscn {
		s.cmd(200, "SSCN ON")
	}
	ap, err := ftp.ParsePASVReply(d.cmd(227, "%s", passive))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd(200, "PORT %s", ftp.FormatPORT(ap))
	d.send("STOR copy.bin")
	s.send("RETR big.bin")
	s.expect(150)
	d.expect(150)
	return dst, s, d
}

func shortData(s *ftpserver.Server) { s.DataTimeout = time.Second }

// clearTLS answers the server's close_notify after REIN with the client's
// and returns the client on the clear connection. The close_notify and
// the next command go out in one write, as a client that does not wait
// may send them: the server must not lose the command.
func (c *client) clearTLS() *client {
	c.t.Helper()
	tc := c.conn.(*tls.Conn)
	raw := tc.NetConn().(*heldConn)
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := tc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		c.t.Fatalf("after REIN: read %d bytes, %v; want the server's close_notify", n, err)
	}
	raw.hold = true
	tc.CloseWrite()
	raw.hold = false
	return &client{t: c.t, conn: raw, tp: textproto.NewConn(raw)}
}

// heldConn keeps what is written while hold is set and sends it in front
// of the next write.
type heldConn struct {
	net.Conn
	hold bool
	held []byte
}

func (h *heldConn) Write(p []byte) (int, error) {
	if h.hold {
		h.held = append(h.held, p...)
		return len(p), nil
	}
	buf := append(h.held, p...)
	h.held = nil
	if _, err := h.Conn.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// dialHeld dials ts with a connection that clearTLS can hold writes on.
func (ts *tlsServer) dialHeld(t *testing.T) *client {
	t.Helper()
	c := ts.dial(t)
	c.conn = &heldConn{Conn: c.conn}
	c.tp = textproto.NewConn(c.conn)
	return c
}

func TestREINEndsTLS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	ts.fs.WriteFile("/f.txt", []byte("hello after REIN\n"))
	c := ts.dialHeld(t)
	c.authTLS(ts.clientConfig(0))
	c.loginAs("alice", "secret")
	c.cmd(200, "PBSZ 0")
	c.cmd(200, "PROT P")

	c.cmd(220, "REIN")
	c = c.clearTLS()
	// In the clear now, and logged out.
	c.cmd(530, "PWD")
	c.cmd(503, "PBSZ 0")
	c.loginAs("alice", "secret")
	if got := c.retr("f.txt"); string(got) != "hello after REIN\n" {
		t.Errorf("clear download after REIN: %q", got)
	}
	if feat := c.cmd(211, "FEAT"); !strings.Contains(feat, "AUTH TLS") {
		t.Errorf("FEAT after REIN: %q", feat)
	}

	// AUTH TLS again: a new handshake, a new login, PBSZ and PROT anew.
	c.cmd(220, "REIN")
	conf := ts.clientConfig(0)
	c.authTLS(conf)
	c.cmd(503, "PROT P") // PBSZ first, as after the first AUTH
	c.cmd(200, "PBSZ 0")
	c.cmd(200, "PROT P")
	c.loginAs("alice", "secret")
	got, err := c.secureRetr("f.txt", conf, nil)
	if err != nil || string(got) != "hello after REIN\n" {
		t.Fatalf("PROT P download after the second AUTH: %q, %v", got, err)
	}
	c.expect(226)

}

// dialImplicit serves ts on an implicit-TLS listener too and connects
// to it with conf.
func (ts *tlsServer) dialImplicit(t *testing.T, conf *tls.Config) *client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ts.srv.ServeTLS(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err == nil {
			t.Error("ServeTLS returned nil")
		}
	})
	tc, err := tls.Dial("tcp", ln.Addr().String(), conf)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: tc, tp: textproto.NewConn(tc)}
	t.Cleanup(func() { tc.Close() })
	c.expect(220)
	return c
}

func TestREINKeepsImplicitTLS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	c := ts.dialImplicit(t, ts.clientConfig(0))
	c.loginAs("alice", "secret")
	// An implicit TLS listener speaks nothing but TLS: REIN keeps it.
	c.cmd(220, "REIN")
	c.cmd(530, "PWD")
	c.loginAs("alice", "secret")
	c.cmd(257, "PWD")
}

func TestREINEndsTLSOnRecordBoundary(t *testing.T) {
	t.Parallel()
	// The client's close_notify and its next command in one TCP segment
	// (clearTLS) must leave the command for the clear connection.
	ts := startTLSServer(t)
	for i := 0; i < 3; i++ {
		c := ts.dialHeld(t)
		c.authTLS(ts.clientConfig(uint16(tls.VersionTLS12 + i%2)))
		c.cmd(220, "REIN")
		c = c.clearTLS()
		c.loginAs("bob", "pw")
		c.cmd(257, "PWD")
	}
}

// CCC had the same loss: crypto/tls read the clear command behind the
// client's close_notify into the finished TLS connection.
func TestCCCKeepsCommandBehindCloseNotify(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, func(s *ftpserver.Server) { s.TLS.AllowCCC = true })
	c := ts.dialHeld(t)
	c.authTLS(ts.clientConfig(0))
	c.loginAs("alice", "secret")
	c.cmd(200, "CCC")
	c = c.clearTLS()
	c.cmd(257, "PWD")
}
