package ftpserver_test

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestTypeE transfers text in TYPE E both ways and compares the wire bytes
// with ones read off the code page 037 chart by hand.
func TestTypeE(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	if err := ts.fs.WriteFile("/hello.txt", []byte("HELLO, World!\nline 2\n")); err != nil {
		t.Fatal(err)
	}
	c := ts.login(t)
	if msg := c.cmd(200, "TYPE E"); msg != "Switching to EBCDIC mode." {
		t.Errorf("TYPE E: %q", msg)
	}
	c.cmd(200, "TYPE E N")
	c.cmd(504, "TYPE E T")
	c.cmd(504, "TYPE E C")
	c.cmd(504, "TYPE A T")

	// H E L L O , sp W o r l d ! NL l i n e sp 2 NL
	want := []byte{0xC8, 0xC5, 0xD3, 0xD3, 0xD6, 0x6B, 0x40, 0xE6, 0x96, 0x99, 0x93, 0x84, 0x5A, 0x15,
		0x93, 0x89, 0x95, 0x85, 0x40, 0xF2, 0x15}
	data := c.pasv()
	if msg := c.cmd(150, "RETR hello.txt"); !strings.Contains(msg, "EBCDIC mode") {
		t.Errorf("150 reply %q does not name EBCDIC", msg)
	}
	got, err := io.ReadAll(data)
	if err != nil {
		t.Fatal(err)
	}
	c.expect(226)
	if !bytes.Equal(got, want) {
		t.Fatalf("RETR in TYPE E = % x, want % x", got, want)
	}

	// SIZE is the size on disk, as in TYPE A (see cmdSIZE); here it is
	// also the number of bytes RETR sends, the mapping being one to one.
	if msg := c.cmd(213, "SIZE hello.txt"); msg != "21" {
		t.Errorf("SIZE in TYPE E = %s, want 21", msg)
	}
	// REST counts file bytes, as in TYPE A.
	c.cmd(350, "REST 14")
	if got := c.retr("hello.txt"); !bytes.Equal(got, want[14:]) {
		t.Errorf("RETR after REST 14 = % x, want % x", got, want[14:])
	}

	// Upload: NL and the EBCDIC pair CR LF are both line ends; a lone CR
	// stays a CR.
	c.stor("STOR", "up.txt", []byte{0xE3, 0x85, 0xA7, 0xA3, 0x15, 0x81, 0x0D, 0x25, 0x82, 0x0D, 0x83, 0x4B})
	if stored, _ := ts.fs.ReadFile("/up.txt"); string(stored) != "Text\na\nb\rc." {
		t.Errorf("STOR in TYPE E stored %q", stored)
	}
	// A CR at the very end is kept.
	c.stor("STOR", "cr.txt", []byte{0x81, 0x0D})
	if stored, _ := ts.fs.ReadFile("/cr.txt"); string(stored) != "a\r" {
		t.Errorf("STOR ending in CR stored %q", stored)
	}
	c.stor("APPE", "cr.txt", []byte{0x25, 0x82})
	if stored, _ := ts.fs.ReadFile("/cr.txt"); string(stored) != "a\r\x85b" {
		t.Errorf("APPE stored %q", stored)
	}

	// Listings go in EBCDIC too (RFC 959 LIST/NLST), lines ending in NL.
	if err := ts.fs.Mkdir(t.Context(), "/d"); err != nil {
		t.Fatal(err)
	}
	if err := ts.fs.WriteFile("/d/AB", nil); err != nil {
		t.Fatal(err)
	}
	data = c.pasv()
	c.cmd(150, "NLST d")
	got, err = io.ReadAll(data)
	if err != nil {
		t.Fatal(err)
	}
	c.expect(226)
	if want := []byte{0xC1, 0xC2, 0x15}; !bytes.Equal(got, want) { // A B NL
		t.Errorf("NLST in TYPE E = % x, want % x", got, want)
	}

	stat := c.cmd(211, "STAT")
	if !strings.Contains(stat, "TYPE: EBCDIC") {
		t.Errorf("STAT does not show TYPE E: %q", stat)
	}
	c.cmd(200, "TYPE I")
	if got := c.retr("hello.txt"); string(got) != "HELLO, World!\nline 2\n" {
		t.Errorf("RETR in TYPE I after TYPE E = %q", got)
	}
	c.cmd(200, "TYPE E")
	c.cmd(220, "REIN")
	c.loginAs("alice", "secret")
	if got := c.retr("hello.txt"); string(got) != "HELLO, World!\nline 2\n" {
		t.Errorf("REIN kept TYPE E: RETR = %q", got)
	}
}

// TestTypeEPythonOracle checks a round trip of Latin-1 text against
// Python's 'cp037' codec, line by line (Python's codec maps LF to EBCDIC
// LF; FTP's TYPE E line end is NL).
func TestTypeEPythonOracle(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	var text []byte
	for b := 0x20; b < 0x100; b++ {
		if b == 0x7F || b >= 0x80 && b < 0xA0 {
			continue
		}
		text = append(text, byte(b))
		if b%16 == 15 {
			text = append(text, '\n')
		}
	}
	// Latin-1, written as escapes: "Grüße aus Zürich", "¬", "¡¿ÆØÅæøå".
	latin1 := append(text, "\tGr\xfc\xdfe aus Z\xfcrich: 100% {ok} [x] ~^\xac|\\\n\xa1\xbf\xc6\xd8\xc5\xe6\xf8\xe5\n"...)
	encode := `import sys
lines = sys.stdin.buffer.read().decode("latin-1").split("\n")
sys.stdout.buffer.write(b"\x15".join(l.encode("cp037") for l in lines))`
	cmd := exec.Command(python, "-c", encode)
	cmd.Stdin = bytes.NewReader(latin1)
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}

	ts := startServer(t)
	if err := ts.fs.WriteFile("/latin1.txt", latin1); err != nil {
		t.Fatal(err)
	}
	c := ts.login(t)
	c.cmd(200, "TYPE E")
	got := c.retr("latin1.txt")
	if !bytes.Equal(got, want) {
		t.Fatalf("RETR in TYPE E differs from Python's cp037:\n got % x\nwant % x", got, want)
	}
	c.stor("STOR", "back.txt", want)
	if back, _ := ts.fs.ReadFile("/back.txt"); !bytes.Equal(back, latin1) {
		t.Fatalf("STOR of Python's cp037 stored %q, want %q", back, latin1)
	}
}

// TestTypeEWithModeZ: the type applies next to the file, the mode next to
// the connection, so MODE Z compresses the EBCDIC bytes.
func TestTypeEWithModeZ(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	if err := ts.fs.WriteFile("/ab.txt", []byte("AB\nab\n")); err != nil {
		t.Fatal(err)
	}
	c := ts.login(t)
	c.cmd(200, "TYPE E")
	c.cmd(200, "MODE Z")
	if got, want := inflate(t, c.retr("ab.txt")), []byte{0xC1, 0xC2, 0x15, 0x81, 0x82, 0x15}; !bytes.Equal(got, want) {
		t.Errorf("RETR in TYPE E, MODE Z: % x, want % x", got, want)
	}
	c.stor("STOR", "up.txt", zlibBytes(t, []byte{0xC3, 0x0D, 0x25, 0x83, 0x15}, 6))
	if stored, _ := ts.fs.ReadFile("/up.txt"); string(stored) != "C\nc\n" {
		t.Errorf("STOR in TYPE E, MODE Z stored %q", stored)
	}
}
