package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// The accounts every test server knows.
const (
	user     = "alice"
	password = "secret"
	// uploadDir is where the anonymous account may create new files.
	uploadDir = "/incoming"
)

// testServer is a running ftpserver.Server over a temporary directory.
type testServer struct {
	srv  *ftpserver.Server
	host string // "127.0.0.1"
	port int
	// root is the directory on disk behind "/" for both accounts (empty
	// when the server does not serve a local directory).
	root string
	logs *lockedBuffer

	mu     sync.Mutex
	served []chan error // one per listener: what Serve or ServeTLS returned
}

// addr is host:port of the control connection.
func (ts *testServer) addr() string {
	return net.JoinHostPort(ts.host, strconv.Itoa(ts.port))
}

// url is an ftp:// URL for alice with path p (which starts with "/").
func (ts *testServer) url(p string) string {
	return "ftp://" + user + ":" + password + "@" + ts.addr() + p
}

// anonURL is an ftp:// URL without credentials (anonymous login).
func (ts *testServer) anonURL(p string) string {
	return "ftp://" + ts.addr() + p
}

// local turns a virtual path into the path on disk.
func (ts *testServer) local(p string) string {
	return filepath.Join(ts.root, filepath.FromSlash(p))
}

// startServer starts a server on 127.0.0.1:0 over a new temporary
// directory: alice/secret may do everything, anonymous may read and create
// new entries under /incoming. configure may change the Server before it
// starts. It is shut down when the test ends.
func startServer(t *testing.T, configure ...func(*ftpserver.Server)) *testServer {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "incoming"), 0o755); err != nil {
		t.Fatal(err)
	}
	storage, err := localfs.New(root)
	if err != nil {
		t.Fatalf("localfs.New: %v", err)
	}
	// Registered first, so it runs after serveFS's shutdown.
	t.Cleanup(func() {
		if err := storage.Close(); err != nil {
			t.Errorf("closing storage: %v", err)
		}
	})
	ts := serveFS(t, storage, configure...)
	ts.root = root
	return ts
}

// serveFS starts a server on 127.0.0.1:0 whose two accounts (alice and
// anonymous, as startServer describes) share storage. It is shut down
// when the test ends.
func serveFS(t *testing.T, storage ftpserver.FileSystem, configure ...func(*ftpserver.Server)) *testServer {
	t.Helper()
	logs := &lockedBuffer{}
	auth := ftpserver.AuthFunc(func(_ context.Context, _ ftpserver.ConnInfo, name, pass string) (*ftpserver.Account, error) {
		switch {
		case name == user && pass == password:
			return &ftpserver.Account{User: user, FS: storage, Write: true}, nil
		case name == "anonymous" || name == "ftp":
			return &ftpserver.Account{User: "anonymous", FS: storage, UploadDir: uploadDir, Anonymous: true}, nil
		}
		return nil, ftpserver.ErrAuthFailed
	})
	srv := &ftpserver.Server{
		Auth:           auth,
		DataTimeout:    20 * time.Second,
		LoginFailDelay: 10 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range configure {
		f(srv)
	}
	ts := &testServer{srv: srv, host: "127.0.0.1", logs: logs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		for _, served := range ts.served {
			if err := <-served; !errors.Is(err, ftpserver.ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	ts.port = ts.listen(t, srv.Serve)
	return ts
}

// listen opens a listener on 127.0.0.1, runs serve on it (Serve or
// ServeTLS) and returns its port.
func (ts *testServer) listen(t *testing.T, serve func(net.Listener) error) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ts.serveOn(ln, serve)
}

// listen6 is listen on [::1]; it skips the test where the machine has no
// IPv6 loopback.
func (ts *testServer) listen6(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	return ts.serveOn(ln, ts.srv.Serve)
}

func (ts *testServer) serveOn(ln net.Listener, serve func(net.Listener) error) int {
	served := make(chan error, 1)
	ts.mu.Lock()
	ts.served = append(ts.served, served)
	ts.mu.Unlock()
	go func() { served <- serve(ln) }()
	return ln.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects the server's log lines from many goroutines.
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

// result is what a client program did.
type result struct {
	stdout, stderr string
	exitCode       int
}

func (r result) String() string {
	return "exit code " + strconv.Itoa(r.exitCode) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// run runs a client program with a time limit and no terminal. It fails
// the test only when the program cannot be run or overruns the limit; a
// non-zero exit is the caller's to judge.
func run(t *testing.T, timeout time.Duration, stdin string, dir string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	// A fixed locale: messages are matched, and UTF-8 names must pass
	// through clients unchanged.
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8", "HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after %v\n%s", name, strings.Join(args, " "), timeout, res)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.exitCode = exitErr.ExitCode()
	default:
		t.Fatalf("running %s: %v", name, err)
	}
	return res
}

// testData returns n bytes that are the same on every run for a given seed
// and contain every byte value, CR and LF included, so that any text-mode
// conversion shows.
func testData(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	if n >= 4 {
		copy(b, "a\r\nb")
	}
	return b
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantFile fails the test unless name holds exactly want.
func wantFile(t *testing.T, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Errorf("reading %s: %v", name, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes (sha256 %s), want %d bytes (sha256 %s)",
			name, len(got), sum(got), len(want), sum(want))
	}
}

// wantNoFile fails the test if name exists.
func wantNoFile(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Lstat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: want no such file, got err=%v", name, err)
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
