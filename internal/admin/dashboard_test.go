package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/admin"
	"github.com/ferry-ftp/ferry/internal/sftptest"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/internal/testwait"
	"github.com/ferry-ftp/ferry/sftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

const (
	// pollEvery is how often the page refreshes (app.js).
	pollEvery = 1500 * time.Millisecond
	dashToken = "dashboard-token-5f1c0a7e"
	bigFile   = "/releases/ferry-1.0.iso"
	bigSize   = 48 << 20
)

// TestDashboard drives the dashboard in a real headless Chromium against a
// real FTP server and admin server, with real FTP clients connected: lftp
// downloading and uploading slowly, and a raw control connection logged in
// anonymously. It signs in with a wrong token and with a stale one (both
// must land on the form with a message), then with the right one; it
// waits for the clients' sessions to appear with their transfers, the
// throughput chart and the usage table, and checks that the chart has a
// pixel per device pixel on a HiDPI screen and that a hidden tab stops
// polling; it disconnects the download through the page (lftp must read
// 421 and fail with a partial file) and cancels, then confirms, the
// disconnection of the idle session (which must read 421 only after the
// confirmation); and it takes the admin server away and back to see the
// error banner come and go. Any exception, console error or
// error the browser logs (a CSP violation, say) fails the test.
//
// With $FERRY_SCREENSHOTS_DIR set it lets the transfers run longer, for a
// fuller throughput curve, and writes the screenshots there as well
// (docs/dashboard.png and docs/dashboard-dark.png come from such a run).
func TestDashboard(t *testing.T) {
	t.Parallel()
	env := startDashEnv(t)
	b := newBrowser(t)
	shots := newScreenshots(t)

	// A stale token in the tab (the server's token changed): the first
	// poll's 401 brings back the form, with a message.
	b.run(t, "open the page with a stale token",
		chromedp.Navigate(env.url),
		chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem("ferry.admin-token", "stale")`),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
	)
	b.waitText(t, "#login-message", "no longer accepted")

	// A wrong token is refused on the form.
	b.run(t, "sign in with a wrong token",
		chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	b.waitText(t, "#login-message", "refused")
	if b.visible(t, "#dashboard") {
		t.Fatal("the dashboard shows after a wrong token")
	}
	if got := b.eval(t, `sessionStorage.getItem("ferry.admin-token")`); got != nil {
		t.Errorf("sessionStorage holds %v after a wrong token, want nothing", got)
	}

	b.run(t, "sign in",
		chromedp.Clear(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), dashToken),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#dashboard")),
	)
	b.waitText(t, "#version", "test-1.2.3")
	if got := b.eval(t, `sessionStorage.getItem("ferry.admin-token")`); got != dashToken {
		t.Errorf("sessionStorage holds %v after signing in, want the token", got)
	}

	// The clients: an idle anonymous session first, then a slow download
	// and a slow upload.
	idle := dialFTP(t, env.ftpAddr)
	idle.login(t, "anonymous", "guest@example.org")
	idle.cmd(t, "CWD /releases", 250)
	work := t.TempDir()
	download := startLftp(t, work, "alice", "secret", env.ftpAddr, "set net:limit-rate 400K:0",
		"get "+bigFile+" -o down.iso")
	if err := os.WriteFile(filepath.Join(work, "backup.tar"), pattern(bigSize), 0o600); err != nil {
		t.Fatal(err)
	}
	startLftp(t, work, "bob", "hunter2", env.ftpAddr, "set net:limit-rate 0:300K", "put backup.tar")

	idleID := env.sessionWhere(t, "the anonymous session", func(s ftpserver.SessionInfo) bool {
		return s.Anonymous && s.User != ""
	})
	downID := env.sessionWhere(t, "lftp's download", func(s ftpserver.SessionInfo) bool {
		return s.Transfer != nil && s.Transfer.Verb == "RETR" && s.Transfer.Bytes > 0
	})
	env.sessionWhere(t, "lftp's upload", func(s ftpserver.SessionInfo) bool {
		return s.Transfer != nil && s.Transfer.Verb == "STOR" && s.Transfer.Bytes > 0
	})

	downRow := fmt.Sprintf(`tr[data-session-id=%q]`, downID)
	idleRow := fmt.Sprintf(`tr[data-session-id=%q]`, idleID)
	b.waitText(t, downRow+" td:nth-child(1)", "alice")
	b.waitText(t, downRow+" .what", "RETR "+bigFile)
	b.waitText(t, downRow+" .amount", "of 48.0 MiB")
	b.waitText(t, idleRow+" td:nth-child(1)", "anonymous")
	b.waitText(t, idleRow+" .idle", "idle")
	b.waitFor(t, "the download's progress bar to move", func() bool {
		v, _ := b.eval(t, `document.querySelector('`+downRow+` progress').value`).(float64)
		return v > 0
	})
	b.waitFor(t, "the download's rate", func() bool {
		return !strings.HasPrefix(b.text(t, downRow+" .rate"), "0 B/s")
	})
	// The chart's legend shows the mean of the last seconds.
	b.waitFor(t, "download and upload throughput", func() bool {
		return !strings.HasPrefix(b.text(t, "#now-download"), "0 B/s") &&
			!strings.HasPrefix(b.text(t, "#now-upload"), "0 B/s")
	})
	b.waitText(t, `#users-body tr[data-user="alice"]`, "connected now")
	b.waitText(t, `#users-body tr[data-user="bob"]`, "connected now")
	if n := b.eval(t, `document.querySelectorAll("#sessions-body tr").length`); n != 3.0 {
		t.Errorf("the sessions table has %v rows, want 3", n)
	}

	if shots.forDocs() {
		// Half a minute more of history makes a curve worth looking at.
		for range 20 {
			b.waitPolls(t, env, 1)
		}
	}
	b.waitPolls(t, env, 1)
	shots.take(t, b, "dashboard.png")
	b.colorScheme(t, "dark")
	b.waitPolls(t, env, 1)
	shots.take(t, b, "dashboard-dark.png")
	b.colorScheme(t, "light")

	// On a HiDPI screen the chart's backing store has a pixel per device
	// pixel, so that its lines and labels are sharp.
	b.run(t, "emulate a HiDPI screen", chromedp.EmulateViewport(1366, 768, chromedp.EmulateScale(2)))
	b.waitFor(t, "the chart drawn for HiDPI", func() bool {
		return b.eval(t, `(() => { const c = document.querySelector("#chart");
			return c.clientWidth > 0 && c.width === 2 * c.clientWidth; })()`) == true
	})
	b.run(t, "back to a plain screen", chromedp.EmulateViewport(1366, 768))

	// A hidden tab stops asking (headless Chromium never hides one, so the
	// page is told it is hidden); it asks again as soon as it is shown.
	for len(env.statsAsked) > 0 { // what the visible page asked so far
		<-env.statsAsked
	}
	b.eval(t, `Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
		document.dispatchEvent(new Event("visibilitychange")); true`)
	// Proving an absence takes a wait: three refresh intervals, in which
	// only a request already under way may land.
	asked := 0
	for quiet := time.After(3 * pollEvery); quiet != nil; {
		select {
		case <-env.statsAsked:
			asked++
		case <-quiet:
			quiet = nil
		}
	}
	if asked > 1 {
		t.Errorf("the hidden page asked for the stats %d times", asked)
	}
	b.eval(t, `delete document.hidden; document.dispatchEvent(new Event("visibilitychange")); true`)
	b.waitPolls(t, env, 0)

	// Disconnect the download: the row goes, and lftp is told 421 and
	// fails short.
	b.run(t, "ask to disconnect the download",
		chromedp.Click(chromedp.CSS(downRow+" button.disconnect")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
	)
	b.waitText(t, "#confirm-text", "RETR "+bigFile)
	b.run(t, "confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	b.waitGone(t, downRow)
	res := download.wait(t)
	if res.err == nil {
		t.Errorf("lftp's download succeeded after the disconnect:\n%s", res.stderr)
	}
	if !strings.Contains(res.stderr, "<--- 421 ") {
		t.Errorf("lftp did not read a 421:\n%s", res.stderr)
	}
	fi, err := os.Stat(filepath.Join(work, "down.iso"))
	if err != nil || fi.Size() == 0 || fi.Size() >= bigSize {
		t.Errorf("lftp's file: %v, %v; want some bytes but fewer than %d", fi, err, bigSize)
	}
	if env.hasSession(downID) {
		t.Errorf("session %s still runs after its disconnect", downID)
	}
	// alice is no longer connected: her usage row says when she was.
	b.waitText(t, `#users-body tr[data-user="alice"] td:last-child`, "just now")
	b.waitText(t, `#users-body tr[data-user="alice"] td:nth-child(4)`, "MiB")

	// Cancelling the confirmation leaves the session alone.
	deletes := env.deletes.Load()
	b.run(t, "ask to disconnect the idle session, then cancel",
		chromedp.Click(chromedp.CSS(idleRow+" button.disconnect")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-cancel")),
		chromedp.WaitNotVisible(chromedp.CSS("#confirm")),
	)
	b.waitPolls(t, env, 1)
	if n := env.deletes.Load(); n != deletes {
		t.Fatalf("cancel sent %d DELETE requests", n-deletes)
	}
	idle.cmd(t, "NOOP", 200)

	b.run(t, "disconnect the idle session",
		chromedp.Click(chromedp.CSS(idleRow+" button.disconnect")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
	)
	b.waitGone(t, idleRow)
	idle.want421(t)

	// The admin server goes away: a banner says so, and goes when the
	// server is back.
	env.stopAdmin(t)
	b.waitText(t, "#banner", "Cannot update")
	shots.take(t, b, "dashboard-offline.png")
	env.startAdmin(t)
	b.run(t, "wait for the banner to go", chromedp.WaitNotVisible(chromedp.CSS("#banner")))

	b.checkConsole(t)
}

// TestDashboardSFTPSession: an SFTP session (pkg/sftp's client, logged
// in as alice) shows in the dashboard beside an FTP one, with its SFTP
// tag where the FTP session has none, and the page's Disconnect ends it:
// the row goes, the server no longer lists it, and the client's SSH
// connection is closed.
func TestDashboardSFTPSession(t *testing.T) {
	t.Parallel()
	env := startDashEnv(t)
	b := newBrowser(t)

	ftpConn := dialFTP(t, env.ftpAddr)
	ftpConn.login(t, "bob", "hunter2")
	client, conn := sftptest.DialPassword(t, env.sftpAddr, "alice", "secret")
	if fi, err := client.Stat(bigFile); err != nil || fi.Size() != bigSize {
		t.Fatalf("SFTP stat %s: %v, %v", bigFile, fi, err)
	}
	var sftpID string
	testwait.For(t, "alice's SFTP session", func() bool {
		for _, s := range env.sftp.Sessions() {
			if s.User == "alice" && s.Protocol == "sftp" {
				sftpID = s.ID
				return true
			}
		}
		return false
	})
	ftpID := env.sessionWhere(t, "bob's FTP session", func(s ftpserver.SessionInfo) bool { return s.User == "bob" })

	b.run(t, "sign in",
		chromedp.Navigate(env.url),
		chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem("ferry.admin-token", "`+dashToken+`")`),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#dashboard")),
	)
	sftpRow := fmt.Sprintf(`tr[data-session-id=%q]`, sftpID)
	ftpRow := fmt.Sprintf(`tr[data-session-id=%q]`, ftpID)
	b.waitText(t, sftpRow+" td:nth-child(1)", "alice")
	b.waitText(t, ftpRow+" td:nth-child(1)", "bob")
	if got := b.text(t, sftpRow+" td:nth-child(1) .tag"); got != "SFTP" {
		t.Errorf("the SFTP session's tag is %q, want SFTP", got)
	}
	if n := b.eval(t, `document.querySelectorAll('`+ftpRow+` .tag').length`); n != 0.0 {
		t.Errorf("the plain FTP session has %v tags, want none", n)
	}

	b.run(t, "disconnect the SFTP session",
		chromedp.Click(chromedp.CSS(sftpRow+" button.disconnect")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
	)
	b.waitGone(t, sftpRow)
	closed := make(chan error, 1)
	go func() { closed <- conn.Wait() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the SFTP client's connection is still open after Disconnect")
	}
	if _, err := client.Stat(bigFile); err == nil {
		t.Error("the SFTP client still works after Disconnect")
	}
	for _, s := range env.sftp.Sessions() {
		if s.ID == sftpID {
			t.Errorf("session %s still runs after its disconnect", sftpID)
		}
	}
	// The FTP session is untouched.
	ftpConn.cmd(t, "NOOP", 200)
	b.checkConsole(t)
}

// --- the servers -------------------------------------------------------------

type dashEnv struct {
	srv     *ftpserver.Server
	ftpAddr string
	// sftp serves the same accounts and storage over SFTP, as ferry
	// serve runs it beside the FTP server.
	sftp     *sftpserver.Server
	sftpAddr string
	handler  http.Handler
	adminLn  string // host:port of the admin server, kept across restarts
	url      string

	mu    sync.Mutex
	admin *admin.Server

	// Requests the page made, counted by kind.
	statsGets atomic.Int64
	deletes   atomic.Int64
	// statsAsked gets a value (never blocking) at each stats request.
	statsAsked chan struct{}
}

func startDashEnv(t *testing.T) *dashEnv {
	t.Helper()
	fsys := memfs.New()
	if err := fsys.WriteFile(bigFile, pattern(bigSize)); err != nil {
		t.Fatal(err)
	}
	auth := ftpserver.AuthFunc(func(_ context.Context, _ ftpserver.ConnInfo, name, pass string) (*ftpserver.Account, error) {
		switch {
		case name == "alice" && pass == "secret":
			return &ftpserver.Account{User: "alice", FS: fsys, Write: true}, nil
		case name == "bob" && pass == "hunter2":
			return &ftpserver.Account{User: "bob", FS: fsys, Write: true}, nil
		case name == "anonymous":
			return &ftpserver.Account{User: "anonymous", FS: fsys, Anonymous: true}, nil
		}
		return nil, ftpserver.ErrAuthFailed
	})
	srv := &ftpserver.Server{
		Auth:           auth,
		DataTimeout:    20 * time.Second,
		LoginFailDelay: 10 * time.Millisecond,
		Logger:         slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithCancel(context.Background())
	stats := admin.NewStats(ctx, srv)
	srv.Observer = stats
	env := &dashEnv{srv: srv, statsAsked: make(chan struct{}, 64)}
	env.startSFTP(t, auth, stats)
	env.handler = env.count(admin.Handler(admin.Options{
		Server:    srv,
		Sessions:  []admin.SessionSource{srv, env.sftp},
		Token:     dashToken,
		Stats:     stats,
		Version:   "test-1.2.3",
		FailDelay: -1,
	}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	env.ftpAddr = ln.Addr().String()
	t.Cleanup(func() {
		ctx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelShutdown()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("FTP server Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ftpserver.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		stats.Close()
		cancel()
	})

	env.adminLn = "127.0.0.1:0"
	env.startAdmin(t)
	env.url = "http://" + env.adminLn + "/"
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the page sent %d DELETE requests and %d for the stats", env.deletes.Load(), env.statsGets.Load())
			env.logAPI(t, "/api/v1/sessions")
			env.logAPI(t, "/api/v1/stats")
		}
		env.stopAdmin(t)
	})
	return env
}

// startSFTP runs env.sftp until the test ends.
func (env *dashEnv) startSFTP(t *testing.T, auth ftpserver.Authenticator, stats *admin.Stats) {
	t.Helper()
	key, _, err := sftpserver.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	env.sftp = &sftpserver.Server{
		Auth:           auth,
		HostKeys:       []ssh.Signer{key},
		LoginFailDelay: -1,
		Observer:       stats,
		Logger:         slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.sftpAddr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- env.sftp.Serve(ln) }()
	t.Cleanup(func() {
		env.sftp.Close()
		if err := <-served; !errors.Is(err, sftpserver.ErrServerClosed) {
			t.Errorf("SFTP Serve returned %v, want ErrServerClosed", err)
		}
	})
}

// count notes the API requests the page makes, so that the test can wait
// for the page's next refresh instead of sleeping.
func (env *dashEnv) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/stats":
			defer env.statsGets.Add(1)
			select {
			case env.statsAsked <- struct{}{}:
			default:
			}
		case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/v1/sessions/"):
			env.deletes.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// logAPI logs what the API answers at path, to tell a fault of the page
// from one of the server.
func (env *dashEnv) logAPI(t *testing.T, path string) {
	req, err := http.NewRequest(http.MethodGet, env.url+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+dashToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Logf("GET %s: %v", path, err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	t.Logf("GET %s: %s\n%s", path, resp.Status, body)
}

// startAdmin starts the admin server, on the port it had before when it
// is restarted, so that the open page finds it again.
func (env *dashEnv) startAdmin(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	testwait.For(t, "the admin port", func() bool {
		ln, err = net.Listen("tcp", env.adminLn)
		return err == nil
	})
	env.adminLn = ln.Addr().String()
	env.mu.Lock()
	env.admin = admin.Serve(ln, env.handler, nil)
	env.mu.Unlock()
}

func (env *dashEnv) stopAdmin(t *testing.T) {
	t.Helper()
	env.mu.Lock()
	a := env.admin
	env.admin = nil
	env.mu.Unlock()
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("admin Shutdown: %v", err)
	}
}

// sessionWhere waits for a session that match accepts and returns its id.
func (env *dashEnv) sessionWhere(t *testing.T, what string, match func(ftpserver.SessionInfo) bool) string {
	t.Helper()
	var id string
	testwait.For(t, what, func() bool {
		for _, s := range env.srv.Sessions() {
			if match(s) {
				id = s.ID
				return true
			}
		}
		return false
	})
	return id
}

func (env *dashEnv) hasSession(id string) bool {
	for _, s := range env.srv.Sessions() {
		if s.ID == id {
			return true
		}
	}
	return false
}

// pattern is n bytes that are not all alike, so that a short or shifted
// copy would show.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}

// --- FTP clients ---------------------------------------------------------------

type ftpConn struct {
	conn net.Conn
	tp   *textproto.Conn
}

func dialFTP(t *testing.T, addr string) *ftpConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &ftpConn{conn: conn, tp: textproto.NewConn(conn)}
	c.read(t, 220)
	return c
}

func (c *ftpConn) read(t *testing.T, want int) string {
	t.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(testwait.Timeout)); err != nil {
		t.Fatal(err)
	}
	code, msg, err := c.tp.ReadResponse(want)
	if err != nil {
		t.Fatalf("reading a %d reply: %d %q: %v", want, code, msg, err)
	}
	return msg
}

func (c *ftpConn) cmd(t *testing.T, line string, want int) {
	t.Helper()
	if err := c.tp.PrintfLine("%s", line); err != nil {
		t.Fatalf("sending %q: %v", line, err)
	}
	c.read(t, want)
}

func (c *ftpConn) login(t *testing.T, user, pass string) {
	t.Helper()
	c.cmd(t, "USER "+user, 331)
	c.cmd(t, "PASS "+pass, 230)
}

// want421 reads the 421 of a disconnect, then the end of the connection.
func (c *ftpConn) want421(t *testing.T) {
	t.Helper()
	c.read(t, 421)
	if line, err := c.tp.ReadLine(); err == nil {
		t.Errorf("read %q after the 421, want the connection closed", line)
	}
}

type clientProc struct {
	done chan clientResult
}

type clientResult struct {
	err    error
	stderr string
}

// startLftp runs lftp in dir in the background, logged in as user, with
// its dialogue with the server on stderr (-d); it is killed when the test
// ends. A socket buffer of 32 KiB and lftp's own rate limit (a token
// bucket, unlike curl's, which averages over the whole transfer and so
// lets the kernel's buffers fill at full speed first) make the transfer
// move steadily.
func startLftp(t *testing.T, dir, user, pass, addr string, commands ...string) *clientProc {
	t.Helper()
	bin := testtool.Need(t, "lftp")
	script := strings.Join(append([]string{
		"set cmd:fail-exit yes",
		"set net:max-retries 1", // one try: a disconnect ends it
		"set net:timeout 20",
		"set net:socket-buffer 32768",
		// The rate limits of the tests are of file bytes; in MODE Z,
		// lftp's default with ferry, they would count compressed ones.
		"set ftp:use-mode-z false",
		"set ftp:passive-mode on",
		"set xfer:clobber on",
		"open -u " + user + "," + pass + " ftp://" + addr,
	}, commands...), "; ")
	p := &clientProc{done: make(chan clientResult, 1)}
	var stderr lockedBuffer
	cmd := exec.Command(bin, "-d", "-c", script)
	cmd.Dir = dir
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		p.done <- clientResult{err: err, stderr: stderr.String()}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *clientProc) wait(t *testing.T) clientResult {
	t.Helper()
	select {
	case res := <-p.done:
		p.done <- res // for the cleanup
		return res
	case <-time.After(testwait.Timeout):
		t.Fatal("the client did not end")
		return clientResult{}
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// --- the browser -----------------------------------------------------------------

// chromium finds the browser: $FERRY_CHROMIUM, else chromium on PATH.
// Without one the test is skipped on a developer machine and fails in CI,
// where scripts/test installs it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FERRY_CHROMIUM"); p != "" {
		return p
	}
	return testtool.NeedAny(t, "chromium", "chromium-browser", "google-chrome")
}

type browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string
	output   lockedBuffer // chromium's stdout and stderr
}

// newBrowser starts a headless Chromium with a 1366x768 viewport and a
// profile of its own, and collects what goes wrong in its page.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	b := &browser{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
		chromedp.CombinedOutput(&b.output),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium's output:\n%s", b.output.String())
		}
	})
	b.ctx = ctx
	// The first Do starts the browser and the tab, which live as long as
	// the context it gets: b.ctx, not the shorter one of each step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b.run(t, "set the viewport", chromedp.EmulateViewport(1366, 768))
	return b
}

// listen collects what goes wrong in the page. It runs on the tab's
// event loop: it must be quick and run no command.
func (b *browser) listen(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		problem = fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, d.Text)
		if d.Exception != nil {
			problem += " " + d.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			problem = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		}
	case *cdplog.EventEntryAdded:
		// "network" entries are the failed requests the test
		// causes on purpose (401s, the admin server stopped);
		// others, such as CSP violations, are defects.
		if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
			problem = fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
	if problem != "" {
		b.mu.Lock()
		b.problems = append(b.problems, problem)
		b.mu.Unlock()
	}
}

func (b *browser) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, testwait.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.checkConsole(t)
		t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) runValue(a chromedp.Action[any]) (any, error) {
	ctx, cancel := context.WithTimeout(b.ctx, testwait.Timeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// colorScheme makes the page see prefers-color-scheme as scheme.
func (b *browser) colorScheme(t *testing.T, scheme string) {
	t.Helper()
	_, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		t.Fatalf("emulating prefers-color-scheme: %s: %v", scheme, err)
	}
}

func (b *browser) eval(t *testing.T, js string) any {
	t.Helper()
	v, err := b.runValue(chromedp.Evaluate[any](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.checkConsole(t)
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// text is the text of the element sel, "" when there is none.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	s, _ := b.eval(t, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)).(string)
	return s
}

func (b *browser) visible(t *testing.T, sel string) bool {
	t.Helper()
	v, _ := b.eval(t, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.checkVisibility(); })()`, sel)).(bool)
	return v
}

func (b *browser) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, cond)
}

// waitText waits until the element sel contains want.
func (b *browser) waitText(t *testing.T, sel, want string) {
	t.Helper()
	var last string
	ok := testwait.Poll(func() bool {
		last = b.text(t, sel)
		return strings.Contains(last, want)
	})
	if !ok {
		b.checkConsole(t)
		t.Fatalf("%s shows %q, want it to contain %q", sel, last, want)
	}
}

// waitGone waits until no element matches sel.
func (b *browser) waitGone(t *testing.T, sel string) {
	t.Helper()
	b.waitFor(t, sel+" to go", func() bool {
		return b.eval(t, fmt.Sprintf(`document.querySelector(%q) === null`, sel)) == true
	})
}

// waitPolls waits until the page has fetched the stats n more times, so
// that what it shows reflects the state of the server from now on.
func (b *browser) waitPolls(t *testing.T, env *dashEnv, n int64) {
	t.Helper()
	// The poll in flight now may have read the old state: wait one more.
	target := env.statsGets.Load() + n + 1
	testwait.For(t, "the page to refresh", func() bool { return env.statsGets.Load() >= target })
	// Its answer has arrived when the browser has run the callbacks.
	b.eval(t, `new Promise(r => requestAnimationFrame(() => r(true)))`)
}

func (b *browser) checkConsole(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("in the page: %s", p)
	}
	b.problems = nil
}

// --- screenshots ---------------------------------------------------------------

type screenshots struct {
	dirs []string
}

// newScreenshots saves into a temporary directory, and into
// $FERRY_SCREENSHOTS_DIR when it is set.
func newScreenshots(t *testing.T) *screenshots {
	s := &screenshots{dirs: []string{t.TempDir()}}
	if d := os.Getenv("FERRY_SCREENSHOTS_DIR"); d != "" {
		s.dirs = append(s.dirs, d)
	}
	return s
}

func (s *screenshots) forDocs() bool { return len(s.dirs) > 1 }

func (s *screenshots) take(t *testing.T, b *browser, name string) {
	t.Helper()
	// The pointer, left where the last click was, would highlight a row.
	_, err := chromedp.Call(b.ctx, input.DispatchMouseEvent, input.DispatchMouseEventParams{
		Type: input.DispatchMouseEventTypeMouseMoved, X: 1, Y: 1,
	})
	if err != nil {
		t.Fatalf("moving the pointer away: %v", err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, dir := range s.dirs {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}
