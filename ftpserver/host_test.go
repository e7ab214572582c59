package ftpserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// hostFixture is a server with virtual hosts a.example and b.example, each
// with its own tree and its own password for the account "carol", plus
// address hosts 192.0.2.7 and [::1]. Without HOST, the server's own
// accounts (alice, bob, anonymous) apply.
type hostFixture struct {
	*testServer
	fsA, fsB *memfs.FS
	bCert    tls.Certificate
	bRoots   *x509.CertPool
}

func hostAuth(fsys *memfs.FS, pass string) ftpserver.Authenticator {
	return ftpserver.AuthFunc(func(ctx context.Context, c ftpserver.ConnInfo, user, p string) (*ftpserver.Account, error) {
		if user == "carol" && p == pass {
			return &ftpserver.Account{User: "carol", FS: fsys, Write: true}, nil
		}
		return nil, ftpserver.ErrAuthFailed
	})
}

// certFor makes a self-signed certificate for name and a pool trusting it.
func certFor(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	pair := testcert.NewFor(t, name)
	return pair.Cert, pair.Roots
}

func startHostServer(t *testing.T, mutate ...func(*ftpserver.Server)) *hostFixture {
	t.Helper()
	f := &hostFixture{fsA: memfs.New(), fsB: memfs.New()}
	f.fsA.WriteFile("/a-only.txt", []byte("A"))
	f.fsB.WriteFile("/b-only.txt", []byte("B"))
	f.bCert, f.bRoots = certFor(t, "b.example")
	hosts := map[string]*ftpserver.VirtualHost{
		"a.example": {Name: "a.example", Auth: hostAuth(f.fsA, "pa"), Banner: "Welcome to A."},
		"b.example": {Name: "b.example", Auth: hostAuth(f.fsB, "pb"), Banner: "Welcome to B.",
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &f.bCert, nil }},
		"192.0.2.7": {Name: "v4", Banner: "Welcome to v4."},
		"[::1]":     {Name: "v6", Banner: "Welcome to v6."},
	}
	f.testServer = startServer(t, append([]func(*ftpserver.Server){func(s *ftpserver.Server) {
		s.Hosts = func(name string) (*ftpserver.VirtualHost, bool) {
			vh, ok := hosts[name]
			return vh, ok
		}
	}}, mutate...)...)
	return f
}

func TestHostChoosesAccountsAndTree(t *testing.T) {
	t.Parallel()
	f := startHostServer(t)

	c := f.dial(t)
	if msg := c.cmd(220, "HOST b.example"); msg != "Welcome to B." {
		t.Errorf("HOST reply %q, want the host's banner", msg)
	}
	c.loginAs("carol", "pb")
	if got := c.listing("NLST"); !slices.Equal(got, []string{"b-only.txt"}) {
		t.Errorf("NLST on b.example = %q, want B's tree", got)
	}

	// The same account name on the other host has its own password and tree.
	c = f.dial(t)
	c.cmd(220, "HOST a.example")
	c.cmd(331, "USER carol")
	c.cmd(530, "PASS pb")
	c.loginAs("carol", "pa")
	if got := c.listing("NLST"); !slices.Equal(got, []string{"a-only.txt"}) {
		t.Errorf("NLST on a.example = %q, want A's tree", got)
	}

	// Without HOST, the server's own accounts apply; hosts' do not.
	c = f.dial(t)
	c.cmd(331, "USER carol")
	c.cmd(530, "PASS pb")
	c.loginAs("alice", "secret")

	// A host without its own Authenticator uses the server's.
	c = f.dial(t)
	c.cmd(220, "HOST 192.0.2.7")
	c.loginAs("alice", "secret")
}

func TestHostCommandRules(t *testing.T) {
	t.Parallel()
	f := startHostServer(t)

	t.Run("after login 503", func(t *testing.T) {
		t.Parallel()
		c := f.login(t)
		c.cmd(503, "HOST b.example")
	})
	t.Run("unknown 504", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		c.cmd(504, "HOST nosuch.example")
		c.cmd(504, "HOST 300.400.500.600") // a domain by the grammar, and unknown
		c.cmd(504, "HOST [2001:db8::1]")
	})
	t.Run("invalid 501", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		for _, arg := range []string{"b.example:21", "::1", "[::1]:21", "bad_name", "a..b", "-a.example", "[fe80::1%eth0]", "b.example x", "bücher.example"} {
			c.cmd(501, "HOST %s", arg)
		}
		c.cmd(501, "HOST")
	})
	t.Run("names compared without case, final dot, literal forms", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		if msg := c.cmd(220, "HOST B.Example"); msg != "Welcome to B." {
			t.Errorf("HOST B.Example: %q", msg)
		}
		if msg := c.cmd(220, "HOST a.example."); msg != "Welcome to A." {
			t.Errorf("HOST a.example.: %q", msg)
		}
		if msg := c.cmd(220, "HOST [0:0::1]"); msg != "Welcome to v6." {
			t.Errorf("HOST [0:0::1]: %q", msg)
		}
	})
	t.Run("the later HOST wins", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		c.cmd(220, "HOST a.example")
		c.cmd(220, "HOST b.example")
		c.loginAs("carol", "pb")
	})
	t.Run("HOST after USER starts the login again", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		c.cmd(331, "USER carol")
		c.cmd(220, "HOST b.example")
		c.cmd(503, "PASS pb")
		c.loginAs("carol", "pb")
	})
	t.Run("REIN forgets the host", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		c.cmd(220, "HOST b.example")
		c.loginAs("carol", "pb")
		c.cmd(220, "REIN")
		c.cmd(331, "USER carol")
		c.cmd(530, "PASS pb")
		c.loginAs("alice", "secret")
		c.cmd(503, "HOST b.example")
		c.cmd(220, "REIN")
		c.cmd(220, "HOST b.example")
	})
	t.Run("FEAT lists HOST", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		if feat := c.cmd(211, "FEAT"); !slices.Contains(strings.Split(feat, "\n"), " HOST") {
			t.Errorf("FEAT does not list HOST:\n%s", feat)
		}
	})
}

func TestHostInSessionInfo(t *testing.T) {
	t.Parallel()
	f := startHostServer(t)
	c := f.dial(t)
	c.cmd(220, "HOST b.example")
	c.cmd(200, "NOOP") // HOST's effects are in place once a later reply comes
	if got := f.srv.Sessions(); len(got) != 1 || got[0].Host != "b.example" {
		t.Fatalf("Sessions() = %+v, want one session on host b.example", got)
	}
	c.cmd(220, "REIN")
	if got := f.srv.Sessions(); len(got) != 1 || got[0].Host != "" {
		t.Fatalf("after REIN, Sessions() = %+v, want no host", got)
	}
}

func TestHostNotConfigured(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.dial(t)
	c.cmd(502, "HOST b.example")
	if feat := c.cmd(211, "FEAT"); strings.Contains(feat, "HOST") {
		t.Errorf("FEAT lists HOST without virtual hosts:\n%s", feat)
	}
	c.loginAs("alice", "secret")
}

// tlsHostServer is startHostServer with TLS whose own certificate is for
// localhost.
func tlsHostServer(t *testing.T) (*hostFixture, *x509.CertPool) {
	t.Helper()
	localCert, localRoots := certFor(t, "localhost")
	f := startHostServer(t, func(s *ftpserver.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{localCert}, MinVersion: tls.VersionTLS12}
	})
	return f, localRoots
}

// peerName is the DNS name of the certificate a handshake was answered with.
func peerName(t *testing.T, c *client) string {
	t.Helper()
	tc := c.conn.(*tls.Conn)
	cs := tc.ConnectionState()
	if len(cs.PeerCertificates) == 0 || len(cs.PeerCertificates[0].DNSNames) == 0 {
		t.Fatal("no peer certificate")
	}
	return cs.PeerCertificates[0].DNSNames[0]
}

func TestHostCertificate(t *testing.T) {
	t.Parallel()
	f, localRoots := tlsHostServer(t)
	bConf := func() *tls.Config {
		return &tls.Config{RootCAs: f.bRoots, ServerName: "b.example", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	}

	t.Run("AUTH TLS after HOST presents the host's certificate", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		c.cmd(220, "HOST b.example")
		// Verified against B's root with B's name: the handshake fails
		// with any other certificate.
		conf := bConf()
		c.authTLS(conf)
		if got := peerName(t, c); got != "b.example" {
			t.Errorf("certificate for %q, want b.example", got)
		}
		c.loginAs("carol", "pb")
		c.cmd(200, "PBSZ 0")
		c.cmd(200, "PROT P")
		// The PROT P data connection presents the same certificate.
		data, err := c.secureRetr("b-only.txt", conf, nil)
		if err != nil {
			t.Fatalf("PROT P RETR: %v", err)
		}
		if string(data) != "B" {
			t.Errorf("RETR = %q, want B's file", data)
		}
		c.expect(226)
	})
	t.Run("AUTH TLS after HOST without SNI presents the host's certificate", func(t *testing.T) {
		t.Parallel()
		// A client connected by address sends no server name (Python's
		// ftplib, curl to an IP): HOST alone must choose the certificate.
		c := f.dial(t)
		c.cmd(220, "HOST b.example")
		c.authTLS(&tls.Config{InsecureSkipVerify: true})
		if got := peerName(t, c); got != "b.example" {
			t.Errorf("certificate for %q, want b.example", got)
		}
	})
	t.Run("SNI before HOST picks the host's certificate", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		c.authTLS(bConf())
		if got := peerName(t, c); got != "b.example" {
			t.Errorf("certificate for %q, want b.example", got)
		}
		// HOST must then name the host the handshake named.
		c.cmd(504, "HOST a.example")
		c.cmd(220, "HOST B.EXAMPLE")
		c.loginAs("carol", "pb")
	})
	t.Run("other names get the server's certificate", func(t *testing.T) {
		t.Parallel()
		c := f.dial(t)
		c.authTLS(&tls.Config{RootCAs: localRoots, ServerName: "localhost"})
		if got := peerName(t, c); got != "localhost" {
			t.Errorf("certificate for %q, want localhost", got)
		}
		// a.example has no certificate of its own: the server's serves.
		c = f.dial(t)
		c.cmd(220, "HOST a.example")
		c.authTLS(&tls.Config{RootCAs: localRoots, ServerName: "localhost"})
		if got := peerName(t, c); got != "localhost" {
			t.Errorf("certificate for %q, want localhost", got)
		}
		c.loginAs("carol", "pa")
	})
}

// TestHostCertificateImplicitTLS checks SNI on an implicit-TLS listener,
// where the handshake comes before any command.
func TestHostCertificateImplicitTLS(t *testing.T) {
	t.Parallel()
	f, _ := tlsHostServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.srv.ServeTLS(ln) // stopped by the fixture's Shutdown
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
		&tls.Config{RootCAs: f.bRoots, ServerName: "b.example"})
	if err != nil {
		t.Fatalf("implicit TLS with SNI b.example: %v", err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0].DNSNames[0]; got != "b.example" {
		t.Errorf("certificate for %q, want b.example", got)
	}
}

// FuzzCanonicalHostName checks HOST's parser on any argument: it never
// panics, and what it accepts is canonical (a second pass changes
// nothing), ASCII without upper case, and bounded.
func FuzzCanonicalHostName(f *testing.F) {
	for _, seed := range []string{"b.example", "B.Example.", "xn--bcher-kva.example", "192.0.2.7", "[::1]", "[0:0::1]",
		"[fe80::1%eth0]", "::1", "b.example:21", "[::ffff:192.0.2.7]", "a..b", "-a", "", ".", "300.400.500.600"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := ftpserver.CanonicalHostName(name)
		if err != nil {
			if got != "" {
				t.Fatalf("%q: error %v with result %q", name, err, got)
			}
			return
		}
		again, err := ftpserver.CanonicalHostName(got)
		if err != nil || again != got {
			t.Fatalf("%q -> %q -> %q, %v: not canonical", name, got, again, err)
		}
		if got == "" || len(got) > 255 || strings.ContainsFunc(got, func(r rune) bool { return r > 0x7e || r <= ' ' || r >= 'A' && r <= 'Z' }) {
			t.Fatalf("%q -> %q: not a bounded lower-case ASCII name", name, got)
		}
	})
}
