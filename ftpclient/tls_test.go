package ftpclient_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-ftp/ferry/ftpclient"
)

// wireRecorder is a dialer that keeps every byte the server sends, to
// check that nothing crosses the wire in clear text.
type wireRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *wireRecorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &recordedConn{Conn: c, w: w}, nil
}

type recordedConn struct {
	net.Conn
	w *wireRecorder
}

func (c *recordedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.mu.Lock()
	c.w.buf.Write(p[:n])
	c.w.mu.Unlock()
	return n, err
}

func (c *recordedConn) Write(p []byte) (int, error) {
	c.w.mu.Lock()
	c.w.buf.Write(p)
	c.w.mu.Unlock()
	return c.Conn.Write(p)
}

func (w *wireRecorder) contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Contains(w.buf.Bytes(), []byte(s))
}

// exerciseTLS runs transfers of every kind over a protected connection,
// several at once so that the pool holds several TLS sessions.
func exerciseTLS(t *testing.T, ts *testServer, c *ftpclient.Client) {
	t.Helper()
	ctx := testCtx(t)
	secret := bytes.Repeat([]byte("top secret payload "), 3000)
	if _, err := c.Store(ctx, "/s", bytes.NewReader(secret), 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := ts.fs.ReadFile("/s"); !bytes.Equal(got, secret) {
		t.Fatalf("server has %d bytes", len(got))
	}
	concurrently(t, 4, 5, func(g, _ int) error {
		var buf bytes.Buffer
		_, retrieveErr := c.Retrieve(ctx, "/s", 0, &buf)
		if retrieveErr == nil && !bytes.Equal(buf.Bytes(), secret) {
			retrieveErr = fmt.Errorf("goroutine %d: got %d bytes", g, buf.Len())
		}
		_, listErr := c.List(ctx, "/")
		return errors.Join(retrieveErr, listErr)
	})
}

func TestExplicitTLS(t *testing.T) {
	t.Parallel()
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, active := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/active=%v", tls.VersionName(version), active), func(t *testing.T) {
				ts := startTLSServer(t)
				wire := &wireRecorder{}
				trace := &syncBuffer{}
				c := dial(t, ts.addr,
					ftpclient.WithTLS(&tls.Config{RootCAs: ts.roots, MaxVersion: version}),
					ftpclient.WithActive(active),
					ftpclient.WithPoolSize(4),
					ftpclient.WithDialer(wire.dial),
					ftpclient.WithDebug(trace))
				exerciseTLS(t, ts, c)
				if wire.contains("top secret") || wire.contains("USER alice") {
					t.Fatal("clear text on the wire")
				}
				out := trace.String()
				for _, want := range []string{"> AUTH TLS", "< 234 ", "> PBSZ 0", "> PROT P", "< 200 Protection level set to Private."} {
					if !strings.Contains(out, want) {
						t.Errorf("trace lacks %q", want)
					}
				}
			})
		}
	}
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	addr := ts.serveImplicit(t)
	wire := &wireRecorder{}
	c := dial(t, addr,
		ftpclient.WithImplicitTLS(&tls.Config{RootCAs: ts.roots}),
		ftpclient.WithDialer(wire.dial))
	exerciseTLS(t, ts, c)
	if wire.contains("top secret") || wire.contains("220 ") {
		t.Fatal("clear text on the wire")
	}
}

func TestTLSVerifiesTheServer(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t)
	_, err := ftpclient.Dial(testCtx(t), ts.addr, ftpclient.WithLogin("alice", "secret"), ftpclient.WithTLS(nil))
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("Dial with an untrusted certificate: %v", err)
	}
	// A server without TLS: the client does not fall back to clear text.
	plain := startServer(t)
	if _, err := ftpclient.Dial(testCtx(t), plain.addr, ftpclient.WithLogin("alice", "secret"), ftpclient.WithTLS(nil)); err == nil {
		t.Fatal("Dial WithTLS to a server without TLS succeeded")
	}
}

func TestTLSSessionSurvivesARefusedTransfer(t *testing.T) {
	t.Parallel()
	// A refused RETR leaves a data connection whose TLS handshake the
	// client abandons; crypto/tls then drops the cached session, and
	// without it every later data connection would be refused.
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			ts := startTLSServer(t)
			ts.fs.WriteFile("/f", []byte("content"))
			trace := &syncBuffer{}
			c := dial(t, ts.addr,
				ftpclient.WithTLS(&tls.Config{RootCAs: ts.roots, MaxVersion: version}),
				ftpclient.WithPoolSize(1),
				ftpclient.WithDebug(trace))
			ctx := testCtx(t)
			for range 3 {
				var buf bytes.Buffer
				if _, err := c.Retrieve(ctx, "/missing", 0, &buf); !ftpclient.IsNotExist(err) {
					t.Fatalf("Retrieve missing: %v", err)
				}
				if _, err := c.Retrieve(ctx, "/f", 0, &buf); err != nil || buf.String() != "content" {
					t.Fatalf("Retrieve after a refused one: %q, %v", buf.String(), err)
				}
			}
			if out := trace.String(); strings.Contains(out, "< 425") || strings.Contains(out, "retrying") {
				t.Fatalf("a data connection did not resume the session:\n%s", out)
			}
		})
	}
}
