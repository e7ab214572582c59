package ftpserver_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestIPv6DataChannels(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ts := startServer(t)
	ts.fs.WriteFile("/six", []byte("over IPv6"))
	srv := &ftpserver.Server{Auth: ts.srv.Auth, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ftpserver.ErrServerClosed) {
			t.Error(err)
		}
	})
	c6 := &testServer{srv: srv, fs: ts.fs, addr: ln.Addr().String()}
	c := c6.login(t)
	c.cmd(522, "PASV") // IPv4 only
	c.cmd(522, "EPSV 1")
	msg := c.cmd(229, "EPSV 2")
	port := mustEPSVPort(t, msg)
	data, err := net.Dial("tcp", fmt.Sprintf("[::1]:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	c.cmd(150, "RETR six")
	got, _ := io.ReadAll(data)
	c.expect(226)
	if string(got) != "over IPv6" {
		t.Fatalf("EPSV RETR = %q", got)
	}

	active, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer active.Close()
	c.cmd(500, "EPRT |2|::2|50000|") // not the client's address
	// "::" means the client's own address (lftp sends it).
	c.cmd(200, "EPRT |2|::|%d|", active.Addr().(*net.TCPAddr).Port)
	c.cmd(150, "RETR six")
	if conn, err := active.Accept(); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, conn)
		conn.Close()
	}
	c.expect(226)
	c.cmd(200, "EPRT |2|::1|%d|", active.Addr().(*net.TCPAddr).Port)
	c.cmd(150, "RETR six")
	conn, err := active.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(conn)
	conn.Close()
	c.expect(226)
	if string(got) != "over IPv6" {
		t.Fatalf("EPRT RETR = %q", got)
	}
}

func TestSiteChmodAndAvbl(t *testing.T) {
	t.Parallel()
	ts, dir := startDiskServer(t, ftpserver.UploadAtomicResume)
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	c := ts.login(t)
	c.cmd(200, "SITE CHMOD 600 f")
	if fi, _ := os.Stat(filepath.Join(dir, "f")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v", fi.Mode().Perm())
	}
	c.cmd(501, "SITE CHMOD 999 f")
	c.cmd(550, "SITE CHMOD 644 nope")
	c.cmd(502, "SITE BOGUS")
	n, err := strconv.ParseInt(c.cmd(213, "AVBL"), 10, 64)
	if err != nil || n <= 0 {
		t.Fatalf("AVBL = %d, %v", n, err)
	}
	c.cmd(550, "AVBL f")
}

func TestMLSxPermFacts(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/f", []byte("x"))
	rw := ts.login(t)
	if msg := rw.cmd(250, "MLST f"); !containsFact(msg, "perm=radfw") && !containsFact(msg, "perm=adfrw") {
		t.Fatalf("writable file perm: %q", msg)
	}
	anon := ts.dial(t)
	anon.loginAs("anonymous", "x")
	if msg := anon.cmd(250, "MLST f"); !containsFact(msg, "perm=r;") {
		t.Fatalf("read-only file perm: %q", msg)
	}
}

// containsFact reports whether a reply holds a fact, ignoring the case of
// fact names and values as RFC 3659 allows.
func containsFact(msg, fact string) bool {
	return strings.Contains(strings.ToLower(msg), strings.ToLower(fact))
}
