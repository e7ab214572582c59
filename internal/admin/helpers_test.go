package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

const testToken = "s3cr3t-token_value"

// gatedFS is a memfs whose readers stop at limit bytes of a file until
// the test allows more, so that a download stays running, at a known
// byte count, for as long as a test looks at it.
type gatedFS struct {
	*memfs.FS
	mu      sync.Mutex
	limit   int64
	changed chan struct{}
}

func newGatedFS() *gatedFS {
	return &gatedFS{FS: memfs.New(), limit: math.MaxInt64, changed: make(chan struct{})}
}

func (g *gatedFS) allow(n int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.limit = n
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *gatedFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	r, err := g.FS.Open(ctx, name, offset)
	if err != nil {
		return nil, err
	}
	return &gatedReader{ReadCloser: r, fs: g, ctx: ctx, pos: offset}, nil
}

type gatedReader struct {
	io.ReadCloser
	fs  *gatedFS
	ctx context.Context
	pos int64
}

func (r *gatedReader) Read(p []byte) (int, error) {
	for {
		r.fs.mu.Lock()
		limit, changed := r.fs.limit, r.fs.changed
		r.fs.mu.Unlock()
		if r.pos < limit {
			if room := limit - r.pos; int64(len(p)) > room {
				p = p[:room]
			}
			n, err := r.ReadCloser.Read(p)
			r.pos += int64(n)
			return n, err
		}
		select {
		case <-changed:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

// testEnv is a real FTP server on loopback with the admin server beside
// it, as ferry serve wires them.
type testEnv struct {
	ftp     *ftpserver.Server
	ftpAddr string
	url     string // of the admin server
	fs      *gatedFS
	metrics *Metrics
	stats   *Stats
	handler *handler
	// clock is the stats' time (UnixNano); their sampler does not run
	// by itself: tests call stats.sample after moving the clock.
	clock atomic.Int64
}

func (e *testEnv) now() time.Time { return time.Unix(0, e.clock.Load()) }

// tick moves the clock one second on and takes a throughput sample.
func (e *testEnv) tick() {
	e.clock.Add(int64(time.Second))
	e.stats.sample()
}

// startEnv starts both servers; change, if not nil, adjusts the admin
// options first.
func startEnv(t *testing.T, change func(*Options)) *testEnv {
	t.Helper()
	return startEnvWith(t, nil, change)
}

// startEnvWith is startEnv with ftpChange adjusting the FTP server first.
func startEnvWith(t *testing.T, ftpChange func(*ftpserver.Server), change func(*Options)) *testEnv {
	t.Helper()
	return startEnvOn(t, ftpChange, func(_ *testEnv, o *Options) {
		if change != nil {
			change(o)
		}
	})
}

// startEnvOn is startEnvWith whose change also sees the environment, to
// start servers beside the FTP one (SFTP) before the admin server.
func startEnvOn(t *testing.T, ftpChange func(*ftpserver.Server), change func(*testEnv, *Options)) *testEnv {
	t.Helper()
	e := &testEnv{fs: newGatedFS()}
	e.clock.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	e.ftp = &ftpserver.Server{
		Auth: ftpserver.AuthFunc(func(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			switch {
			case user == "alice" && pass == "secret":
				return &ftpserver.Account{User: "alice", FS: e.fs, Write: true}, nil
			case user == "anonymous" || user == "ftp":
				return &ftpserver.Account{User: user, Anonymous: true, FS: e.fs}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
		LoginFailDelay: -1,
		Logger:         slog.New(slog.DiscardHandler),
	}
	if ftpChange != nil {
		ftpChange(e.ftp)
	}
	e.metrics = NewMetrics(e.ftp, "v-test")
	e.stats = newStats(context.Background(), e.ftp, e.now, time.Hour)
	t.Cleanup(e.stats.Close)
	e.ftp.Observer = ftpserver.MultiObserver(e.metrics, e.stats)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.ftp.Serve(ln)
	t.Cleanup(func() {
		e.fs.allow(math.MaxInt64) // let gated readers end
		e.ftp.Close()
	})
	e.ftpAddr = ln.Addr().String()

	opts := Options{Server: e.ftp, Token: testToken, Metrics: e.metrics, Stats: e.stats, FailDelay: -1}
	change(e, &opts)
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.handler = newHandler(opts)
	srv := Serve(hln, e.handler.routes(), nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	e.url = "http://" + hln.Addr().String()
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; token "" sends no Authorization header.
func (e *testEnv) do(t *testing.T, method, path, token, body string) response {
	t.Helper()
	return doCtx(t, context.Background(), method, e.url+path, token, body)
}

func doCtx(t *testing.T, ctx context.Context, method, url, token, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return response{}
		}
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, data}
}

// decodeJSON decodes r's body into v, failing on anything but JSON.
func (r response) decodeJSON(t *testing.T, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, r.body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errorMessage checks that r is a JSON error and returns its message.
func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.decodeJSON(t, &e)
	if e.Error == "" {
		t.Fatalf("empty error message in %s", r.body)
	}
	return e.Error
}
