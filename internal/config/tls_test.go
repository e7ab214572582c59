package config

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// testCA is a certificate authority for tests: it signs the server's
// certificates and, in other tests, clients'.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	file string // PEM of the CA certificate
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	file := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, file, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return &testCA{cert: cert, key: key, pool: pool, file: file}
}

// issue signs a certificate named cn: for the server ("localhost",
// 127.0.0.1) when usage is ServerAuth, for a client when ClientAuth.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

// serverCert writes a server certificate signed by ca to certFile and
// keyFile and returns it.
func (ca *testCA) serverCert(t *testing.T, cn, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	pair, certPEM, keyPEM := ca.issue(t, cn, x509.ExtKeyUsageServerAuth)
	writeFile(t, certFile, string(certPEM))
	writeFile(t, keyFile, string(keyPEM))
	return pair.Leaf
}

// tlsConfig makes a configuration with a certificate signed by a new CA
// and the CA (for clients' RootCAs).
func tlsConfig(t *testing.T) (*Config, *testCA) {
	t.Helper()
	ca := newTestCA(t, "ferry test server CA")
	dir := t.TempDir()
	c := validConfig(t)
	c.Listen = "127.0.0.1:0"
	c.LoginFailDelay.Duration = 0
	c.TLS.CertFile, c.TLS.KeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.serverCert(t, "ferry test server", c.TLS.CertFile, c.TLS.KeyFile)
	return c, ca
}

// serve runs inst's server on 127.0.0.1:0 (explicit) and, with implicit,
// on a second listener with implicit TLS. It returns both addresses.
func serve(t *testing.T, inst *Instance, implicit bool) (string, string) {
	t.Helper()
	srv := inst.Server
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- srv.Serve(ln) }()
	running := 1
	implicitAddr := ""
	if implicit {
		iln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		implicitAddr = iln.Addr().String()
		go func() { done <- srv.ServeTLS(iln) }()
		running++
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		for range running {
			if err := <-done; err != ftpserver.ErrServerClosed {
				t.Errorf("Serve returned %v", err)
			}
		}
	})
	return ln.Addr().String(), implicitAddr
}

// ftpConn is a minimal FTP client that can switch to TLS.
type ftpConn struct {
	t    *testing.T
	conn net.Conn
	tp   *textproto.Conn
}

func dialFTP(t *testing.T, addr string) *ftpConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return greet(t, conn)
}

// dialFTPS connects to an implicit FTPS listener.
func dialFTPS(t *testing.T, addr string, conf *tls.Config) *ftpConn {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	return greet(t, conn)
}

func greet(t *testing.T, conn net.Conn) *ftpConn {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &ftpConn{t: t, conn: conn, tp: textproto.NewConn(conn)}
	if _, _, err := c.tp.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *ftpConn) cmd(want int, format string, args ...any) string {
	c.t.Helper()
	line := fmt.Sprintf(format, args...)
	if err := c.tp.PrintfLine("%s", line); err != nil {
		c.t.Fatalf("%s: %v", line, err)
	}
	_, msg, err := c.tp.ReadResponse(want)
	if err != nil {
		c.t.Fatalf("%s: %v", line, err)
	}
	return msg
}

// authTLS runs AUTH TLS and the client side of the handshake.
func (c *ftpConn) authTLS(conf *tls.Config) (*tls.Conn, error) {
	c.t.Helper()
	c.cmd(234, "AUTH TLS")
	tc := tls.Client(c.conn, conf)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	c.conn = tc
	c.tp = textproto.NewConn(tc)
	return tc, nil
}

// retr downloads name through EPSV; over TLS when conf is not nil.
func (c *ftpConn) retr(name string, conf *tls.Config) []byte {
	c.t.Helper()
	msg := c.cmd(229, "EPSV")
	port, err := strconv.Atoi(msg[strings.Index(msg, "|||")+3 : strings.LastIndex(msg, "|")])
	if err != nil {
		c.t.Fatalf("EPSV reply %q", msg)
	}
	host, _, _ := net.SplitHostPort(c.conn.RemoteAddr().String())
	raw, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	c.cmd(150, "RETR %s", name)
	var data net.Conn = raw
	if conf != nil {
		data = tls.Client(raw, conf)
	}
	got, err := io.ReadAll(data)
	if err != nil {
		c.t.Fatalf("RETR %s: %v", name, err)
	}
	if _, _, err := c.tp.ReadResponse(226); err != nil {
		c.t.Fatalf("RETR %s: %v", name, err)
	}
	return got
}

// clientTLS is a client configuration trusting ca, with its own session
// cache so that data connections resume the control session, as curl and
// lftp do.
func clientTLS(ca *testCA, certs ...tls.Certificate) *tls.Config {
	return &tls.Config{
		RootCAs:            ca.pool,
		ServerName:         "localhost",
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
		Certificates:       certs,
	}
}

func TestTLSRequired(t *testing.T) {
	c, ca := tlsConfig(t)
	c.TLS.Required = true
	c.Account = &Account{Name: "joe", Password: "pw"}
	writeFile(t, filepath.Join(c.Root, "f.txt"), "protected content")
	inst := buildInstance(t, c)
	addr, _ := serve(t, inst, false)

	conn := dialFTP(t, addr)
	if msg := conn.cmd(211, "FEAT"); !strings.Contains(msg, "AUTH TLS") {
		t.Errorf("FEAT does not offer AUTH TLS: %q", msg)
	}
	conn.cmd(530, "USER joe")
	conf := clientTLS(ca)
	tc, err := conn.authTLS(conf)
	if err != nil {
		t.Fatalf("handshake against the configured certificate: %v", err)
	}
	if cn := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "ferry test server" {
		t.Errorf("server presented %q", cn)
	}
	conn.cmd(331, "USER joe")
	conn.cmd(230, "PASS pw")
	conn.cmd(200, "PBSZ 0")
	conn.cmd(534, "PROT C") // required implies protected data
	conn.cmd(200, "PROT P")
	if got := conn.retr("f.txt", conf); string(got) != "protected content" {
		t.Errorf("RETR over TLS got %q", got)
	}
	conn.cmd(534, "CCC") // allow_ccc is off
}

func TestTLSRequireDataOnly(t *testing.T) {
	c, _ := tlsConfig(t)
	c.TLS.RequireData = true
	writeFile(t, filepath.Join(c.Root, "f.txt"), "x")
	addr, _ := serve(t, buildInstance(t, c), false)
	conn := dialFTP(t, addr)
	conn.cmd(331, "USER anonymous") // login in clear is allowed
	conn.cmd(230, "PASS x")
	conn.cmd(229, "EPSV")
	conn.cmd(521, "RETR f.txt") // but no clear data
}

func TestTLSMinVersion(t *testing.T) {
	c, ca := tlsConfig(t)
	c.TLS.MinVersion = "1.3"
	addr, _ := serve(t, buildInstance(t, c), false)
	conf := clientTLS(ca)
	conf.MaxVersion = tls.VersionTLS12
	conn := dialFTP(t, addr)
	if _, err := conn.authTLS(conf); err == nil {
		t.Error("a TLS 1.2 client was accepted with min_version = \"1.3\"")
	}
	conf = clientTLS(ca)
	conn = dialFTP(t, addr)
	tc, err := conn.authTLS(conf)
	if err != nil || tc.ConnectionState().Version != tls.VersionTLS13 {
		t.Errorf("TLS 1.3 client: %v", err)
	}
}

func TestTLSImplicitListener(t *testing.T) {
	c, ca := tlsConfig(t)
	c.TLS.ImplicitListen = "127.0.0.1:0"
	writeFile(t, filepath.Join(c.Root, "f.txt"), "over implicit TLS")
	_, implicitAddr := serve(t, buildInstance(t, c), true)

	conf := clientTLS(ca)
	conn := dialFTPS(t, implicitAddr, conf)
	conn.cmd(503, "AUTH TLS") // already secure
	conn.cmd(331, "USER anonymous")
	conn.cmd(230, "PASS x")
	if got := conn.retr("f.txt", conf); string(got) != "over implicit TLS" {
		t.Errorf("RETR got %q", got)
	}

	// A clear-text client on the implicit port gets no greeting.
	raw, err := net.Dial("tcp", implicitAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	raw.Write([]byte("USER anonymous\r\n"))
	if b, _ := io.ReadAll(raw); bytes.Contains(b, []byte("220")) {
		t.Errorf("clear text on the implicit port got %q", b)
	}
}

// A reload changes the certificate of new handshakes; sessions that were
// open go on, data connections included, and a broken file keeps the
// previous certificate.
func TestTLSReloadCertificate(t *testing.T) {
	c, ca := tlsConfig(t)
	writeFile(t, filepath.Join(c.Root, "f.txt"), "still here")
	inst := buildInstance(t, c)
	addr, _ := serve(t, inst, false)

	handshake := func() (*ftpConn, *tls.Config, *x509.Certificate) {
		t.Helper()
		conn := dialFTP(t, addr)
		conf := clientTLS(ca)
		tc, err := conn.authTLS(conf)
		if err != nil {
			t.Fatal(err)
		}
		return conn, conf, tc.ConnectionState().PeerCertificates[0]
	}
	old, oldConf, oldLeaf := handshake()
	old.cmd(331, "USER anonymous")
	old.cmd(230, "PASS x")
	old.cmd(200, "PBSZ 0")
	old.cmd(200, "PROT P")

	newLeaf := ca.serverCert(t, "renewed", c.TLS.CertFile, c.TLS.KeyFile)
	if err := inst.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	if got := inst.Certificate().Leaf; !got.Equal(newLeaf) {
		t.Errorf("Certificate() after reload is %q", got.Subject.CommonName)
	}
	_, _, seen := handshake()
	if !seen.Equal(newLeaf) || seen.Equal(oldLeaf) {
		t.Errorf("a handshake after reload saw %q, want %q", seen.Subject.CommonName, newLeaf.Subject.CommonName)
	}
	// The session opened before goes on, and its data connections still
	// resume its TLS session.
	old.cmd(200, "NOOP")
	if got := old.retr("f.txt", oldConf); string(got) != "still here" {
		t.Errorf("RETR on the old session got %q", got)
	}

	writeFile(t, c.TLS.KeyFile, "not a key")
	if err := inst.ReloadCertificate(); err == nil || !strings.HasPrefix(err.Error(), "tls: ") {
		t.Errorf("reload of a broken key: %v", err)
	}
	if _, _, seen := handshake(); !seen.Equal(newLeaf) {
		t.Errorf("after a failed reload the server presents %q", seen.Subject.CommonName)
	}
	os.Remove(c.TLS.CertFile)
	if err := inst.ReloadCertificate(); err == nil {
		t.Error("reload of a missing certificate succeeded")
	}
}

func TestClientCertificateLogin(t *testing.T) {
	c, serverCA := tlsConfig(t)
	clientCA := newTestCA(t, "ferry test client CA")
	c.TLS.ClientCA = clientCA.file
	c.Account = &Account{Name: "admin", Password: "pw", Write: true}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "alice", "alice.txt"), "alice's file")
	c.UsersFile = filepath.Join(dir, "users.toml")
	writeFile(t, c.UsersFile, fmt.Sprintf("[[user]]\nname = \"alice\"\npassword = %q\nhome = %q\n", passwordHash, filepath.Join(dir, "alice")))
	addr, _ := serve(t, buildInstance(t, c), false)

	certFor := func(cn string) tls.Certificate {
		pair, _, _ := clientCA.issue(t, cn, x509.ExtKeyUsageClientAuth)
		return pair
	}
	login := func(cert tls.Certificate, user string, want int) (*ftpConn, *tls.Config) {
		t.Helper()
		conn := dialFTP(t, addr)
		conf := clientTLS(serverCA, cert)
		if _, err := conn.authTLS(conf); err != nil {
			t.Fatalf("handshake with a certificate for %q: %v", cert.Leaf.Subject.CommonName, err)
		}
		conn.cmd(want, "USER %s", user)
		return conn, conf
	}

	// The certificate alone logs alice in, into her home.
	conn, conf := login(certFor("alice"), "alice", 232)
	conn.cmd(230, "PASS ignored") // already logged in
	conn.cmd(200, "PBSZ 0")
	conn.cmd(200, "PROT P")
	if got := conn.retr("alice.txt", conf); string(got) != "alice's file" {
		t.Errorf("alice's RETR got %q", got)
	}
	// The --user account too.
	conn, _ = login(certFor("admin"), "admin", 232)
	conn.cmd(257, "MKD by-cert")

	// A certificate for someone else, a name nobody has, and anonymous
	// fall back to a password.
	conn, _ = login(certFor("alice"), "admin", 331)
	conn.cmd(230, "PASS pw")
	conn, _ = login(certFor("carol"), "carol", 331)
	conn.cmd(530, "PASS x")
	conn, _ = login(certFor("anonymous"), "anonymous", 331)
	conn.cmd(230, "PASS x")
	// The certificate stays optional: alice with her password.
	conn, _ = login(tls.Certificate{}, "alice", 331)
	conn.cmd(230, "PASS password")
	// In clear text there is no certificate at all.
	dialFTP(t, addr).cmd(331, "USER alice")

	// A certificate the client CA did not sign (here, one of the server
	// CA's) fails the handshake; with TLS 1.3 the client learns it at its
	// first read.
	stranger, _, _ := serverCA.issue(t, "alice", x509.ExtKeyUsageClientAuth)
	conn = dialFTP(t, addr)
	sconf := clientTLS(serverCA)
	sconf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &stranger, nil }
	if _, err := conn.authTLS(sconf); err == nil {
		conn.tp.PrintfLine("USER alice")
		if code, msg, err := conn.tp.ReadResponse(0); err == nil || code == 232 {
			t.Errorf("a certificate from another CA: %d %s", code, msg)
		}
	}
}
