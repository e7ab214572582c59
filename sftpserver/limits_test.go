package sftpserver_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/internal/testwait"
	"github.com/ferry-ftp/ferry/sftpserver"
)

// limitedAuth gives every account of testAuth a MaxSessions of one.
type limitedAuth struct{ *testAuth }

func (a limitedAuth) Authenticate(ctx context.Context, c ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
	acct, err := a.testAuth.Authenticate(ctx, c, user, pass)
	if acct != nil {
		acct.MaxSessions = 1
	}
	return acct, err
}

func (a limitedAuth) AuthenticatePublicKey(ctx context.Context, c ftpserver.ConnInfo, user string, key []byte) (*ftpserver.Account, error) {
	acct, err := a.testAuth.AuthenticatePublicKey(ctx, c, user, key)
	if acct != nil {
		acct.MaxSessions = 1
	}
	return acct, err
}

// ftpBeside runs an FTP server on f's accounts (with MaxSessions 1) and
// a counter shared with f's server, which configure set up; it returns
// the FTP address.
func ftpBeside(t *testing.T, f *fixture, counter *ftpserver.SessionCounter, configure func(*ftpserver.Server)) string {
	t.Helper()
	srv := &ftpserver.Server{
		Auth:           limitedAuth{f.auth},
		Counter:        counter,
		LoginFailDelay: -1,
		Logger:         slog.New(slog.DiscardHandler),
	}
	if configure != nil {
		configure(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return ln.Addr().String()
}

// ftpConn is a raw FTP control connection.
type ftpConn struct {
	nc net.Conn
	tp *textproto.Conn
}

func dialFTP(t *testing.T, addr string) *ftpConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return &ftpConn{nc: nc, tp: textproto.NewConn(nc)}
}

// reply reads a reply and returns its code and text.
func (c *ftpConn) reply(t *testing.T) (int, string) {
	t.Helper()
	code, msg, err := c.tp.ReadResponse(0)
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code, te.Msg
	}
	if err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	return code, msg
}

func (c *ftpConn) cmd(t *testing.T, line string) (int, string) {
	t.Helper()
	if err := c.tp.PrintfLine("%s", line); err != nil {
		t.Fatal(err)
	}
	return c.reply(t)
}

// ftpLogin connects and logs in as alice, returning the PASS reply.
func ftpLogin(t *testing.T, addr string) (*ftpConn, int, string) {
	t.Helper()
	c := dialFTP(t, addr)
	if code, msg := c.reply(t); code != 220 {
		t.Fatalf("greeting %d %s", code, msg)
	}
	if code, msg := c.cmd(t, "USER alice"); code != 331 {
		t.Fatalf("USER: %d %s", code, msg)
	}
	code, msg := c.cmd(t, "PASS "+password)
	return c, code, msg
}

// sshLogin logs in as alice by password with x/crypto/ssh's client and
// returns the connection (nil when refused), the banners the server
// sent and the error.
func sshLogin(t *testing.T, addr string) (*ssh.Client, string, error) {
	t.Helper()
	var mu sync.Mutex
	var banners strings.Builder
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
		BannerCallback: func(msg string) error {
			mu.Lock()
			banners.WriteString(msg)
			mu.Unlock()
			return nil
		},
	})
	if client != nil {
		t.Cleanup(func() { client.Close() })
	}
	mu.Lock()
	defer mu.Unlock()
	return client, banners.String(), err
}

// startLimited runs an SFTP and an FTP server on the same accounts, each
// with MaxSessions 1, counted by one counter.
func startLimited(t *testing.T) (*fixture, string, *ftpserver.SessionCounter) {
	t.Helper()
	counter := &ftpserver.SessionCounter{}
	f := start(t, func(srv *sftpserver.Server) {
		srv.Counter = counter
		srv.Auth = limitedAuth{srv.Auth.(*testAuth)}
	})
	return f, ftpBeside(t, f, counter, nil), counter
}

// TestAccountSessionLimitAcrossProtocols: an account with MaxSessions 1
// logged in over FTP is refused over SFTP, with a banner saying why
// (OpenSSH prints it), and once that session ends SFTP may log in; an
// account logged in over SFTP is refused a second session over FTP with
// 530 saying why.
func TestAccountSessionLimitAcrossProtocols(t *testing.T) {
	t.Parallel()
	f, ftpAddr, _ := startLimited(t)

	ftpc, code, msg := ftpLogin(t, ftpAddr)
	if code != 230 {
		t.Fatalf("first FTP login: %d %s", code, msg)
	}
	client, banner, err := sshLogin(t, f.addr)
	if err == nil || client != nil {
		t.Fatal("SFTP login of an account at its session limit (held by FTP) succeeded")
	}
	if !strings.Contains(banner, "Too many sessions for this account") {
		t.Errorf("SFTP refusal banner = %q, want it to say the account has too many sessions", banner)
	}

	if code, msg := ftpc.cmd(t, "QUIT"); code != 221 {
		t.Fatalf("QUIT: %d %s", code, msg)
	}
	// The FTP session ends on the server's time: poll for the SFTP login.
	sftpClient := sftpUntilIn(t, f.addr)
	c, code, msg := ftpLogin(t, ftpAddr)
	c.nc.Close()
	if code != 530 || !strings.Contains(msg, "Too many sessions for this account") {
		t.Errorf("FTP login while SFTP holds the account's one session: %d %s; want 530 saying why", code, msg)
	}
	sftpClient.Close()
	testwait.For(t, "an FTP login once the SFTP session ended", func() bool {
		c, code, _ := ftpLogin(t, ftpAddr)
		c.nc.Close()
		return code == 230
	})
}

// sftpUntilIn polls until alice logs in over SFTP and her SFTP session
// is served (so the server has counted it), and returns the connection.
func sftpUntilIn(t *testing.T, addr string) *ssh.Client {
	t.Helper()
	var client *ssh.Client
	testwait.For(t, "an SFTP login", func() bool {
		c, _, err := sshLogin(t, addr)
		if err != nil {
			return false
		}
		sc, err := sftp.NewClient(c)
		if err != nil {
			c.Close()
			return false
		}
		if _, err := sc.Getwd(); err != nil {
			t.Fatalf("SFTP session: %v", err)
		}
		client = c
		return true
	})
	return client
}

// TestConnectionLimitsAcrossProtocols: with a per-address limit of one,
// or a server-wide limit of one, a connection over FTP keeps SFTP
// connections out, which are told why in a line before SSH's version
// (RFC 4253 section 4.2) and closed; one over SFTP keeps FTP ones out
// with 421 saying why.
func TestConnectionLimitsAcrossProtocols(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		maxAll     int
		maxPerAddr int
		want       string
	}{
		{"per address", 0, 1, "Too many connections from your address."},
		{"server-wide", 1, -1, "Too many users, please try again later."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			counter := &ftpserver.SessionCounter{}
			f := start(t, func(srv *sftpserver.Server) {
				srv.Counter = counter
				srv.MaxSessions, srv.MaxSessionsPerIP = tc.maxAll, tc.maxPerAddr
			})
			ftpAddr := ftpBeside(t, f, counter, func(srv *ftpserver.Server) {
				srv.MaxSessions, srv.MaxSessionsPerIP = tc.maxAll, tc.maxPerAddr
			})

			ftpc := dialFTP(t, ftpAddr)
			if code, msg := ftpc.reply(t); code != 220 {
				t.Fatalf("greeting %d %s", code, msg)
			}
			// The SFTP refusal: its line, then EOF, and no SSH version.
			nc, err := net.DialTimeout("tcp", f.addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			nc.SetDeadline(time.Now().Add(30 * time.Second))
			got, err := io.ReadAll(nc)
			nc.Close()
			if err != nil || string(got) != "ferry: "+tc.want+"\r\n" {
				t.Errorf("SFTP connection while FTP holds the limit: read %q, %v; want the reason, then EOF", got, err)
			}
			if _, _, err := sshLogin(t, f.addr); err == nil {
				t.Error("SFTP login succeeded while FTP holds the limit")
			}

			ftpc.cmd(t, "QUIT")
			client := sftpUntilIn(t, f.addr)
			c := dialFTP(t, ftpAddr)
			line, err := bufio.NewReader(c.nc).ReadString('\n')
			if want := "421 " + tc.want + "\r\n"; line != want || err != nil {
				t.Errorf("FTP connection while SFTP holds the limit: %q, %v; want %q", line, err, want)
			}
			client.Close()
		})
	}
}

// TestSessionLimitsToldToOpenSSH: OpenSSH's sftp shows why it was
// refused: the account limit's banner at its default log level, the
// per-address refusal's line with -v (OpenSSH logs lines before the
// version as debug).
func TestSessionLimitsToldToOpenSSH(t *testing.T) {
	t.Parallel()
	f, ftpAddr, counter := startLimited(t)
	if _, code, msg := ftpLogin(t, ftpAddr); code != 230 {
		t.Fatalf("FTP login: %d %s", code, msg)
	}
	sftpPath, sshpass := testtool.Need(t, "sftp"), testtool.Need(t, "sshpass")
	argv := func(port string, more ...string) []string {
		return append([]string{sshpass, "-e", sftpPath, "-F", "/dev/null",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "BatchMode=no", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
			"-P", port}, append(more, "-b", "-", "alice@127.0.0.1")...)
	}
	r := f.run(t, t.TempDir(), password, "ls\n", argv(f.port))
	if r.code == 0 || !strings.Contains(r.out, "Too many sessions for this account; try again later.") {
		t.Errorf("sftp as an account at its limit: %v\nwant a failure showing the reason", r)
	}

	perAddr := start(t, func(srv *sftpserver.Server) {
		srv.Counter = counter // holding the FTP session
		srv.MaxSessionsPerIP = 1
	})
	r = perAddr.run(t, t.TempDir(), password, "ls\n", argv(perAddr.port, "-v"))
	if r.code == 0 || !strings.Contains(r.out, "ferry: Too many connections from your address.") ||
		!strings.Contains(r.out, "Connection closed by remote host") {
		t.Errorf("sftp -v from an address at its limit: %v\nwant the reason and a clean close", r)
	}
}

// TestSessionShowsCommand: Sessions shows an SFTP session's request
// being served or last served, with the paths it names, as an FTP
// session's command.
func TestSessionShowsCommand(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t, "alice", ssh.Password(password))
	for _, step := range []struct {
		do   func() error
		want string
	}{
		{func() error { return c.Mkdir("/d") }, "MKDIR /d"},
		{func() error { return c.Rename("/d", "/e") }, "RENAME /d /e"},
		{func() error { _, err := c.Stat("/e"); return err }, "STAT /e"},
		{func() error { _, err := c.ReadDir("/"); return err }, "LIST /"},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.want, err)
		}
		infos := f.srv.Sessions()
		if len(infos) != 1 || infos[0].Command != step.want || infos[0].CommandAt.IsZero() {
			t.Errorf("after %s, Sessions: %+v", step.want, infos)
		}
	}
}
