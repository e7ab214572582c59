package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// Black-box tests of the client commands: a real ftpserver.Server over a
// temporary directory, driven through Run.

// syncBuffer is a bytes.Buffer safe for a logger (or a terminal) and a test at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ftpTestServer is a server on a loopback address serving root: user
// alice/secret may write, anonymous users may read.
type ftpTestServer struct {
	srv      *ftpserver.Server
	root     string
	addr     string // host:port of the plain (and explicit TLS) listener
	implicit string // host:port of the implicit TLS listener, if any
	caFile   string // PEM file trusting the server's certificate, with TLS
	logs     *syncBuffer
}

type serverConfig struct {
	host   string // default 127.0.0.1
	fxp    bool
	tls    bool
	mutate func(*ftpserver.Server)
	wrapFS func(ftpserver.FileSystem) ftpserver.FileSystem
}

type serverOption func(*serverConfig)

func onHost(h string) serverOption { return func(c *serverConfig) { c.host = h } }
func withFXP() serverOption        { return func(c *serverConfig) { c.fxp = true } }
func withTLS() serverOption        { return func(c *serverConfig) { c.tls = true } }
func withServer(m func(*ftpserver.Server)) serverOption {
	return func(c *serverConfig) { c.mutate = m }
}
func withFS(wrap func(ftpserver.FileSystem) ftpserver.FileSystem) serverOption {
	return func(c *serverConfig) { c.wrapFS = wrap }
}

func startFTP(t *testing.T, opts ...serverOption) *ftpTestServer {
	t.Helper()
	cfg := serverConfig{host: "127.0.0.1"}
	for _, o := range opts {
		o(&cfg)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", cfg.host, err)
	}
	root := t.TempDir()
	lfs, err := localfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	var fsys ftpserver.FileSystem = lfs
	if cfg.wrapFS != nil {
		fsys = cfg.wrapFS(fsys)
	}
	ts := &ftpTestServer{root: root, addr: ln.Addr().String(), logs: &syncBuffer{}}
	ts.srv = &ftpserver.Server{
		LoginFailDelay: -1,
		DataTimeout:    10 * time.Second,
		AllowFXP:       cfg.fxp,
		Logger:         slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Auth: ftpserver.AuthFunc(func(ctx context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			switch {
			case user == "alice" && pass == "secret":
				return &ftpserver.Account{User: "alice", FS: fsys, Write: true}, nil
			case strings.EqualFold(user, "anonymous"):
				return &ftpserver.Account{User: "anonymous", FS: fsys, Anonymous: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
	}
	if cfg.mutate != nil {
		cfg.mutate(ts.srv)
	}
	if cfg.tls {
		pair := testcert.New(t)
		ts.srv.TLSConfig = pair.ServerConfig()
		ts.caFile, _ = pair.WriteFiles(t, t.TempDir())
	}
	done := make(chan error, 2)
	go func() { done <- ts.srv.Serve(ln) }()
	listeners := 1
	if cfg.tls {
		iln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		ts.implicit = iln.Addr().String()
		go func() { done <- ts.srv.ServeTLS(iln) }()
		listeners++
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.srv.Shutdown(ctx)
		for range listeners {
			if err := <-done; !errors.Is(err, ftpserver.ErrServerClosed) {
				t.Errorf("Serve returned %v", err)
			}
		}
	})
	return ts
}

// url is an ftp:// URL for alice to p (relative to the root).
func (ts *ftpTestServer) url(p string) string {
	return "ftp://alice:secret@" + ts.addr + "/" + p
}

// file returns the host path of p below the served root.
func (ts *ftpTestServer) file(p string) string { return filepath.Join(ts.root, filepath.FromSlash(p)) }

// put writes data to p on the server's disk.
func (ts *ftpTestServer) put(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(ts.file(p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ts.file(p), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ferry runs the command line and returns what it printed.
func ferry(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err = Run(ctx, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}, args)
	return out.String(), errOut.String(), err
}

// mustFerry is ferry for a command that must succeed.
func mustFerry(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := ferry(t, args...)
	if err != nil {
		t.Fatalf("ferry %s: %v\nstderr:\n%s", strings.Join(args, " "), err, clipText(stderr))
	}
	return stdout, stderr
}

func clipText(s string) string {
	if len(s) > 4000 {
		return s[:2000] + "\n...\n" + s[len(s)-2000:]
	}
	return s
}

// randomData returns n reproducible pseudo-random bytes.
func randomData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sameContent fails the test unless the file at name holds want.
func sameContent(t *testing.T, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s differs: %d bytes, want %d; first difference at byte %d", name, len(got), len(want), i)
	}
}

// init keeps every test of the package away from the user's ~/.netrc
// once, rather than per test with t.Setenv, which would rule out
// t.Parallel. A test that needs a netrc file sets NETRC itself and runs
// alone.
func init() {
	os.Setenv("NETRC", filepath.Join(os.TempDir(), "ferry-cli-tests-have-no-netrc", "none"))
}

// countLines counts the lines of s containing sub.
func countLines(s, sub string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// breakdowns is how many more transfers a flaky file system breaks off,
// and after how many bytes.
type breakdowns struct {
	mu       sync.Mutex
	failures int
	cut      int64
}

// next reports whether the transfer starting now breaks off, and counts it.
func (b *breakdowns) next() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures <= 0 {
		return false
	}
	b.failures--
	return true
}

// flakyFS makes the first failures downloads of each file break off after
// cut bytes (the server then answers 451 after part of the data).
type flakyFS struct {
	ftpserver.FileSystem
	breakdowns
}

func (f *flakyFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	rc, err := f.FileSystem.Open(ctx, name, offset)
	if err != nil || !f.next() {
		return rc, err
	}
	return &breakingReader{ReadCloser: rc, left: f.cut}, nil
}

type breakingReader struct {
	io.ReadCloser
	left int64
}

func (b *breakingReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("simulated disk failure")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// lyingFS answers HASH with a digest of nothing like the file.
type lyingFS struct {
	ftpserver.FileSystem
}

func (lyingFS) Hash(ctx context.Context, name, algo string, start, end int64) ([]byte, error) {
	switch algo {
	case "SHA-256":
		return bytes.Repeat([]byte{0xab}, 32), nil
	case "SHA-1":
		return bytes.Repeat([]byte{0xab}, 20), nil
	case "MD5":
		return bytes.Repeat([]byte{0xab}, 16), nil
	}
	return nil, ftpserver.ErrNotSupported
}

// flakyUploads makes the first failures uploads break off after cut bytes
// as if the data connection had been reset (the server answers 426; what
// arrived stays, as upload mode atomic-resume promises for a client
// interruption, never for a server failure).
type flakyUploads struct {
	ftpserver.FileSystem
	breakdowns
}

func (f *flakyUploads) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	w, err := f.FileSystem.Create(ctx, name, opts)
	if err != nil || !f.next() {
		return w, err
	}
	return &breakingWriter{FileWriter: w, left: f.cut}, nil
}

type breakingWriter struct {
	ftpserver.FileWriter
	left int64
}

func (b *breakingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > b.left {
		n, _ := b.FileWriter.Write(p[:b.left])
		b.left = 0
		return n, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	n, err := b.FileWriter.Write(p)
	b.left -= int64(n)
	return n, err
}
