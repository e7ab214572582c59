package interop

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
	goftp "github.com/jlaffaye/ftp"
)

// tlsServer is a test server with FTPS: AUTH TLS on the main port and
// implicit TLS on a second one.
type tlsServer struct {
	*testServer
	implicitPort int
	caFile       string // PEM of the self-signed certificate, for clients
	roots        *x509.CertPool
}

// startTLSServer starts a server with a self-signed certificate for
// localhost and 127.0.0.1 and the given TLS policy.
func startTLSServer(t *testing.T, policy ftpserver.TLSPolicy) *tlsServer {
	t.Helper()
	pair := testcert.New(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, caFile, pair.CertPEM)
	ts := startServer(t, func(s *ftpserver.Server) {
		s.TLSConfig = pair.ServerConfig()
		s.TLS = policy
	})
	return &tlsServer{
		testServer:   ts,
		implicitPort: ts.listen(t, ts.srv.ServeTLS),
		caFile:       caFile,
		roots:        pair.Roots,
	}
}

// TestGoFTPExplicitTLS drives github.com/jlaffaye/ftp with explicit TLS and
// a client session cache: its data connections resume the control
// session, which the server insists on; without the cache they are
// refused.
func TestGoFTPExplicitTLS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, ftpserver.TLSPolicy{RequireLogin: true, RequireData: true})
	content := bytes.Repeat([]byte("protected "), 50000)
	conf := &tls.Config{RootCAs: ts.roots, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	c := dialGoFTP(t, ts.testServer, goftp.DialWithExplicitTLS(conf))
	if err := c.Stor("tls.bin", bytes.NewReader(content)); err != nil {
		t.Fatalf("Stor over TLS: %v", err)
	}
	r, err := c.Retr("tls.bin")
	if err != nil {
		t.Fatalf("Retr over TLS: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("Retr: %d bytes, %v", len(got), err)
	}
	if entries, err := c.List("/"); err != nil || len(entries) == 0 {
		t.Fatalf("List over TLS: %v, %v", entries, err)
	}
	if disk, _ := os.ReadFile(ts.local("/tls.bin")); !bytes.Equal(disk, content) {
		t.Fatal("stored file differs")
	}

	noCache := &tls.Config{RootCAs: ts.roots, ServerName: "localhost"}
	c2 := dialGoFTP(t, ts.testServer, goftp.DialWithExplicitTLS(noCache))
	r, err = c2.Retr("tls.bin")
	if err == nil {
		io.ReadAll(r)
		err = r.Close()
	}
	if err == nil {
		t.Fatal("a data connection that did not resume the control session was accepted")
	}
}

func TestCurlFTPS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, ftpserver.TLSPolicy{RequireLogin: true, RequireData: true})
	data := testData(50, 1<<20+7)
	writeFile(t, ts.local("/data.bin"), data)
	dir := t.TempDir()
	up := testData(51, 500001)
	writeFile(t, filepath.Join(dir, "up.bin"), up)
	tlsArgs := []string{"-v", "--ssl-reqd", "--cacert", ts.caFile}

	t.Run("explicit", func(t *testing.T) {
		res := curl(t, dir, append(tlsArgs, "-o", "got.bin", ts.url("/data.bin"))...)
		wantCurl(t, res, curlOK)
		wantFile(t, filepath.Join(dir, "got.bin"), data)
		wantLog(t, res.stderr, "> AUTH ", "< 234 ", "> PBSZ 0", "> PROT P", "< 226 ")

		res = curl(t, dir, append(tlsArgs, "-T", "up.bin", ts.url("/up.bin"))...)
		wantCurl(t, res, curlOK)
		wantFile(t, ts.local("/up.bin"), up)

		res = curl(t, dir, append(tlsArgs, "--list-only", ts.url("/"))...)
		wantCurl(t, res, curlOK)
		if got := outputLines(res.stdout); len(got) != 3 {
			t.Errorf("listing over TLS = %q, want data.bin, up.bin and incoming", got)
		}
	})

	// Not "explicit active": curl 7.87 and 7.88 (Debian 12) do not run the
	// TLS handshake on an active data connection (curl issue 10666);
	// lftp and ftplib cover active mode with TLS.

	t.Run("implicit", func(t *testing.T) {
		url := "ftps://" + user + ":" + password + "@" + net.JoinHostPort(ts.host, strconv.Itoa(ts.implicitPort))
		res := curl(t, dir, "--cacert", ts.caFile, "-o", "implicit.bin", url+"/data.bin")
		wantCurl(t, res, curlOK)
		wantFile(t, filepath.Join(dir, "implicit.bin"), data)

		res = curl(t, dir, "--cacert", ts.caFile, "-T", "up.bin", url+"/implicit-up.bin")
		wantCurl(t, res, curlOK)
		wantFile(t, ts.local("/implicit-up.bin"), up)
	})

	t.Run("required", func(t *testing.T) {
		// Without TLS the login is refused.
		res := curl(t, dir, "-v", "-o", "plain.bin", ts.url("/data.bin"))
		if res.exitCode == curlOK {
			t.Fatalf("a login without TLS succeeded though the policy requires TLS:\n%s", res)
		}
		wantLog(t, res.stderr, "< 530 ")
		wantNoFile(t, filepath.Join(dir, "plain.bin"))

		// TLS on the control connection but clear data: refused.
		res = curl(t, dir, "-v", "--ftp-ssl-control", "--cacert", ts.caFile, "-o", "clear.bin", ts.url("/data.bin"))
		if res.exitCode == curlOK {
			t.Fatalf("a clear data connection was accepted though the policy requires PROT P:\n%s", res)
		}
		// 521 refuses the transfer, 534 a PROT C.
		if !strings.Contains(res.stderr, "\n< 521 ") && !strings.Contains(res.stderr, "\n< 534 ") {
			t.Errorf("clear data: want a 521 or 534 reply:\n%s", res.stderr)
		}
		wantNoFile(t, filepath.Join(dir, "clear.bin"))
	})
}

func TestLftpFTPS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, ftpserver.TLSPolicy{RequireLogin: true, RequireData: true})
	work := t.TempDir()
	want := makeTree(t, filepath.Join(work, "src"), 25)
	tlsSettings := strings.Join([]string{
		"set ftp:ssl-force true",
		"set ftp:ssl-protect-data true",
		"set ftp:ssl-protect-list true",
		"set ssl:ca-file " + ts.caFile,
		"set ssl:verify-certificate true",
	}, "; ")

	res := lftp(t, ts.testServer, work, true, tlsSettings+`; mirror -R src up`)
	wantLftp(t, res)
	compareTrees(t, want, treeDigest(t, ts.local("/up")))

	res = lftp(t, ts.testServer, work, true, tlsSettings+`; mirror up back`)
	wantLftp(t, res)
	compareTrees(t, want, treeDigest(t, filepath.Join(work, "back")))

	res = lftp(t, ts.testServer, work, false, tlsSettings+`; get "up/ünïcødé/名前/名前-3.txt" -o active.txt`)
	wantLftp(t, res)
	wantFile(t, filepath.Join(work, "active.txt"), testData(3, (3*7919)%70000))
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPythonFTPS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, ftpserver.TLSPolicy{})
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "ca.pem"), mustRead(t, ts.caFile))
	data := testData(52, 1<<20+3)
	writeFile(t, ts.local("/data.bin"), data)
	up := testData(53, 300007)
	writeFile(t, filepath.Join(work, "up.bin"), up)

	ftplib(t, ts.testServer, "tls", work)
	wantFile(t, filepath.Join(work, "data.bin"), data)
	wantFile(t, filepath.Join(work, "data-active.bin"), data)
	wantFile(t, filepath.Join(work, "data-clear.bin"), data)
	wantFile(t, ts.local("/up.bin"), up)

	// Plain FTP_TLS does not resume the session on data connections: the
	// server refuses them by default.
	ftplib(t, ts.testServer, "tls-noresume", work)
}
