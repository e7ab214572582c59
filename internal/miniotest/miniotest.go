// Package miniotest gives tests a real MinIO server on loopback and a
// fresh bucket per test.
//
// scripts/test starts one MinIO for the whole run and exports
// FERRY_MINIO_ENDPOINT (host:port), FERRY_MINIO_ACCESS_KEY and
// FERRY_MINIO_SECRET_KEY; Shared uses it. Without them, Shared starts one
// server per test binary from the minio binary (FERRY_MINIO_BIN, else
// minio on PATH, else $GOPATH/bin/minio). Start always starts a server of
// the test's own (erasure-coded with several drives, say). Without a
// binary a test is skipped, except under CI (CI set), where a missing
// component is a failure.
package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is a running MinIO.
type Server struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string
	// Drives are the data directories of a server this package started
	// (empty for the one scripts/test runs).
	Drives []string

	proc *os.Process
	done chan struct{} // closed when the process has exited
}

// URL is the endpoint as an http:// URL.
func (s *Server) URL() string { return "http://" + s.Endpoint }

// Client is a minio-go client with the root credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.done
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the MinIO shared by the whole test run (or by this test
// binary), starting it if needed.
func Shared(t testing.TB) *Server {
	t.Helper()
	if ep := os.Getenv("FERRY_MINIO_ENDPOINT"); ep != "" {
		return &Server{
			Endpoint:  ep,
			AccessKey: os.Getenv("FERRY_MINIO_ACCESS_KEY"),
			SecretKey: os.Getenv("FERRY_MINIO_SECRET_KEY"),
		}
	}
	bin := binary(t)
	shared.once.Do(func() {
		root, err := newSharedRoot()
		if err != nil {
			shared.err = err
			return
		}
		shared.srv, shared.err = start(bin, root, []string{filepath.Join(root, "data")})
	})
	if shared.err != nil {
		t.Fatalf("starting MinIO: %v", shared.err)
	}
	return shared.srv
}

// Start starts a server of the test's own with the given number of
// drives (1: a single drive; 4 or more: erasure-coded), stopped when the
// test ends.
func Start(t testing.TB, drives int) *Server {
	t.Helper()
	bin := binary(t)
	root := t.TempDir()
	dirs := make([]string, drives)
	for i := range dirs {
		dirs[i] = filepath.Join(root, "drive"+strconv.Itoa(i+1))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := start(bin, root, dirs)
	if err != nil {
		t.Fatalf("starting MinIO: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// sharedPrefix starts the names of the directories of the servers Shared
// starts; ownerFile in each holds the process id of the test binary that
// made it.
const (
	sharedPrefix = "ferry-minio-"
	ownerFile    = "owner.pid"
)

// newSharedRoot makes the directory for the data and log of the server
// Shared starts, after removing those of test binaries that have exited.
// Such a server lives as long as its test binary, which has no hook to
// clean up after it, and MinIO keeps deleted objects in its trash until a
// later purge that a killed server never runs: without the sweep every
// run would leave its data behind.
func newSharedRoot() (string, error) {
	sweepSharedRoots()
	root, err := os.MkdirTemp("", sharedPrefix)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(root, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", err
	}
	return root, nil
}

// sweepSharedRoots removes the directories of shared servers whose test
// binary is no longer running. A directory without a readable owner is
// left alone: it is being made, or is not ours.
func sweepSharedRoots() {
	roots, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedPrefix+"*"))
	for _, root := range roots {
		b, err := os.ReadFile(filepath.Join(root, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(root)
		}
	}
}

// binary finds the minio executable, or skips (fails under CI).
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FERRY_MINIO_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if p := filepath.Join(gopath, "bin", "minio"); gopath != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	const msg = "no minio binary (set FERRY_MINIO_BIN, or run ./scripts/test, which installs it)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// start runs minio on a free loopback port with its log in logDir and
// waits until it is ready. A server whose port was taken meanwhile is
// retried on another.
func start(bin, logDir string, dirs []string) (*Server, error) {
	var lastErr error
	for range 3 {
		srv, err := startOnce(bin, logDir, dirs)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(bin, logDir string, dirs []string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	console, err := freePort()
	if err != nil {
		return nil, err
	}
	srv := &Server{
		Endpoint:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		AccessKey: "ferrytest",
		SecretKey: randomHex(16),
		Drives:    dirs,
		done:      make(chan struct{}),
	}
	args := append([]string{"server", "--quiet",
		"--address", srv.Endpoint,
		"--console-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(console))}, dirs...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+srv.AccessKey,
		"MINIO_ROOT_PASSWORD="+srv.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		// Several drives on one disk are fine for tests.
		"MINIO_CI_CD=1",
	)
	logPath := filepath.Join(logDir, "minio-"+strconv.Itoa(port)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server dies with the test binary: Pdeathsig fires when the
	// thread that started it ends, so that thread is locked to a
	// goroutine that lives as long as the process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		srv.proc = cmd.Process
		started <- nil
		_ = cmd.Wait()
		logFile.Close()
		close(srv.done)
		select {} // keep the thread, and so the other servers it started
	}()
	if err := <-started; err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	if err := waitReady(srv, 90*time.Second); err != nil {
		srv.Stop()
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w; log %s:\n%s", err, logPath, tail(string(out), 2000))
	}
	return srv, nil
}

// waitReady polls the cluster health endpoint until the server accepts
// requests (for erasure sets, until quorum is there).
func waitReady(srv *Server, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-srv.done:
			return errors.New("minio exited at start")
		default:
		}
		resp, err := client.Get(srv.URL() + "/minio/health/cluster")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("minio not ready after %v", limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// NewBucket creates an empty bucket with a unique name on srv and removes
// it, with everything in it and every unfinished upload, when the test
// ends.
func NewBucket(t testing.TB, srv *Server) string {
	t.Helper()
	c := srv.Client(t)
	name := "ferry-" + strings.ToLower(randomHex(8))
	ctx := context.Background()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	t.Cleanup(func() { removeBucket(t, c, name) })
	return name
}

func removeBucket(t testing.TB, c *minio.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for u := range c.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err == nil {
			_ = c.RemoveIncompleteUpload(ctx, bucket, u.Key)
		}
	}
	objects := c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true})
	for e := range c.RemoveObjects(ctx, bucket, objects, minio.RemoveObjectsOptions{}) {
		t.Logf("cleanup %s: %v", e.ObjectName, e.Err)
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		t.Logf("cleanup bucket %s: %v", bucket, err)
	}
}
