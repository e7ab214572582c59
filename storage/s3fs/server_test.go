package s3fs

import (
	"context"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// ftpSession is a logged-in raw control connection to a real ftpserver
// serving fsys on 127.0.0.1.
type ftpSession struct {
	t *testing.T
	c *textproto.Conn
}

func serveFTP(t *testing.T, fsys ftpserver.FileSystem) *ftpSession {
	t.Helper()
	srv := &ftpserver.Server{
		Auth: ftpserver.AuthFunc(func(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			return &ftpserver.Account{User: user, FS: fsys, Write: true}, nil
		}),
		LoginFailDelay: -1,
		Logger:         slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := textproto.Dial("tcp", ln.Addr().String())
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
