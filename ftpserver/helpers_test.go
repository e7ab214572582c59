package ftpserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// testServer is a real server on 127.0.0.1:0 over an in-memory tree.
type testServer struct {
	srv  *ftpserver.Server
	fs   *memfs.FS
	addr string
}

// startServer starts a server with users "alice"/"secret" (read-write)
// and "bob"/"pw" (read-only), and anonymous read-only access with an
// upload area "/incoming". mutate adjusts the Server before it starts.
func startServer(t testing.TB, mutate ...func(*ftpserver.Server)) *testServer {
	t.Helper()
	mfs := memfs.New()
	if err := mfs.Mkdir(context.Background(), "/incoming"); err != nil {
		t.Fatal(err)
	}
	srv := &ftpserver.Server{
		LoginFailDelay: -1,
		Logger:         slog.New(slog.DiscardHandler),
		DataTimeout:    5 * time.Second,
		Auth: ftpserver.AuthFunc(func(ctx context.Context, c ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			switch {
			case user == "alice" && pass == "secret":
				return &ftpserver.Account{User: "alice", FS: mfs, Write: true}, nil
			case user == "bob" && pass == "pw":
				return &ftpserver.Account{User: "bob", FS: mfs}, nil
			case strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp"):
				return &ftpserver.Account{User: "anonymous", FS: mfs, UploadDir: "/incoming", Anonymous: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
	}
	for _, m := range mutate {
		m(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ftpserver.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return &testServer{srv: srv, fs: mfs, addr: ln.Addr().String()}
}

// client is a raw control connection that asserts on exact replies.
type client struct {
	t    *testing.T
	conn net.Conn
	tp   *textproto.Conn
}

func (ts *testServer) dial(t *testing.T) *client {
	t.Helper()
	return ts.dialFrom(t, "")
}

// login dials and logs in as alice.
func (ts *testServer) login(t *testing.T) *client {
	t.Helper()
	c := ts.dial(t)
	c.loginAs("alice", "secret")
	return c
}

// loginAs logs in as user with pass.
func (c *client) loginAs(user, pass string) {
	c.t.Helper()
	c.cmd(331, "USER %s", user)
	c.cmd(230, "PASS %s", pass)
}

func (c *client) send(format string, args ...any) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.tp.PrintfLine(format, args...); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// read returns the next reply's code and text.
func (c *client) read() (int, string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	code, msg, err := c.tp.ReadResponse(0)
	if err != nil {
		var te *textproto.Error
		if !errors.As(err, &te) {
			c.t.Fatalf("read reply: %v", err)
		}
	}
	return code, msg
}

// expect reads a reply and fails unless its code is want.
func (c *client) expect(want int) string {
	c.t.Helper()
	code, msg := c.read()
	if code != want {
		c.t.Fatalf("got %d %q, want %d", code, msg, want)
	}
	return msg
}

// cmd sends a command and expects a reply code.
func (c *client) cmd(want int, format string, args ...any) string {
	c.t.Helper()
	c.send(format, args...)
	return c.expect(want)
}

// pasv sends EPSV and dials the data connection.
func (c *client) pasv() net.Conn {
	c.t.Helper()
	msg := c.cmd(229, "EPSV")
	port, err := ftp.ParseEPSVReply(msg)
	if err != nil {
		c.t.Fatalf("EPSV reply %q: %v", msg, err)
	}
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return conn
}

// transfer starts a transfer command (150) over a fresh passive data
// connection and returns that connection.
func (c *client) transfer(format string, args ...any) net.Conn {
	c.t.Helper()
	data := c.pasv()
	c.cmd(150, format, args...)
	return data
}

// pasv4 sends PASV and returns the announced address.
func (c *client) pasv4() netip.AddrPort {
	c.t.Helper()
	msg := c.cmd(227, "PASV")
	ap, err := ftp.ParsePASVReply(msg)
	if err != nil {
		c.t.Fatalf("PASV reply %q: %v", msg, err)
	}
	return ap
}

// retr downloads name over a fresh passive connection.
func (c *client) retr(name string) []byte {
	c.t.Helper()
	data := c.transfer("RETR %s", name)
	b, err := io.ReadAll(data)
	if err != nil {
		c.t.Fatal(err)
	}
	c.expect(226)
	return b
}

// stor uploads content as name over a fresh passive connection.
func (c *client) stor(verb, name string, content []byte) string {
	c.t.Helper()
	data := c.transfer("%s %s", verb, name)
	if _, err := data.Write(content); err != nil {
		c.t.Fatal(err)
	}
	data.Close()
	return c.expect(226)
}

// listing runs a data-connection listing command and returns its lines.
func (c *client) listing(command string) []string {
	c.t.Helper()
	data := c.transfer("%s", command)
	var lines []string
	sc := bufio.NewScanner(data)
	for sc.Scan() {
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
	}
	c.expect(226)
	return lines
}

func mustEPSVPort(t *testing.T, msg string) int {
	t.Helper()
	port, err := ftp.ParseEPSVReply(msg)
	if err != nil {
		t.Fatalf("EPSV reply %q: %v", msg, err)
	}
	return port
}

// waitUntil polls check, which says what is still wrong ("" when nothing
// is), until it is satisfied, and fails with its last word after 5 s.
func waitUntil(t testing.TB, check func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
