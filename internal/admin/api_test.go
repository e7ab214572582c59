package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

func TestAPIRefusesMissingAndWrongTokens(t *testing.T) {
	t.Parallel()
	e := startEnv(t, func(o *Options) { o.FailDelay = time.Millisecond })
	for _, token := range []string{"", "wrong", testToken + "x", strings.ToUpper(testToken)} {
		for _, path := range []string{"/api/v1/version", "/api/v1/sessions", "/api/v1/nonexistent"} {
			r := e.do(t, "GET", path, token, "")
			if r.status != 401 {
				t.Errorf("GET %s with token %q: %d, want 401", path, token, r.status)
				continue
			}
			if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="ferry"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			r.errorMessage(t)
		}
	}
	// The scheme is case-insensitive (RFC 7235); other schemes are not
	// bearer tokens.
	for header, want := range map[string]int{
		"bearer " + testToken:        200,
		"BEARER  " + testToken:       200,
		"Basic " + testToken:         401,
		"Bearer" + testToken:         401,
		"Bearer " + testToken + " x": 401,
	} {
		if got, err := statusWith(e.url+"/api/v1/version", header); err != nil || got != want {
			t.Errorf("Authorization %q: %d %v, want %d", header, got, err, want)
		}
	}
	r := e.do(t, "GET", "/api/v1/version", testToken, "")
	var v struct {
		Version string `json:"version"`
		Go      string `json:"go"`
		Started string `json:"started"`
		Uptime  int64  `json:"uptime_seconds"`
	}
	r.decodeJSON(t, &v)
	if v.Go != goVersion() || v.Uptime < 0 || !strings.HasSuffix(v.Started, "Z") {
		t.Errorf("version: %+v", v)
	}
	if _, err := time.Parse(time.RFC3339, v.Started); err != nil {
		t.Errorf("started %q: %v", v.Started, err)
	}
}

// statusWith sends GET url with the Authorization header as given and
// returns the status.
func statusWith(url, authorization string) (int, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", authorization)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// A wrong token is answered only after the delay; while requests wait out
// theirs, one more from the same address is refused at once with 429, so
// a flood cannot hold unbounded goroutines; a right token still passes.
func TestAPIWrongTokenWaitsAndFloodGets429(t *testing.T) {
	t.Parallel()
	e := startEnv(t, func(o *Options) {
		o.FailDelay = time.Hour // ended by the request's context only
		o.MaxFailingPerIP = 2
	})
	waiting := func() int {
		e.handler.check.mu.Lock()
		defer e.handler.check.mu.Unlock()
		return e.handler.check.failing
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	answered := make(chan error, 2)
	for i := range 2 {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/sessions", nil)
			req.Header.Set("Authorization", "Bearer wrong")
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				err = fmt.Errorf("answered %s", resp.Status)
			}
			answered <- err
		}()
		testwait.For(t, fmt.Sprintf("wrong token %d to wait out its delay", i+1), func() bool { return waiting() == i+1 })
	}
	r := e.do(t, "GET", "/api/v1/sessions", "wrong", "")
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("a third wrong token: %d, Retry-After %q; want 429 at once", r.status, r.header.Get("Retry-After"))
	}
	r.errorMessage(t)
	if r := e.do(t, "GET", "/api/v1/sessions", testToken, ""); r.status != 200 {
		t.Errorf("the right token during the flood: %d", r.status)
	}
	select {
	case err := <-answered:
		t.Fatalf("a wrong token was answered before its delay: %v", err)
	default:
	}
	cancel() // the clients give up: their handlers must return
	for range 2 {
		if err := <-answered; !errors.Is(err, context.Canceled) {
			t.Errorf("waiting client: %v, want its own cancellation", err)
		}
	}
	testwait.For(t, "the waiting checks to give their places back", func() bool { return waiting() == 0 })
}

func TestAPISessionsShowRunningTransferAndDeleteDisconnects(t *testing.T) {
	t.Parallel()
	e := startEnv(t, nil)
	const size = 1 << 20
	// The server counts a transfer's bytes per 256 KiB it moves.
	const gate = 256 << 10
	if err := putFile(e, "/big", size); err != nil {
		t.Fatal(err)
	}
	e.fs.allow(gate)

	c, data := retrStart(t, e.ftpAddr, "/big")
	buf := make([]byte, gate)
	if _, err := readFull(data, buf); err != nil {
		t.Fatal(err)
	}

	var s Session
	testwait.For(t, "the session's transfer to show", func() bool {
		var list struct {
			Sessions []Session `json:"sessions"`
		}
		e.do(t, "GET", "/api/v1/sessions", testToken, "").decodeJSON(t, &list)
		for _, got := range list.Sessions {
			if got.User == "alice" && got.Transfer != nil && got.Transfer.Bytes == gate {
				s = got
				return true
			}
		}
		return false
	})
	local := c.localAddr
	if s.Remote != local || s.Anonymous || s.TLS || s.Command != "RETR /big" {
		t.Errorf("session %+v, want remote %s, command RETR /big", s, local)
	}
	if tr := s.Transfer; tr.Verb != "RETR" || tr.Path != "/big" || tr.Size != size || tr.Rate < 0 {
		t.Errorf("transfer %+v", tr)
	}
	for _, ts := range []string{s.Started, s.CommandAt, s.Transfer.Started} {
		if _, err := time.Parse(time.RFC3339, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("time %q is not RFC 3339 UTC", ts)
		}
	}

	r := e.do(t, "DELETE", "/api/v1/sessions/"+s.ID, testToken, "")
	if r.status != 204 {
		t.Fatalf("DELETE session: %d %s", r.status, r.body)
	}
	code, msg, _ := c.conn.ReadResponse(421)
	if code != 421 {
		t.Fatalf("after DELETE the client read %d %q, want 421", code, msg)
	}
	// The session ends once its transfer's storage read returns.
	e.fs.allow(math.MaxInt64)
	testwait.For(t, "the session to end", func() bool { return e.ftp.SessionCount() == 0 })
	if r := e.do(t, "DELETE", "/api/v1/sessions/"+s.ID, testToken, ""); r.status != 404 {
		t.Errorf("DELETE an ended session: %d", r.status)
	} else {
		r.errorMessage(t)
	}
}

func TestAPIRoutingErrorsAreJSON(t *testing.T) {
	t.Parallel()
	e := startEnv(t, nil)
	r := e.do(t, "GET", "/api/v1/nope", testToken, "")
	if r.status != 404 {
		t.Errorf("unknown endpoint: %d", r.status)
	}
	r.errorMessage(t)
	r = e.do(t, "POST", "/api/v1/sessions", testToken, "{}")
	if r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Errorf("POST sessions: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	r.errorMessage(t)
	for _, path := range []string{"/", "/api/v1/version", "/metrics"} {
		r := e.do(t, "GET", path, testToken, "")
		if r.header.Get("Content-Security-Policy") != "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'" ||
			r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: security headers missing: %v", path, r.header)
		}
		if cc := r.header.Get("Cache-Control"); strings.HasPrefix(path, "/api/") != (cc == "no-store") {
			t.Errorf("GET %s: Cache-Control %q", path, cc)
		}
	}
	if r := e.do(t, "GET", "/", "", ""); r.status != 200 || !strings.Contains(string(r.body), "<") {
		t.Errorf("GET / without a token: %d %.60s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/", "", "x"); r.status != 405 {
		t.Errorf("POST /: %d", r.status)
	}
}

func TestAPIUsersWithoutStoreIs501(t *testing.T) {
	t.Parallel()
	e := startEnv(t, nil)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/v1/users", ""},
		{"POST", "/api/v1/users", `{"name":"bob","password":"x","home":"/srv"}`},
		{"PUT", "/api/v1/users/bob/password", `{"password":"x"}`},
		{"DELETE", "/api/v1/users/bob", ""},
	} {
		r := e.do(t, c.method, c.path, testToken, c.body)
		if r.status != 501 || r.errorMessage(t) != "no users file or database configured" {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
}

// memUsers is an in-memory Users for the API's own checks; the real
// stores are tested with ferry serve in internal/cli.
type memUsers struct {
	mu    sync.Mutex
	users map[string]NewUser
}

func (m *memUsers) List(context.Context) ([]User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []User
	for _, u := range m.users {
		out = append(out, User{Name: u.Name, Home: u.Home, Write: u.Write})
	}
	return out, nil
}

func (m *memUsers) Add(_ context.Context, u NewUser) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.Name]; ok {
		return fmt.Errorf("%w: %s", auth.ErrUserExists, u.Name)
	}
	m.users[u.Name] = u
	return nil
}

func (m *memUsers) SetPassword(_ context.Context, name, pass string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
	}
	u.Password = pass
	m.users[name] = u
	return nil
}

func (m *memUsers) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[name]; !ok {
		return fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
	}
	delete(m.users, name)
	return nil
}

func TestAPIUsersValidatesBodies(t *testing.T) {
	t.Parallel()
	store := &memUsers{users: map[string]NewUser{}}
	e := startEnv(t, func(o *Options) { o.Users = store })
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/v1/users", `{"name":"bob","password":"pw","home":"/srv/bob","write":true}`, 201},
		{"POST", "/api/v1/users", `{"name":"bob","password":"pw","home":"/srv/bob"}`, 409},
		{"POST", "/api/v1/users", `{"name":"a b","password":"pw","home":"/srv"}`, 400},
		{"POST", "/api/v1/users", `{"name":"Anonymous","password":"pw","home":"/srv"}`, 400},
		{"POST", "/api/v1/users", `{"name":"carol","password":"","home":"/srv"}`, 400},
		{"POST", "/api/v1/users", `{"name":"carol","password":"pw"}`, 400},
		{"POST", "/api/v1/users", `{"name":"carol","password":"pw","home":"relative"}`, 400},
		{"POST", "/api/v1/users", `{"name":"carol","password":"pw","home":"/srv","admin":true}`, 400},
		{"POST", "/api/v1/users", `{"name":"carol","password":"pw","home":"/srv"} {}`, 400},
		{"POST", "/api/v1/users", `{"name":"carol","password":"` + strings.Repeat("x", 70<<10) + `","home":"/srv"}`, 400},
		{"POST", "/api/v1/users", `not json`, 400},
		{"PUT", "/api/v1/users/bob/password", `{"password":"new"}`, 204},
		{"PUT", "/api/v1/users/bob/password", `{"password":""}`, 400},
		{"PUT", "/api/v1/users/nobody/password", `{"password":"new"}`, 404},
		{"DELETE", "/api/v1/users/nobody", "", 404},
	} {
		r := e.do(t, c.method, c.path, testToken, c.body)
		if r.status != c.want {
			t.Errorf("%s %s %.80s: %d %s, want %d", c.method, c.path, c.body, r.status, r.body, c.want)
		} else if c.want >= 400 {
			r.errorMessage(t)
		}
	}
	if u := store.users["bob"]; u.Password != "new" || u.Home != "/srv/bob" || !u.Write {
		t.Errorf("bob in the store: %+v", u)
	}
	if len(store.users) != 1 {
		t.Errorf("store holds %v, want bob only", store.users)
	}
	var list struct {
		Users []User `json:"users"`
	}
	e.do(t, "GET", "/api/v1/users", testToken, "").decodeJSON(t, &list)
	if len(list.Users) != 1 || list.Users[0] != (User{Name: "bob", Home: "/srv/bob", Write: true}) {
		t.Errorf("GET users: %+v", list.Users)
	}
	if r := e.do(t, "DELETE", "/api/v1/users/bob", testToken, ""); r.status != 204 || len(store.users) != 0 {
		t.Errorf("DELETE bob: %d, store %v", r.status, store.users)
	}
}

// ftpConn is a raw control connection.
type ftpConn struct {
	conn      *textproto.Conn
	localAddr string
}

func cmd(t *testing.T, c *textproto.Conn, want int, line string) string {
	t.Helper()
	if err := c.PrintfLine("%s", line); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.ReadResponse(want)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return msg
}

// retrStart logs in as alice and starts RETR path, returning the control
// connection and the data connection.
func retrStart(t *testing.T, addr, path string) (*ftpConn, net.Conn) {
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
	cmd(t, c, 331, "USER alice")
	cmd(t, c, 230, "PASS secret")
	cmd(t, c, 200, "TYPE I")
	msg := cmd(t, c, 229, "EPSV")
	open, close := strings.Index(msg, "(|||"), strings.LastIndex(msg, "|)")
	port, err := strconv.Atoi(msg[open+4 : close])
	if err != nil {
		t.Fatalf("EPSV reply %q", msg)
	}
	data, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { data.Close() })
	cmd(t, c, 150, "RETR "+path)
	return &ftpConn{conn: c, localAddr: raw.LocalAddr().String()}, data
}

// putFile stores size bytes at name, straight into the file system.
func putFile(e *testEnv, name string, size int) error {
	ctx := context.Background()
	w, err := e.fs.FS.Create(ctx, name, ftpserver.CreateOptions{})
	if err != nil {
		return err
	}
	if _, err := w.Write(make([]byte, size)); err != nil {
		return err
	}
	return w.Commit(ctx)
}

func readFull(r io.Reader, buf []byte) (int, error) { return io.ReadFull(r, buf) }

// TestAPISessionsShowHost: a session that chose a virtual host with HOST
// (RFC 7151) is listed with it.
func TestAPISessionsShowHost(t *testing.T) {
	t.Parallel()
	e := startEnvWith(t, func(s *ftpserver.Server) {
		s.Hosts = func(name string) (*ftpserver.VirtualHost, bool) {
			if name != "files.example" {
				return nil, false
			}
			return &ftpserver.VirtualHost{Name: "files.example"}, true
		}
	}, nil)
	raw, err := net.Dial("tcp", e.ftpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	c := textproto.NewConn(raw)
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	cmd(t, c, 220, "HOST files.example")
	cmd(t, c, 331, "USER alice")
	cmd(t, c, 230, "PASS secret")
	testwait.For(t, "the session to show its host", func() bool {
		var list struct {
			Sessions []Session `json:"sessions"`
		}
		e.do(t, "GET", "/api/v1/sessions", testToken, "").decodeJSON(t, &list)
		return len(list.Sessions) == 1 && list.Sessions[0].Host == "files.example" && list.Sessions[0].User == "alice"
	})
}
