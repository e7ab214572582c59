package s3fs

import (
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/ftptest"
)

// ftpSession is a logged-in raw control connection to a real ftpserver
// serving fsys on 127.0.0.1.
type ftpSession struct {
	t *testing.T
	c *textproto.Conn
}

func serveFTP(t *testing.T, fsys ftpserver.FileSystem) *ftpSession {
	t.Helper()
	addr := ftptest.Serve(t, fsys)
	c, err := textproto.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &ftpSession{t: t, c: c}
	s.expect(220)
	s.cmd(331, "USER u")
	s.cmd(230, "PASS p")
	return s
}

func (s *ftpSession) expect(code int) string {
	s.t.Helper()
	got, msg, err := s.c.ReadResponse(0)
	if err != nil && got == 0 {
		s.t.Fatalf("reading a reply: %v", err)
	}
	if got != code {
		s.t.Errorf("reply %d %q, want %d", got, msg, code)
	}
	return msg
}

// cmd sends a command and checks the code of its reply.
func (s *ftpSession) cmd(code int, line string) string {
	s.t.Helper()
	if err := s.c.PrintfLine("%s", line); err != nil {
		s.t.Fatal(err)
	}
	return s.expect(code)
}

// Names with "." or ".." between backslashes, which MinIO refuses, and
// names longer than S3 keys get 553 (name not allowed) from every
// command, not a 451 local error.
func TestServerBackslashDots(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	tf.seed(t, "dir/", nil, nil)
	s := serveFTP(t, tf.FS)
	long := strings.Repeat("n", 1025) // S3 keys have at most 1,024 bytes
	for _, line := range []string{"SIZE " + long, "MKD " + long, `SIZE dir/a\..\b`, `MDTM ..\x`, `DELE a\.\b`, `MKD dir/..\y`, `RMD x\..`, `RNFR a\..\b`} {
		s.cmd(553, line)
	}
	s.cmd(350, "RNFR dir")
	s.cmd(553, `RNTO x\..\y`)
	if got := tf.keys(t); len(got) != 1 || got[0] != "dir/" {
		t.Errorf("keys = %q, want only dir/", got)
	}
}

// What a client sees of the directory operations: exact replies.
func TestServerDirectories(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{MaxRenameCount: 3})
	for _, k := range []string{"big/1", "big/2", "big/3", "big/4", "f"} {
		tf.seed(t, k, []byte("x"), nil)
	}
	s := serveFTP(t, tf.FS)
	s.cmd(257, "MKD d")
	s.cmd(550, "MKD d")
	s.cmd(550, "MKD f")
	s.cmd(550, "MKD missing/x")
	s.cmd(550, "DELE d")
	s.cmd(550, "RMD big")
	s.cmd(350, "RNFR big")
	if msg := s.cmd(550, "RNTO big2"); msg != "Directory too large to rename here (more than 3 objects)." {
		t.Errorf("RNTO of 4 objects with a limit of 3: %q", msg)
	}
	s.cmd(350, "RNFR f")
	s.cmd(250, "RNTO d/g")
	s.cmd(213, "MFMT 20010203040506 d/g")
	if msg := s.cmd(213, "MDTM d/g"); msg != "20010203040506" {
		t.Errorf("MDTM after MFMT = %q", msg)
	}
	s.cmd(550, "RMD d/g")
	s.cmd(250, "DELE d/g")
	s.cmd(250, "RMD d")
	if got, want := tf.keys(t), []string{"big/1", "big/2", "big/3", "big/4"}; !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

// A listing through a real client: files, directories (with and without
// a marker), times from MFMT, and a file hiding a directory of its name.
func TestServerMLSD(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "home", Options{})
	for _, k := range []string{"home/d/", "home/implicit/x", "home/both", "home/both/x", "home/other/"} {
		tf.seed(t, k, nil, nil)
	}
	tf.seed(t, "home/f", []byte("12345"), map[string]string{mtimeKey: "2001-02-03T04:05:06Z"})
	tf.seed(t, "homestead", []byte("beside"), nil)
	addr := ftptest.Serve(t, tf.FS)
	c, err := ftpclient.Dial(t.Context(), addr, ftpclient.WithLogin("u", "p"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	entries, err := c.List(t.Context(), "/")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ftp.Entry{}
	for _, e := range entries {
		if e.Type == "file" || e.Type == "dir" {
			got[e.Name] = e
		}
	}
	want := map[string]string{"d": "dir", "implicit": "dir", "both": "file", "f": "file", "other": "dir"}
	if len(got) != len(want) {
		t.Errorf("MLSD / = %v, want %v", got, want)
	}
	for name, typ := range want {
		if got[name].Type != typ {
			t.Errorf("%s: type %q, want %q", name, got[name].Type, typ)
		}
	}
	if f := got["f"]; f.Size != 5 || !f.ModTime.Equal(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)) {
		t.Errorf("f: size %d, time %v", f.Size, f.ModTime)
	}
}

// A tree written by another S3 tool has no directory markers; a client
// deletes it file by file, then directory by directory, deepest first
// (lftp rm -r, jlaffaye/ftp RemoveDirRecur). Each directory must still be
// there for its RMD once its last file or subdirectory is gone, and
// moving the last file out keeps its directory too.
func TestServerTreeWithoutMarkers(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	for _, k := range []string{"tree/a/b/f1", "tree/a/f2", "tree/f3", "moves/x/f4"} {
		tf.seed(t, k, []byte("x"), nil)
	}
	s := serveFTP(t, tf.FS)
	s.cmd(250, "DELE tree/a/b/f1")
	s.cmd(250, "DELE tree/a/f2")
	s.cmd(250, "DELE tree/f3")
	s.cmd(250, "RMD tree/a/b")
	s.cmd(250, "RMD tree/a")
	s.cmd(250, "RMD tree")
	s.cmd(350, "RNFR moves/x/f4")
	s.cmd(250, "RNTO f4")
	s.cmd(250, "RMD moves/x")
	s.cmd(250, "RMD moves")
	if got, want := tf.keys(t), []string{"f4"}; !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}
