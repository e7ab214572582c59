package ftpserver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
	"golang.org/x/crypto/bcrypt"
)

var (
	attackerIP = netip.MustParseAddr("127.0.0.1")
	otherIP    = netip.MustParseAddr("127.0.0.2")
)

// dialFrom opens a control connection from a given loopback address.
func dialFrom(t *testing.T, addr string, from netip.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from.AsSlice()}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from %s: %v", from, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// clientFrom is dial, from a given loopback address.
func (ts *testServer) clientFrom(t *testing.T, from netip.Addr) *client {
	t.Helper()
	conn := dialFrom(t, ts.addr, from)
	c := &client{t: t, conn: conn, tp: textproto.NewConn(conn)}
	c.expect(220)
	return c
}

// usersAuth serves the accounts of a users file over memfs, mapping auth's
// sentinel to the server's as internal/config does.
func usersAuth(users *auth.UsersFile, ts func() *testServer) ftpserver.Authenticator {
	return ftpserver.AuthFunc(func(ctx context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
		u, err := users.Verify(ctx, user, pass)
		if errors.Is(err, auth.ErrAuthFailed) {
			return nil, fmt.Errorf("%w: %w", ftpserver.ErrAuthFailed, err)
		}
		if err != nil {
			return nil, err
		}
		return &ftpserver.Account{User: u.Name, FS: ts().fs}, nil
	})
}

// A flood of logins that hang up before their answer, from one address,
// must not make a login from another address wait for the flood's
// password checks. Before checks were bounded and abandoned ones dropped,
// every abandoned check still ran and the real login queued behind them
// all (20 s and more).
func TestLoginFloodDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("right"), 10) // a real cost
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users.toml")
	if err := os.WriteFile(path, fmt.Appendf(nil, "[[user]]\nname = \"carol\"\npassword = %q\nhome = \"/h\"\n", hash), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := auth.LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	// One check's time on this machine now (slow under the race
	// detector), to scale the bound by.
	start := time.Now()
	if _, err := users.Verify(context.Background(), "carol", "wrong"); !errors.Is(err, auth.ErrAuthFailed) {
		t.Fatalf("calibration: %v", err)
	}
	check := time.Since(start)

	var ts *testServer
	ts = startServer(t, func(srv *ftpserver.Server) {
		srv.Auth = usersAuth(users, func() *testServer { return ts })
		srv.LoginFailDelay = 0 // the default, 1 s
		srv.MaxSessionsPerIP = 1000
	})

	stop := make(chan struct{})
	var hangUps atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
				if err != nil {
					continue
				}
				conn.Write([]byte("USER carol\r\nPASS wrong\r\n"))
				select {
				case <-time.After(300 * time.Millisecond): // the attack's pattern
				case <-stop:
				}
				conn.Close()
				hangUps.Add(1)
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	// Let the flood build up: every attacker has hung up four times.
	waitUntil(t, func() string {
		if n := hangUps.Load(); n < 128 {
			return fmt.Sprintf("only %d hang-ups so far", n)
		}
		return ""
	})

	// Generous: a few checks' time; the starved login took tens.
	bound := 5*time.Second + 8*check
	c := ts.clientFrom(t, otherIP)
	start = time.Now()
	c.send("USER carol")
	c.expect(331)
	c.send("PASS right")
	c.conn.SetReadDeadline(time.Now().Add(bound))
	code, msg, err := c.tp.ReadResponse(0)
	if err != nil && code == 0 {
		t.Fatalf("no answer to PASS within %v (one check takes %v): %v", bound, check, err)
	}
	if code != 230 {
		t.Fatalf("PASS from another address: %d %q, want 230", code, msg)
	}
	t.Logf("login during the flood: %v (one check %v, %d hang-ups)", time.Since(start), check, hangUps.Load())
	c.cmd(257, "PWD")
}

// authCounter is an Authenticator that counts calls per address and
// accepts only the password "right".
type authCounter struct {
	ts    func() *testServer
	mu    sync.Mutex
	calls map[netip.Addr]int
}

func (a *authCounter) Authenticate(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
	ip := conn.RemoteAddr.(*net.TCPAddr).AddrPort().Addr().Unmap()
	a.mu.Lock()
	a.calls[ip]++
	a.mu.Unlock()
	if pass != "right" {
		return nil, ftpserver.ErrAuthFailed
	}
	return &ftpserver.Account{User: user, FS: a.ts().fs}, nil
}

func (a *authCounter) count(ip netip.Addr) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[ip]
}

// Each failed login holds one of its address's two check slots for the
// failure delay, even when the client hung up without waiting for the
// 530; a third login from that address waits (and leaves the queue when
// it hangs up), while another address logs in at once.
func TestLoginFailurePenaltyOutlivesHangUp(t *testing.T) {
	t.Parallel()
	var ts *testServer
	counter := &authCounter{ts: func() *testServer { return ts }, calls: map[netip.Addr]int{}}
	ts = startServer(t, func(srv *ftpserver.Server) {
		srv.Auth = counter
		srv.LoginFailDelay = time.Hour // longer than the test: only the bound can free a slot
	})

	for i := range 2 {
		conn := dialFrom(t, ts.addr, attackerIP)
		conn.Write([]byte("USER mallory\r\nPASS wrong\r\n"))
		waitUntil(t, func() string {
			if n := counter.count(attackerIP); n != i+1 {
				return fmt.Sprintf("%d checks from %s, want %d", n, attackerIP, i+1)
			}
			return ""
		})
		conn.Close() // before the 530, an hour away
	}
	running, waiting := ts.srv.LoginQueue(attackerIP)
	if running != 2 || waiting != 0 {
		t.Fatalf("after two failures and hang-ups: %d running, %d waiting; want the 2 slots still held", running, waiting)
	}

	third := dialFrom(t, ts.addr, attackerIP)
	third.Write([]byte("USER mallory\r\nPASS right\r\n"))
	waitUntil(t, func() string {
		if running, waiting := ts.srv.LoginQueue(attackerIP); running != 2 || waiting != 1 {
			return fmt.Sprintf("third login: %d running, %d waiting; want 2, 1", running, waiting)
		}
		return ""
	})

	c := ts.clientFrom(t, otherIP)
	c.loginAs("carol", "right")
	if n := counter.count(attackerIP); n != 2 {
		t.Errorf("%d checks from %s, want 2: the third ran while both slots were held", n, attackerIP)
	}

	third.Close()
	waitUntil(t, func() string {
		if running, waiting := ts.srv.LoginQueue(attackerIP); running != 2 || waiting != 0 {
			return fmt.Sprintf("after the third hung up: %d running, %d waiting; want 2, 0", running, waiting)
		}
		return ""
	})
	if n := counter.count(attackerIP); n != 2 {
		t.Errorf("%d checks from %s after the third left, want 2", n, attackerIP)
	}
}

// gateAuth is an Authenticator whose checks last until the test lets
// them go or the login's context ends; it reports both.
type gateAuth struct {
	ts      func() *testServer
	entered chan struct{}
	release chan struct{}
	ended   chan error // ctx.Err() when the context ended the check, else nil
}

func newGateAuth(ts func() *testServer) *gateAuth {
	return &gateAuth{ts: ts, entered: make(chan struct{}, 1), release: make(chan struct{}), ended: make(chan error, 1)}
}

func (a *gateAuth) Authenticate(ctx context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
	a.entered <- struct{}{}
	select {
	case <-a.release:
		a.ended <- nil
	case <-ctx.Done():
		a.ended <- ctx.Err()
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		a.ended <- errors.New("neither released nor cancelled")
		return nil, ftpserver.ErrAuthFailed
	}
	if pass != "secret" {
		return nil, ftpserver.ErrAuthFailed
	}
	return &ftpserver.Account{User: user, FS: a.ts().fs}, nil
}

// A client that hangs up while its password is checked stops the check:
// the Authenticator's context ends.
func TestLoginCheckCancelledOnHangUp(t *testing.T) {
	t.Parallel()
	var ts *testServer
	gate := newGateAuth(func() *testServer { return ts })
	ts = startServer(t, func(srv *ftpserver.Server) { srv.Auth = gate })
	for _, reset := range []bool{false, true} {
		conn := dialFrom(t, ts.addr, attackerIP).(*net.TCPConn)
		conn.Write([]byte("USER alice\r\nPASS secret\r\n"))
		<-gate.entered
		if reset {
			conn.SetLinger(0)
		}
		conn.Close()
		if err := <-gate.ended; !errors.Is(err, context.Canceled) {
			t.Errorf("check after the client hung up (reset %v): %v, want context.Canceled", reset, err)
		}
	}
}

// A client that sends more commands and half-closes while its PASS is
// checked (as "printf ... | nc -N" may) is not taken for one that hung up:
// its commands are still waiting to be answered.
func TestLoginHalfClosedWithCommandsQueued(t *testing.T) {
	t.Parallel()
	var ts *testServer
	gate := newGateAuth(func() *testServer { return ts })
	ts = startServer(t, func(srv *ftpserver.Server) { srv.Auth = gate })
	for _, pipelined := range []bool{true, false} {
		conn := dialFrom(t, ts.addr, attackerIP).(*net.TCPConn)
		tp := textproto.NewConn(conn)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		rest := "PWD\r\nQUIT\r\n"
		if pipelined { // all in the server's read buffer at once
			conn.Write([]byte("USER alice\r\nPASS secret\r\n" + rest))
			conn.CloseWrite()
			<-gate.entered
		} else { // the rest arrives while PASS is checked
			conn.Write([]byte("USER alice\r\nPASS secret\r\n"))
			<-gate.entered
			conn.Write([]byte(rest))
			conn.CloseWrite()
		}
		// Time for several hang-up polls, in which a wrong rule would
		// end the check.
		select {
		case err := <-gate.ended:
			t.Fatalf("pipelined %v: check ended by %v", pipelined, err)
		case <-time.After(150 * time.Millisecond):
		}
		gate.release <- struct{}{}
		if err := <-gate.ended; err != nil {
			t.Fatalf("pipelined %v: %v", pipelined, err)
		}
		for _, want := range []int{220, 331, 230, 257, 221} {
			code, msg, err := tp.ReadResponse(0)
			if err != nil || code != want {
				t.Fatalf("pipelined %v: got %d %q (%v), want %d", pipelined, code, msg, err, want)
			}
		}
		conn.Close()
	}
}

// A password check that Shutdown ends is answered: 421, not silence.
func TestPassDuringShutdownGets421(t *testing.T) {
	t.Parallel()
	checking := make(chan struct{})
	ts := startServer(t, func(s *ftpserver.Server) {
		s.Auth = ftpserver.AuthFunc(func(ctx context.Context, _ ftpserver.ConnInfo, _, _ string) (*ftpserver.Account, error) {
			close(checking)
			<-ctx.Done()
			return nil, ctx.Err()
		})
	})
	c := ts.dial(t)
	c.cmd(331, "USER alice")
	c.send("PASS secret")
	<-checking
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(ctx) }()
	c.expect(421)
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
