package ftpserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestLoginFlow(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.dial(t)
	c.cmd(530, "PWD")
	c.cmd(503, "PASS secret")
	c.cmd(331, "USER nobody") // unknown users get 331 too
	c.cmd(530, "PASS x")
	c.cmd(331, "user alice") // verbs are case-insensitive
	c.cmd(230, "PASS secret")
	c.cmd(230, "PASS secret")
	c.cmd(202, "ACCT x")
	c.cmd(257, "PWD")
	c.cmd(220, "REIN")
	c.cmd(530, "PWD")
	c.loginAs("anonymous", "guest@example.com")
	c.cmd(221, "QUIT")
}

func TestUnknownAndMalformed(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.cmd(500, "FOOBAR")
	c.cmd(500, "!!!")
	c.cmd(501, "TYPE")
	c.cmd(503, "RNTO x")
	c.cmd(502, "SMNT /x")
	c.cmd(553, "CWD a\x00b")
	c.cmd(200, "NOOP")
}

func TestNavigation(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.cmd(257, "MKD dir with space")
	c.cmd(257, `MKD q"uote`)
	if msg := c.cmd(257, `XPWD`); !strings.HasPrefix(msg, `"/"`) {
		t.Fatalf("XPWD: %q", msg)
	}
	c.cmd(250, "CWD dir with space")
	if msg := c.cmd(257, "PWD"); !strings.HasPrefix(msg, `"/dir with space"`) {
		t.Fatalf("PWD: %q", msg)
	}
	c.cmd(250, "CDUP")
	c.cmd(250, `XCWD q"uote`)
	if msg := c.cmd(257, "PWD"); !strings.HasPrefix(msg, `"/q""uote"`) {
		t.Fatalf("PWD with quote: %q", msg)
	}
	c.cmd(250, "XCUP")
	c.cmd(250, "CWD ../../..") // never above the root
	if msg := c.cmd(257, "PWD"); !strings.HasPrefix(msg, `"/"`) {
		t.Fatalf("PWD after climbing: %q", msg)
	}
	c.cmd(550, "CWD nope")
	c.stor("STOR", "file.txt", []byte("x"))
	c.cmd(550, "CWD file.txt")
	c.cmd(257, "XMKD x")
	c.cmd(250, "XRMD x")
}

func TestParameters(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	for _, ok := range []string{"A", "A N", "I", "L 8", "i", "a n", "E", "E N"} {
		c.cmd(200, "TYPE %s", ok)
	}
	for _, bad := range []string{"A T", "A C", "E T", "E C", "L 7"} {
		c.cmd(504, "TYPE %s", bad)
	}
	c.cmd(501, "TYPE X")
	c.cmd(200, "STRU F")
	c.cmd(200, "STRU R")
	c.cmd(504, "STRU P")
	c.cmd(200, "MODE S")
	c.cmd(200, "MODE B") // modeb_test.go
	c.cmd(504, "MODE C")
	c.cmd(200, "MODE S")
	c.cmd(202, "ALLO 1000")
	c.cmd(350, "REST 10")
	c.cmd(501, "REST -1")
	c.cmd(501, "REST abc")
	c.cmd(215, "SYST")
}

func TestRetrStorRoundTrip(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.cmd(200, "TYPE I")
	content := bytes.Repeat([]byte("ferry\r\nbinary\n\x00\xff"), 100000)
	c.stor("STOR", "big.bin", content)
	if got := c.retr("big.bin"); !bytes.Equal(got, content) {
		t.Fatalf("RETR returned %d bytes, want %d identical", len(got), len(content))
	}
	if msg := c.cmd(213, "SIZE big.bin"); msg != fmt.Sprint(len(content)) {
		t.Fatalf("SIZE = %q", msg)
	}
	c.cmd(550, "SIZE nope")
	c.cmd(550, "RETR nope")
	c.cmd(257, "MKD d")
	c.cmd(550, "RETR d")
	c.cmd(550, "SIZE d")
}

func TestAsciiConversion(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.cmd(200, "TYPE A")
	c.stor("STOR", "text.txt", []byte("one\r\ntwo\r\nthree"))
	stored, err := ts.fs.ReadFile("/text.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(stored) != "one\ntwo\nthree" {
		t.Fatalf("stored %q, want LF line ends", stored)
	}
	if got := c.retr("text.txt"); string(got) != "one\r\ntwo\r\nthree" {
		t.Fatalf("ASCII RETR = %q", got)
	}
	// SIZE is the size on disk even in TYPE A: ftplib and BSD ftp ask
	// for it after a listing switched them to ASCII (see cmdSIZE).
	if msg := c.cmd(213, "SIZE text.txt"); msg != "13" {
		t.Fatalf("SIZE in TYPE A = %s, want 13", msg)
	}
	c.cmd(200, "TYPE I")
	if msg := c.cmd(213, "SIZE text.txt"); msg != "13" {
		t.Fatalf("SIZE in TYPE I = %s, want 13", msg)
	}
	if got := c.retr("text.txt"); string(got) != "one\ntwo\nthree" {
		t.Fatalf("binary RETR = %q", got)
	}
}

func TestRestResume(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.stor("STOR", "r.bin", []byte("0123456789"))
	c.cmd(350, "REST 4")
	if got := c.retr("r.bin"); string(got) != "456789" {
		t.Fatalf("RETR after REST 4 = %q", got)
	}
	// REST applies to one transfer only.
	if got := c.retr("r.bin"); string(got) != "0123456789" {
		t.Fatalf("second RETR = %q", got)
	}
	c.cmd(350, "REST 6")
	c.stor("STOR", "r.bin", []byte("abcdef"))
	if got, _ := ts.fs.ReadFile("/r.bin"); string(got) != "012345abcdef" {
		t.Fatalf("after REST 6 + STOR: %q", got)
	}
	c.cmd(350, "REST 100")
	c.cmd(501, "RETR r.bin")
	c.stor("APPE", "r.bin", []byte("XY"))
	if got, _ := ts.fs.ReadFile("/r.bin"); string(got) != "012345abcdefXY" {
		t.Fatalf("after APPE: %q", got)
	}
	c.stor("APPE", "new.bin", []byte("fresh"))
	if got, _ := ts.fs.ReadFile("/new.bin"); string(got) != "fresh" {
		t.Fatalf("APPE to a new file: %q", got)
	}
}

func TestSTOU(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	data := c.pasv()
	msg := c.cmd(150, "STOU")
	name, ok := strings.CutPrefix(msg, "FILE: ")
	if !ok {
		t.Fatalf("150 reply %q lacks FILE:", msg)
	}
	data.Write([]byte("unique"))
	data.Close()
	done := c.expect(226)
	if !strings.Contains(done, name) {
		t.Fatalf("226 %q does not name %q", done, name)
	}
	if got, err := ts.fs.ReadFile("/" + name); err != nil || string(got) != "unique" {
		t.Fatalf("stored %q, %v", got, err)
	}
}

func TestRenameDeleteRmd(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.stor("STOR", "a.txt", []byte("a"))
	c.cmd(350, "RNFR a.txt")
	c.cmd(250, "RNTO b.txt")
	if _, err := ts.fs.ReadFile("/b.txt"); err != nil {
		t.Fatal(err)
	}
	c.cmd(550, "RNFR a.txt")
	c.cmd(350, "RNFR b.txt")
	c.cmd(200, "NOOP")
	c.cmd(503, "RNTO c.txt") // RNTO must follow RNFR directly
	c.cmd(257, "MKD d")
	c.stor("STOR", "d/f", []byte("f"))
	c.cmd(550, "RMD d")
	c.cmd(550, "DELE d")
	c.cmd(550, "RMD d/f")
	c.cmd(250, "DELE d/f")
	c.cmd(250, "RMD d")
	c.cmd(550, "DELE d/f")
	c.cmd(550, "MKD b.txt")
}

func TestMDTMandMFMT(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.stor("STOR", "t.txt", []byte("t"))
	c.cmd(213, "MFMT 20200102030405 t.txt")
	if msg := c.cmd(213, "MDTM t.txt"); msg != "20200102030405" {
		t.Fatalf("MDTM = %q", msg)
	}
	c.cmd(501, "MFMT 2020 t.txt")
	c.cmd(550, "MFMT 20200102030405 nope")
	c.cmd(550, "MDTM nope")
}

func TestHash(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.stor("STOR", "h.txt", []byte("hello"))
	const sha256Hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	if msg := c.cmd(213, "HASH h.txt"); msg != "SHA-256 0-5 "+sha256Hello+" h.txt" {
		t.Fatalf("HASH = %q", msg)
	}
	c.cmd(200, "OPTS HASH MD5")
	if msg := c.cmd(213, "HASH h.txt"); !strings.Contains(msg, "5d41402abc4b2a76b9719d911017c592") {
		t.Fatalf("HASH MD5 = %q", msg)
	}
	c.cmd(501, "OPTS HASH WHIRLPOOL")
	if msg := c.cmd(250, "XSHA256 h.txt"); msg != sha256Hello {
		t.Fatalf("XSHA256 = %q", msg)
	}
	if msg := c.cmd(250, "XSHA1 h.txt"); msg != "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d" {
		t.Fatalf("XSHA1 = %q", msg)
	}
	if msg := c.cmd(250, "XMD5 h.txt"); msg != "5d41402abc4b2a76b9719d911017c592" {
		t.Fatalf("XMD5 = %q", msg)
	}
	if msg := c.cmd(250, "XCRC h.txt"); msg != "3610a686" {
		t.Fatalf("XCRC = %q", msg)
	}
	if msg := c.cmd(250, "XMD5 h.txt 0 4"); msg != "4229d691b07b13341da53f17ab9f2416" { // md5("hell")
		t.Fatalf("XMD5 range = %q", msg)
	}
	c.cmd(550, "HASH nope")
	if msg := c.cmd(211, "FEAT"); !strings.Contains(msg, "HASH SHA-256;SHA-1;MD5*;CRC32") {
		t.Fatalf("FEAT after OPTS HASH MD5: %q", msg)
	}
}

func TestFeatAndOpts(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.dial(t)
	msg := c.cmd(211, "FEAT")
	for _, f := range []string{"EPSV", "EPRT", "MDTM", "MFMT", "SIZE", "REST STREAM", "UTF8", "TVFS", "MLST type*;size*;modify*;perm*;unix.mode*;unique*;"} {
		if !strings.Contains(msg, "\n "+f+"\n") {
			t.Errorf("FEAT lacks %q:\n%s", f, msg)
		}
	}
	c.cmd(200, "OPTS UTF8 ON")
	c.cmd(501, "OPTS BOGUS")
	c.cmd(214, "HELP")
	c.cmd(214, "HELP RETR")
	c.cmd(502, "HELP BOGUS")
	c.cmd(214, "SITE HELP")
	c.cmd(211, "STAT")
	c.loginAs("alice", "secret")
	c.cmd(200, "OPTS MLST type;size;")
	if msg := c.cmd(211, "FEAT"); !strings.Contains(msg, "MLST type*;size*;modify;perm;unix.mode;unique;") {
		t.Fatalf("FEAT after OPTS MLST: %q", msg)
	}
}

func TestListings(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	c.stor("STOR", "file one.txt", []byte("12345"))
	c.cmd(257, "MKD sub")
	c.stor("STOR", "sub/ünï.txt", []byte("x"))

	lines := c.listing("LIST")
	if len(lines) != 3 {
		t.Fatalf("LIST: %q", lines)
	}
	var sawFile bool
	for _, l := range lines {
		if strings.HasPrefix(l, "-rw") && strings.HasSuffix(l, " file one.txt") && strings.Contains(l, " 5 ") {
			sawFile = true
		}
	}
	if !sawFile {
		t.Fatalf("LIST lacks the file line: %q", lines)
	}
	for _, cmd := range []string{"LIST -la", "LIST -l", "LIST -a /"} {
		if got := c.listing(cmd); len(got) != 3 {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
	if got := c.listing("LIST file one.txt"); len(got) != 1 || !strings.HasSuffix(got[0], "file one.txt") {
		t.Fatalf("LIST of a file: %q", got)
	}
	if got := c.listing("NLST sub"); len(got) != 1 || got[0] != "ünï.txt" {
		t.Fatalf("NLST sub: %q", got)
	}
	if got := c.listing("NLST *.txt"); len(got) != 1 || got[0] != "file one.txt" {
		t.Fatalf("NLST glob: %q", got)
	}
	mlsd := c.listing("MLSD")
	if len(mlsd) != 3 {
		t.Fatalf("MLSD: %q", mlsd)
	}
	var sawMLSDFile bool
	for _, l := range mlsd {
		if strings.HasSuffix(l, "; file one.txt") && strings.Contains(strings.ToLower(l), "type=file;") && strings.Contains(strings.ToLower(l), "size=5;") {
			sawMLSDFile = true
		}
	}
	if !sawMLSDFile {
		t.Fatalf("MLSD lacks facts for the file: %q", mlsd)
	}
	c.send("MLSD file one.txt")
	c.expect(501)
	c.cmd(550, "LIST nope")
	msg := c.cmd(250, "MLST file one.txt")
	if !strings.Contains(msg, "\n type=file;") || !strings.Contains(msg, "; /file one.txt\n") {
		t.Fatalf("MLST: %q", msg)
	}
	msg = c.cmd(213, "STAT sub")
	if !strings.Contains(msg, "ünï.txt") {
		t.Fatalf("STAT sub: %q", msg)
	}
	if msg = c.cmd(213, "STAT sub/ünï.txt"); !strings.HasPrefix(msg, "Status of /sub/ünï.txt:") {
		t.Fatalf("STAT of a file: %q", msg)
	}
}

func TestLargeDirectoryListing(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ctx := context.Background()
	ts.fs.Mkdir(ctx, "/many")
	for i := range 3000 {
		ts.fs.WriteFile(fmt.Sprintf("/many/f%05d", i), nil)
	}
	c := ts.login(t)
	if got := c.listing("NLST many"); len(got) != 3000 {
		t.Fatalf("NLST returned %d names", len(got))
	}
	if got := c.listing("MLSD many"); len(got) != 3000 {
		t.Fatalf("MLSD returned %d lines", len(got))
	}
}

func TestAnonymousPermissions(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/pub.txt", []byte("public"))
	c := ts.dial(t)
	c.loginAs("ftp", "x@y")
	if got := c.retr("pub.txt"); string(got) != "public" {
		t.Fatalf("anonymous RETR = %q", got)
	}
	c.pasv()
	c.cmd(550, "STOR new.txt")
	c.cmd(550, "DELE pub.txt")
	c.cmd(550, "MKD d")
	c.cmd(550, "RNFR pub.txt")
	c.cmd(550, "MFMT 20200101000000 pub.txt")
	// The upload area takes new files, never changes to existing ones.
	c.stor("STOR", "incoming/up.txt", []byte("up"))
	c.pasv()
	c.cmd(550, "STOR incoming/up.txt")
	c.cmd(550, "DELE incoming/up.txt")
	c.cmd(257, "MKD incoming/sub")
	if got, _ := ts.fs.ReadFile("/incoming/up.txt"); string(got) != "up" {
		t.Fatalf("upload stored %q", got)
	}
}

func TestReadOnlyUser(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.dial(t)
	c.loginAs("bob", "pw")
	c.pasv()
	c.cmd(550, "STOR x")
	c.cmd(550, "MKD x")
}

func TestDataChannelRules(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.login(t)
	ts.fs.WriteFile("/f", []byte("data"))
	c.cmd(425, "RETR f")
	// PORT naming another host, or a privileged port: refused (RFC 2577).
	c.cmd(500, "PORT 127,0,0,2,200,10")
	c.cmd(500, "PORT 127,0,0,1,0,21")
	c.cmd(501, "PORT 1,2,3")
	c.cmd(500, "EPRT |1|127.0.0.2|51000|")
	c.cmd(522, "EPRT |3|127.0.0.1|51000|")
	c.cmd(501, "EPRT garbage")
	c.cmd(522, "EPSV 2")
	c.cmd(229, "EPSV 1")
	c.cmd(200, "EPSV ALL")
	c.cmd(503, "PASV")
	c.cmd(503, "PORT 127,0,0,1,200,10")
	c.cmd(503, "EPRT |1|127.0.0.1|51000|")
	if got := c.retr("f"); string(got) != "data" {
		t.Fatalf("RETR after EPSV ALL = %q", got)
	}
}

func TestActiveMode(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/f", []byte("active data"))
	c := ts.login(t)
	for _, verb := range []string{"PORT", "EPRT"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if verb == "PORT" {
			c.cmd(200, "PORT 127,0,0,1,%d,%d", port>>8, port&0xff)
		} else {
			c.cmd(200, "EPRT |1|127.0.0.1|%d|", port)
		}
		c.cmd(150, "RETR f")
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(conn)
		conn.Close()
		ln.Close()
		c.expect(226)
		if string(got) != "active data" {
			t.Fatalf("%s RETR = %q", verb, got)
		}
	}
}

func TestPASVReplyAndPublicHost(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) {
		s.PublicHost = "127.0.0.9"
		s.PassivePorts = ftpserver.PortRange{Min: 42100, Max: 42110}
	})
	c := ts.login(t)
	ap := c.pasv4()
	if ap.Addr().String() != "127.0.0.9" || ap.Port() < 42100 || ap.Port() > 42110 {
		t.Fatalf("PASV announced %v", ap)
	}
}

func TestPassiveRefusesForeignAddress(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/secret", []byte("not for thieves"))
	c := ts.login(t)
	msg := c.cmd(229, "EPSV")
	port := mustEPSVPort(t, msg)
	// A thief on another address connects first: it must get nothing.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	thief, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2: %v", err)
	}
	defer thief.Close()
	c.cmd(150, "RETR secret")
	thief.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _ := io.ReadAll(thief); len(n) != 0 {
		t.Fatalf("thief received %q", n)
	}
	real, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(real)
	real.Close()
	c.expect(226)
	if string(got) != "not for thieves" {
		t.Fatalf("client got %q", got)
	}
}

func TestDataConnectionTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) { s.DataTimeout = 300 * time.Millisecond })
	ts.fs.WriteFile("/f", []byte("x"))
	c := ts.login(t)
	c.cmd(229, "EPSV")
	c.cmd(150, "RETR f")
	c.expect(425) // nobody connected
	c.cmd(200, "NOOP")
}

// TestPassiveListenerReuse: back-to-back passive transfers reuse the
// listener (one socket instead of one per file), a connection left
// waiting on it is closed rather than served, and any other command in
// between gives the listener up.
func TestPassiveListenerReuse(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/f", []byte("payload"))
	c := ts.login(t)
	first := mustEPSVPort(t, c.cmd(229, "EPSV"))
	data, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", first))
	if err != nil {
		t.Fatal(err)
	}
	c.cmd(150, "RETR f")
	io.ReadAll(data)
	data.Close()
	c.expect(226)

	// A stray connection arrives before the next EPSV.
	stray, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", first))
	if err != nil {
		t.Fatal(err)
	}
	defer stray.Close()
	time.Sleep(50 * time.Millisecond)
	second := mustEPSVPort(t, c.cmd(229, "EPSV"))
	if second != first {
		t.Fatalf("EPSV after a transfer gave port %d, want the reused %d", second, first)
	}
	stray.SetReadDeadline(time.Now().Add(2 * time.Second))
	if b, err := io.ReadAll(stray); len(b) != 0 || err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("stray connection got %q, %v; want it closed", b, err)
	}
	data, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", second))
	if err != nil {
		t.Fatal(err)
	}
	c.cmd(150, "RETR f")
	if got, _ := io.ReadAll(data); string(got) != "payload" {
		t.Fatalf("RETR on the reused listener = %q", got)
	}
	c.expect(226)

	// Another command between transfers releases the listener.
	c.cmd(200, "NOOP")
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", first), time.Second); err == nil {
		t.Fatal("the kept listener outlived the next command")
	}
}
