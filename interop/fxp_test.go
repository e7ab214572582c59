package interop

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
	"github.com/ferry-ftp/ferry/internal/testtool"
)

// fxpPeer starts a ferry server with FTPS and AllowFXP, listening on host
// too, and returns it with its address there.
func fxpPeer(t *testing.T, pair *testcert.Pair, host string) (*testServer, string) {
	t.Helper()
	ts := startServer(t, func(s *ftpserver.Server) {
		s.TLSConfig = pair.ServerConfig()
		s.AllowFXP = true
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	return ts, net.JoinHostPort(host, strconv.Itoa(ts.serveOn(ln, ts.srv.Serve)))
}

// TestLftpFXPOverTLS has lftp copy a file between two ferry servers with
// FXP and protected data (ftp:ssl-protect-fxp): lftp asks one server to
// take the TLS client role (CPSV or SSCN), and the data goes from server
// to server. The servers are on 127.0.0.2 and 127.0.0.3, lftp at
// 127.0.0.1: each server sees the other as a third party (AllowFXP).
func TestLftpFXPOverTLS(t *testing.T) {
	t.Parallel()
	bin := testtool.Need(t, "lftp")
	pair := testcert.New(t)
	src, srcAddr := fxpPeer(t, pair, "127.0.0.2")
	dst, dstAddr := fxpPeer(t, pair, "127.0.0.3")
	data := testData(41, 3<<20+123)
	writeFile(t, src.local("/f.bin"), data)
	script := strings.Join([]string{
		"set cmd:fail-exit yes",
		"set net:max-retries 1",
		"set net:timeout 10",
		"set cmd:interactive no",
		"set ftp:ssl-force true",
		"set ftp:ssl-protect-data true",
		"set ftp:ssl-protect-fxp true",
		"set ftp:use-fxp true",
		"set ftp:fxp-force true",
		"set ssl:verify-certificate false",
		"get ftp://" + user + ":" + password + "@" + srcAddr + "/f.bin -o ftp://" + user + ":" + password + "@" + dstAddr + "/copy.bin",
	}, "; ")
	res := run(t, 2*time.Minute, "", t.TempDir(), bin, "-d", "-c", script)
	if res.exitCode != 0 {
		t.Fatalf("lftp failed: %s", res)
	}
	wantFile(t, dst.local("/copy.bin"), data)
	// lftp -d traces both control connections: CPSV to one server, PORT
	// with its address to the other, and both transfers complete.
	for _, want := range []string{"---> PROT P", "---> CPSV", "---> PORT 127,0,0,3,", "---> STOR /copy.bin", "---> RETR /f.bin"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("no %q in lftp's trace:\n%s", want, res.stderr)
		}
	}
	if n := strings.Count(res.stderr, "<--- 226 "); n != 2 {
		t.Errorf("%d replies 226, want 2 (one per server):\n%s", n, res.stderr)
	}
}

// TestPeersFXP has each peer and a ferry server send a file to each other
// by FXP (ftpclient.FXP, which never streams): the peer as the source
// with the ferry server listening, then the ferry server as the source
// with the peer listening. All are on 127.0.0.1 with the client, so no
// server needs to admit third parties.
func TestPeersFXP(t *testing.T) {
	t.Parallel()
	ferrySrv := startFerryPeer(t)
	fc := ferrySrv.dial(t)
	forEachPeer(t, func(t *testing.T, p *peer) {
		data := testData(43, 2<<20+3)
		p.writeFile(t, "fxp.bin", data)
		pc := p.dial(t)
		ctx := peerContext(t)
		dst := "fxp-from-" + p.name + ".bin"
		if err := ftpclient.FXP(ctx, pc, "fxp.bin", fc, dst, ftpclient.FXPOptions{}); err != nil {
			t.Fatalf("FXP from %s: %v", p.name, err)
		}
		wantFileSum(t, ferrySrv.local(dst), data)
		if err := ftpclient.FXP(ctx, fc, dst, pc, "fxp-back.bin", ftpclient.FXPOptions{SourcePassive: true}); err != nil {
			t.Fatalf("FXP to %s: %v", p.name, err)
		}
		wantFileSum(t, p.local("fxp-back.bin"), data)
	})
}
