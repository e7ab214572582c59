package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var listenLine = regexp.MustCompile(`on (127\.0\.0\.1:\d+)`)

// waitAddr reads the welcome text, up to its "try:" line, and returns the
// listening address and the text.
func waitAddr(t *testing.T, r io.Reader) (string, string) {
	t.Helper()
	var seen strings.Builder
	addr := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if m := listenLine.FindStringSubmatch(sc.Text()); m != nil && addr == "" {
			addr = m[1]
		}
		if addr != "" && strings.HasPrefix(sc.Text(), "  try:") {
			go io.Copy(io.Discard, r)
			return addr, seen.String()
		}
	}
	t.Fatalf("no listening address in output:\n%s", seen.String())
	return "", ""
}

func ftpDial(t *testing.T, addr string) *textproto.Conn {
	t.Helper()
	c, err := textproto.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	return c
}

func ftpCmd(t *testing.T, c *textproto.Conn, want int, cmd string) string {
	t.Helper()
	if err := c.PrintfLine("%s", cmd); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.ReadResponse(want)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return msg
}

func TestServeAnonymousReadOnly(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hi"), 0o644)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: io.Discard},
			[]string{"serve", "--listen", "127.0.0.1:0", "--root", root, "--passive-ports", "45000-45100"})
		pw.Close()
	}()
	addr, welcome := waitAddr(t, pr)
	if !strings.Contains(welcome, "anonymous") || !strings.Contains(welcome, root) {
		t.Fatalf("welcome text does not say how to log in:\n%s", welcome)
	}
	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS me@example.com")
	ftpCmd(t, c, 213, "SIZE hello.txt")
	ftpCmd(t, c, 550, "MKD new")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
}

func TestServeUserAccount(t *testing.T) {
	root := t.TempDir()
	addr, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--root", root, "--user", "joe", "--password", "pw", "--write")
	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER anonymous") // --user turns anonymous off
	ftpCmd(t, c, 530, "PASS x")
	ftpCmd(t, c, 331, "USER joe")
	ftpCmd(t, c, 230, "PASS pw")
	ftpCmd(t, c, 257, "MKD made")
	if fi, err := os.Stat(filepath.Join(root, "made")); err != nil || !fi.IsDir() {
		t.Fatalf("MKD did not create the directory: %v", err)
	}
}

func TestServeFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--user", "joe"},
		{"serve", "--passive-ports", "9-1"},
		{"serve", "--root", "/does/not/exist"},
		{"serve", "--config", "/does/not/exist.toml"},
	} {
		err := Run(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}, args)
		if err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// buildFerry builds the ferry command into a temporary directory and
// returns its path. The test is skipped with -short.
func buildFerry(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "ferry")
	build := exec.Command("go", "build", "-o", bin, "github.com/ferry-ftp/ferry/cmd/ferry")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestServeBinarySIGTERM builds the real binary and checks that SIGTERM
// lets a running transfer finish before the process exits.
func TestServeBinarySIGTERM(t *testing.T) {
	bin := buildFerry(t)
	root := t.TempDir()
	big := make([]byte, 32<<20)
	os.WriteFile(filepath.Join(root, "big"), big, 0o644)
	cmd, addr := startBinary(t, bin, "--root", root, "--passive-ports", "45200-45300")
	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS x")
	ftpCmd(t, c, 200, "TYPE I")
	msg := ftpCmd(t, c, 229, "EPSV")
	port := msg[strings.Index(msg, "|||")+3 : strings.LastIndex(msg, "|")]
	data, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	ftpCmd(t, c, 150, "RETR big")
	head := make([]byte, 1<<20)
	io.ReadFull(data, head)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	rest, _ := io.ReadAll(data)
	if got := len(head) + len(rest); got != len(big) {
		t.Fatalf("transfer cut at %d of %d bytes by SIGTERM", got, len(big))
	}
	if _, _, err := c.ReadResponse(226); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	expectExit(t, cmd, 10*time.Second)
}

// startBinary runs "ferry serve" on 127.0.0.1 with args, killed when the
// test ends, and returns the process and its address.
func startBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	addr, _ := waitAddr(t, stdout)
	return cmd, addr
}

// expectExit waits for cmd to exit successfully, failing after within.
func expectExit(t *testing.T, cmd *exec.Cmd, within time.Duration) {
	t.Helper()
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(within):
		t.Fatalf("process still running %v after SIGTERM", within)
	}
}

var implicitLine = regexp.MustCompile(`implicit FTPS on (127\.0\.0\.1:\d+)`)

// startServe runs "ferry serve" with args in the background until the
// test ends, and returns its welcome text and log.
func startServe(t *testing.T, args ...string) (string, string, *syncBuffer) {
	t.Helper()
	pr, pw := io.Pipe()
	logs := new(syncBuffer)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: logs}, append([]string{"serve"}, args...))
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	addr, welcome := waitAddr(t, pr)
	return addr, welcome, logs
}

// trust returns a client TLS config trusting the certificate in certFile,
// with its own session cache (one per control connection, as curl has).
func trust(t *testing.T, certFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
}

// authTLS sends AUTH TLS on c's connection raw and returns the control
// connection over TLS.
func authTLS(t *testing.T, c *textproto.Conn, raw net.Conn, conf *tls.Config) (*textproto.Conn, *tls.Conn) {
	t.Helper()
	ftpCmd(t, c, 234, "AUTH TLS")
	tc := tls.Client(raw, conf)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	return textproto.NewConn(tc), tc
}

func dialRaw(t *testing.T, addr string) (*textproto.Conn, net.Conn) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	c := textproto.NewConn(raw)
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	return c, raw
}

func TestServeTLSRequired(t *testing.T) {
	certFile, keyFile := makeCert(t, t.TempDir())
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hi"), 0o644)
	addr, welcome, _ := startServe(t, "--listen", "127.0.0.1:0", "--root", root, "--passive-ports", "45400-45500",
		"--tls-cert", certFile, "--tls-key", keyFile, "--tls-required", "--tls-implicit-listen", "127.0.0.1:0")
	m := implicitLine.FindStringSubmatch(welcome)
	if m == nil {
		t.Fatalf("welcome text does not give the implicit address:\n%s", welcome)
	}
	implicitAddr := m[1]
	for _, want := range []string{"curl --cacert " + certFile + " --ssl-reqd ftp://127.0.0.1:", "ftps://127.0.0.1:" + implicitAddr[len("127.0.0.1:"):] + "/", "TLS required"} {
		if !strings.Contains(welcome, want) {
			t.Errorf("welcome text lacks %q:\n%s", want, welcome)
		}
	}

	// Explicit: no login in clear, then AUTH TLS with the certificate.
	c, raw := dialRaw(t, addr)
	ftpCmd(t, c, 530, "USER anonymous")
	c, _ = authTLS(t, c, raw, trust(t, certFile))
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS x")
	ftpCmd(t, c, 213, "SIZE hello.txt")
	ftpCmd(t, c, 200, "PBSZ 0")
	ftpCmd(t, c, 534, "PROT C")

	// Implicit: TLS from the first byte.
	tc, err := tls.Dial("tcp", implicitAddr, trust(t, certFile))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	greetAnonymous(t, textproto.NewConn(tc))
}

// greetAnonymous reads the greeting on c and logs in anonymously.
func greetAnonymous(t *testing.T, c *textproto.Conn) {
	t.Helper()
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS x")
}

// SIGHUP makes a running server present a renewed certificate to new
// connections, without dropping the sessions it has; a broken file keeps
// the certificate in use.
func TestServeSIGHUPReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := makeCert(t, dir)
	addr, _, logs := startServe(t, "--listen", "127.0.0.1:0", "--root", t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)

	leafOf := func() *x509.Certificate {
		t.Helper()
		c, raw := dialRaw(t, addr)
		_, tc := authTLS(t, c, raw, trust(t, certFile))
		return tc.ConnectionState().PeerCertificates[0]
	}
	hup := func(logLine string) {
		t.Helper()
		before := strings.Count(logs.String(), logLine)
		self, _ := os.FindProcess(os.Getpid())
		if err := self.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); strings.Count(logs.String(), logLine) == before; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after SIGHUP:\n%s", logLine, logs.String())
			}
		}
	}

	old, oldRaw := dialRaw(t, addr)
	old, _ = authTLS(t, old, oldRaw, trust(t, certFile))
	ftpCmd(t, old, 331, "USER anonymous")
	ftpCmd(t, old, 230, "PASS x")
	first := leafOf()

	makeCert(t, dir, "--force")
	hup("TLS certificate reloaded")
	renewed := leafOf()
	if renewed.Equal(first) {
		t.Fatal("the server still presents the old certificate after SIGHUP")
	}
	ftpCmd(t, old, 257, "PWD") // the session from before goes on

	os.WriteFile(keyFile, []byte("broken"), 0o600)
	hup("TLS certificate not reloaded")
	if got := leafOf(); !got.Equal(renewed) {
		t.Error("a failed reload changed the certificate")
	}
	ftpCmd(t, old, 257, "PWD")
}

func TestServeTLSFlagErrors(t *testing.T) {
	certFile, keyFile := makeCert(t, t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--tls-cert", certFile}, "--tls-cert and --tls-key go together"},
		{[]string{"serve", "--tls-required"}, "need a certificate"},
		{[]string{"serve", "--tls-implicit-listen", ":0"}, "need a certificate"},
		{[]string{"serve", "--tls-cert", keyFile, "--tls-key", keyFile}, "tls: "},
		{[]string{"serve", "--tls-cert", certFile, "--tls-key", keyFile, "--tls-implicit-listen", "990"}, "tls.implicit_listen"},
	} {
		err := Run(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestServeBinarySIGTERMWithStalledClient: a client that stops reading
// in the middle of a long reply must not keep the process alive past the
// grace period (issue 10, defect 3: it did until the data timeout).
func TestServeBinarySIGTERMWithStalledClient(t *testing.T) {
	t.Parallel()
	bin := buildFerry(t)
	root := t.TempDir()
	many := filepath.Join(root, "many")
	if err := os.Mkdir(many, 0o755); err != nil {
		t.Fatal(err)
	}
	// About 9 MB of STAT listing, twice the largest socket send buffer.
	long := strings.Repeat("n", 240)
	for i := range 30_000 {
		if err := os.WriteFile(filepath.Join(many, fmt.Sprintf("%s%05d", long, i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd, addr := startBinary(t, bin, "--root", root, "--grace", "1s")

	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, raw syscall.RawConn) error {
		return raw.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := textproto.NewConn(raw)
	greetAnonymous(t, c)
	if err := c.PrintfLine("STAT /many"); err != nil {
		t.Fatal(err)
	}
	// The reply has begun; the client reads no more of it.
	if line, err := c.ReadLine(); err != nil || !strings.HasPrefix(line, "213-") {
		t.Fatalf("STAT reply begins %q, %v", line, err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	expectExit(t, cmd, 5*time.Second) // --grace 1s, and slack for a loaded machine
}
