package interop

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goftp "github.com/jlaffaye/ftp"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// startHAProxy runs HAProxy in front of the control port of ts, sending
// PROXY v2 headers, and returns the address it listens on. It is stopped
// (by its PID) when the test ends.
func startHAProxy(t *testing.T, ts *testServer) string {
	t.Helper()
	// scripts/test says where Debian put it (/usr/sbin, maybe not on
	// PATH); otherwise PATH, skipping (failing in CI) without it.
	bin := os.Getenv("FERRY_HAPROXY")
	if bin == "" {
		bin = testtool.Need(t, "haproxy")
	}
	// A free port for HAProxy: taken and released, then bound by it;
	// another process taking it in between makes HAProxy fail to start,
	// which the wait below reports.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := ln.Addr().String()
	ln.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, cfg, []byte(fmt.Sprintf(`global
    maxconn 100

defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m

frontend ftp
    bind %s
    default_backend nodes

backend nodes
    server node %s send-proxy-v2
`, front, ts.addr())))
	cmd := exec.Command(bin, "-f", cfg, "-db")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
	// A bare TCP connect proves the listener is up. It comes from
	// 127.0.0.9, so that the session HAProxy may open for it is told
	// apart from the clients' and from HAProxy's own address.
	probe := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}}
	testwait.For(t, "haproxy to listen on "+front, func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("haproxy exited: %v\n%s", err, out.String())
		default:
		}
		c, err := probe.Dial("tcp", front)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return front
}

// TestHAProxySendProxyV2: a client at 127.0.0.3 reaches ferry through
// HAProxy (send-proxy-v2). ferry sees 127.0.0.3, not HAProxy's 127.0.0.1,
// so the passive data connections that the client opens straight to the
// node are accepted, and listing and downloads work byte for byte.
func TestHAProxySendProxyV2(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) {
		s.ProxyProtocol = &ftpserver.ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	})
	content := testData(12, 3<<20)
	writeFile(t, ts.local("/big.bin"), content)
	writeFile(t, ts.local("/small.txt"), []byte("hello\n"))
	front := startHAProxy(t, ts)

	t.Run("curl", func(t *testing.T) {
		for _, mode := range [][]string{{}, {"--disable-epsv"}} {
			dir := t.TempDir()
			url := "ftp://" + user + ":" + password + "@" + front
			res := curl(t, dir, append([]string{"--interface", "127.0.0.3", url + "/"}, mode...)...)
			wantCurl(t, res, curlOK)
			for _, name := range []string{"big.bin", "small.txt", "incoming"} {
				if !strings.Contains(res.stdout, " "+name+"\n") {
					t.Fatalf("curl %v LIST through HAProxy has no %s:\n%s", mode, name, res.stdout)
				}
			}
			res = curl(t, dir, append([]string{"--interface", "127.0.0.3", "-o", "big.bin", url + "/big.bin"}, mode...)...)
			wantCurl(t, res, curlOK)
			wantFile(t, filepath.Join(dir, "big.bin"), content)
		}
	})

	t.Run("jlaffaye", func(t *testing.T) {
		dialer := net.Dialer{Timeout: 20 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
		c, err := goftp.Dial(front, goftp.DialWithTimeout(20*time.Second), goftp.DialWithDialer(dialer))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Quit()
		if err := c.Login(user, password); err != nil {
			t.Fatal(err)
		}
		names, err := c.NameList("/")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names, ","); !strings.Contains(got, "big.bin") || !strings.Contains(got, "small.txt") {
			t.Fatalf("NLST through HAProxy: %q", names)
		}
		r, err := c.Retr("big.bin")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("RETR through HAProxy: %d bytes (%v), want %d identical", len(got), err, len(content))
		}
	})

	// Every session the clients opened was logged with the client's
	// address; HAProxy's own address only ever came without a session.
	logs := ts.logs.String()
	if !strings.Contains(logs, "remote=127.0.0.3:") {
		t.Fatalf("no session from 127.0.0.3 in the server log:\n%s", logs)
	}
	if strings.Contains(logs, "refused data connection") {
		t.Fatalf("a data connection was refused:\n%s", logs)
	}
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, "session=") && strings.Contains(line, "remote=127.0.0.1:") {
			t.Fatalf("a session was taken for HAProxy's address: %s", line)
		}
	}
}
