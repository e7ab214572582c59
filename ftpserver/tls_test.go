package ftpserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
)

type tlsServer struct {
	*testServer
	roots *x509.CertPool
}

func startTLSServer(t *testing.T, mutate ...func(*ftpserver.Server)) *tlsServer {
	t.Helper()
	pair := testcert.New(t)
	ts := startServer(t, append([]func(*ftpserver.Server){func(s *ftpserver.Server) {
		// One ticket key for all sessions, as operators of several servers
		// configure: then only the per-session token tells sessions apart.
		s.TLSConfig = pair.ServerConfig()
		var key [32]byte
		rand.Read(key[:])
		s.TLSConfig.SetSessionTicketKeys([][32]byte{key})
	}}, mutate...)...)
	return &tlsServer{testServer: ts, roots: pair.Roots}
}

// clientConfig is a client config whose session cache the control and data
// connections share, as curl and lftp do.
func (ts *tlsServer) clientConfig(maxVersion uint16) *tls.Config {
	return &tls.Config{
		RootCAs:            ts.roots,
		ServerName:         "localhost",
		ClientSessionCache: tls.NewLRUClientSessionCache(8),
		MaxVersion:         maxVersion,
	}
}

// authTLS upgrades the client's control connection.
func (c *client) authTLS(conf *tls.Config) {
	c.t.Helper()
	c.cmd(234, "AUTH TLS")
	tc := tls.Client(c.conn, conf)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("control handshake: %v", err)
	}
	c.conn = tc
	c.tp = textproto.NewConn(tc)
}

// secureRetr downloads name over a PROT P data connection with conf.
func (c *client) secureRetr(name string, conf *tls.Config, wire *bytes.Buffer) ([]byte, error) {
	c.t.Helper()
	raw := c.transfer("RETR %s", name)
	var conn net.Conn = raw
	if wire != nil {
		conn = &recordingConn{Conn: raw, buf: wire}
	}
	tc := tls.Client(conn, conf)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	return io.ReadAll(tc)
}

type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.buf.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

func TestTLSCommandSequence(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	c := ts.dial(t)
	if msg := c.cmd(211, "FEAT"); !strings.Contains(msg, "\n AUTH TLS\n") || !strings.Contains(msg, "\n PBSZ\n") || !strings.Contains(msg, "\n PROT\n") {
		t.Fatalf("FEAT lacks the TLS features: %q", msg)
	}
	c.cmd(503, "PBSZ 0")
	c.cmd(503, "PROT P")
	c.cmd(504, "AUTH KERBEROS_V4")
	c.authTLS(ts.clientConfig(0))
	c.cmd(503, "AUTH TLS")
	c.cmd(503, "PROT P") // before PBSZ
	c.cmd(200, "PBSZ 0")
	c.cmd(536, "PROT S")
	c.cmd(536, "PROT E")
	c.cmd(200, "PROT C")
	c.cmd(200, "PROT P")
	c.loginAs("alice", "secret")
	c.cmd(534, "CCC") // not allowed unless configured
}

func TestAuthSynonyms(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	for _, mech := range []string{"SSL", "TLS-C", "tls"} {
		c := ts.dial(t)
		c.cmd(234, "AUTH %s", mech)
	}
	plain := startServer(t)
	c := plain.dial(t)
	c.cmd(502, "AUTH TLS") // no certificate configured
}

func TestTLSDataMustResumeControlSession(t *testing.T) {
	t.Parallel()
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			ts := startTLSServer(t)
			secret := bytes.Repeat([]byte("top secret payload "), 1000)
			ts.fs.WriteFile("/s", secret)
			conf := ts.clientConfig(version)
			c := ts.protPClient(t, conf)

			// Same session cache: the data connection resumes.
			var wire bytes.Buffer
			got, err := c.secureRetr("s", conf, &wire)
			if err != nil {
				t.Fatal(err)
			}
			c.expect(226)
			if !bytes.Equal(got, secret) {
				t.Fatalf("got %d bytes", len(got))
			}
			if bytes.Contains(wire.Bytes(), []byte("top secret")) {
				t.Fatal("PROT P data crossed the wire in clear text")
			}
			// A second transfer resumes too (from the ticket the first
			// data connection received).
			if _, err := c.secureRetr("s", conf, nil); err != nil {
				t.Fatal(err)
			}
			c.expect(226)

			// A fresh TLS session (no cache): refused.
			fresh := ts.clientConfig(version)
			fresh.ClientSessionCache = nil
			c.secureRetr("s", fresh, nil)
			c.expect(425)

			// Another control session's ticket: refused too.
			other := ts.dial(t)
			otherConf := ts.clientConfig(version)
			other.authTLS(otherConf)
			other.cmd(200, "PBSZ 0") // reads the post-handshake ticket
			c.secureRetr("s", otherConf, nil)
			c.expect(425)
			c.cmd(200, "NOOP")
		})
	}
}

func TestTLSReuseOptOut(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, func(s *ftpserver.Server) { s.TLS.AllowUnresumedData = true })
	ts.fs.WriteFile("/s", []byte("fine"))
	c := ts.dial(t)
	c.authTLS(ts.clientConfig(0))
	c.cmd(200, "PBSZ 0")
	c.cmd(200, "PROT P")
	c.loginAs("alice", "secret")
	fresh := ts.clientConfig(0)
	fresh.ClientSessionCache = nil
	got, err := c.secureRetr("s", fresh, nil)
	if err != nil || string(got) != "fine" {
		t.Fatalf("got %q, %v", got, err)
	}
	c.expect(226)
}

func TestTLSRequiredPolicies(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, func(s *ftpserver.Server) {
		s.TLS.RequireLogin = true
		s.TLS.RequireData = true
	})
	ts.fs.WriteFile("/f", []byte("x"))
	c := ts.dial(t)
	msg := c.cmd(530, "USER alice")
	if !strings.Contains(msg, "TLS") {
		t.Fatalf("530 does not say TLS is required: %q", msg)
	}
	c.authTLS(ts.clientConfig(0))
	c.loginAs("alice", "secret")
	c.cmd(200, "PBSZ 0")
	c.cmd(534, "PROT C")
	c.pasv()
	c.cmd(521, "RETR f") // PROT P not yet given
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	ts.fs.WriteFile("/f", []byte("implicit"))
	conf := ts.clientConfig(0)
	c := ts.dialImplicit(t, conf)
	c.loginAs("alice", "secret")
	// Data is protected from the start on an implicit listener.
	got, err := c.secureRetr("f", conf, nil)
	if err != nil || string(got) != "implicit" {
		t.Fatalf("got %q, %v", got, err)
	}
	c.expect(226)
}

func TestTLSAccountRequiresTLS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, func(s *ftpserver.Server) {
		inner := s.Auth
		s.Auth = ftpserver.AuthFunc(func(ctx context.Context, ci ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			a, err := inner.Authenticate(ctx, ci, user, pass)
			if a != nil {
				a.RequireTLS = true
			}
			return a, err
		})
	})
	c := ts.dial(t)
	c.cmd(331, "USER alice")
	c.cmd(530, "PASS secret")
}

func TestTLSHandshakeGarbage(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, func(s *ftpserver.Server) { s.Logger = slog.New(slog.DiscardHandler) })
	c := ts.dial(t)
	c.cmd(234, "AUTH TLS")
	c.conn.Write([]byte("this is not a TLS client hello\r\n"))
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(c.conn)
	// The server goes on serving others.
	fresh := ts.login(t)
	fresh.cmd(200, "NOOP")
}

func TestAuthWithPipelinedCommandsRefused(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	c := ts.dial(t)
	c.conn.Write([]byte("AUTH TLS\r\nUSER alice\r\n"))
	c.expect(421)
}
