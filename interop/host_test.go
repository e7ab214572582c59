package interop

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// hostServer is startServer (alice and anonymous, the server's own
// accounts) with TLS and a virtual host b.example (RFC 7151): its own
// tree, its own account carol/pb and its own certificate, whose PEM is in
// bCAFile.
type hostServer struct {
	*testServer
	bCAFile string
}

func startHostServer(t *testing.T) *hostServer {
	t.Helper()
	bRoot := t.TempDir()
	writeFile(t, filepath.Join(bRoot, "b-only.txt"), []byte("on B"))
	bFS, err := localfs.New(bRoot)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bFS.Close() })
	bPair := testcert.NewFor(t, "b.example")
	bCAFile := filepath.Join(t.TempDir(), "b.pem")
	writeFile(t, bCAFile, bPair.CertPEM)
	b := &ftpserver.VirtualHost{
		Name: "b.example",
		Auth: ftpserver.AuthFunc(func(_ context.Context, _ ftpserver.ConnInfo, name, pass string) (*ftpserver.Account, error) {
			if name == "carol" && pass == "pb" {
				return &ftpserver.Account{User: "carol", FS: bFS, Write: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &bPair.Cert, nil },
	}
	ts := startServer(t, func(s *ftpserver.Server) {
		s.TLSConfig = testcert.New(t).ServerConfig()
		s.Hosts = func(name string) (*ftpserver.VirtualHost, bool) { return b, name == "b.example" }
	})
	return &hostServer{testServer: ts, bCAFile: bCAFile}
}

// TestPythonFtplibHost: ftplib sends HOST with sendcmd before login, lists
// the host's tree, and over TLS gets the host's certificate.
func TestPythonFtplibHost(t *testing.T) {
	t.Parallel()
	ts := startHostServer(t)
	bin := testtool.Need(t, "python3")
	script, err := filepath.Abs(filepath.Join("testdata", "ftplib_host.py"))
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, 2*time.Minute, "", t.TempDir(), bin, script, ts.host, strconv.Itoa(ts.port), ts.bCAFile)
	if res.exitCode != 0 || strings.TrimSpace(res.stdout) != "ok" {
		t.Fatalf("ftplib HOST scenario failed: %s", res)
	}
}

// TestDebianFTPHost: tnftp started with -n (no automatic login) sends
// "quote HOST" before "user", which is how a person chooses a virtual
// host with it.
func TestDebianFTPHost(t *testing.T) {
	t.Parallel()
	ts := startHostServer(t)
	bin := testtool.Need(t, "ftp")
	work := t.TempDir()
	script := strings.Join([]string{"quote HOST b.example", "user carol pb", "get b-only.txt got.txt", "quote HOST b.example", "quit", ""}, "\n")
	res := run(t, 2*time.Minute, script, work, bin, "-n", "-v", ts.host, strconv.Itoa(ts.port))
	if res.exitCode != 0 {
		t.Fatalf("ftp failed: %s", res)
	}
	wantFile(t, filepath.Join(work, "got.txt"), []byte("on B"))
	for _, want := range []string{"220 Host b.example ready.", "230 Login successful.", "503 HOST must come before login."} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("ftp's output lacks %q:\n%s", want, res)
		}
	}
}

// TestCurlLftpCannotSendHostBeforeLogin records what curl and lftp can do
// with HOST: their quote commands run only after the login (curl's -Q
// after PWD; lftp logs in to run "quote"), so HOST reaches the server too
// late and is refused with 503. Neither can choose a virtual host; the
// server's own accounts apply to them.
func TestCurlLftpCannotSendHostBeforeLogin(t *testing.T) {
	t.Parallel()
	ts := startHostServer(t)
	dir := t.TempDir()
	res := curl(t, dir, "-v", "-Q", "HOST b.example", "-o", "list.txt", ts.url("/"))
	wantCurl(t, res, 21) // "quote command returned error"
	if u, h := strings.Index(res.stderr, "> USER alice"), strings.Index(res.stderr, "> HOST b.example"); u < 0 || h < u {
		t.Errorf("curl did not send HOST after USER:\n%s", res)
	}
	if !strings.Contains(res.stderr, "< 503 HOST must come before login.") {
		t.Errorf("curl's HOST not refused with 503:\n%s", res)
	}

	res = lftp(t, ts.testServer, dir, true, "set ftp:ssl-allow no; quote HOST b.example")
	// lftp prints the reply and exits 0 all the same.
	if !strings.Contains(res.stdout, "503 HOST must come before login.") {
		t.Errorf("lftp's quote HOST after its login: %s", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "list.txt")); err == nil {
		t.Error("curl wrote a listing after its quote command failed")
	}
}
