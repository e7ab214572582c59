// Package pgtest gives tests a real PostgreSQL on loopback and a fresh
// database per test.
//
// scripts/test starts one PostgreSQL for the whole run and exports
// FERRY_PG_DSN, a superuser's postgres:// URL; Shared uses it. Without
// it, Shared starts one server per test binary from Debian's binaries
// (/usr/lib/postgresql/VERSION/bin, the newest; or FERRY_PG_BIN, a
// directory), as the postgres user when the tests run as root. Without
// binaries a test is skipped, except under CI (CI set), where a missing
// component is a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL.
type Server struct {
	// DSN is a superuser's postgres:// URL of its "postgres" database.
	DSN string
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the PostgreSQL of the whole test run (or of this test
// binary), starting it if needed.
func Shared(t testing.TB) *Server {
	t.Helper()
	if dsn := os.Getenv("FERRY_PG_DSN"); dsn != "" {
		return &Server{DSN: dsn}
	}
	bin := binDir(t)
	shared.once.Do(func() { shared.srv, shared.err = start(bin) })
	if shared.err != nil {
		t.Fatalf("starting PostgreSQL: %v", shared.err)
	}
	return shared.srv
}

// NewDatabase creates an empty database on the shared server, dropped
// when the test ends, and returns its DSN.
func NewDatabase(t testing.TB) string {
	t.Helper()
	srv := Shared(t)
	var b [6]byte
	rand.Read(b[:])
	name := "ferry_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE: a server under test may still hold connections.
		if err := srv.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(srv.DSN, name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

func (s *Server) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns dsn (a URL) naming database name instead.
func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("FERRY_PG_DSN must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// binDir finds PostgreSQL's server binaries, or skips (fails under CI).
func binDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("FERRY_PG_BIN"); dir != "" {
		return dir
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var found []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no PostgreSQL binaries (/usr/lib/postgresql/*/bin) and no FERRY_PG_DSN; scripts/test installs and starts PostgreSQL")
		}
		t.Skip("no PostgreSQL: install Debian's postgresql package or set FERRY_PG_DSN")
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) < version(found[j]) })
	return found[len(found)-1]
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// start runs initdb in a temporary directory and a server on a free
// loopback port, and waits until it accepts connections. The server gets
// SIGQUIT (immediate shutdown) when this process exits: a test binary has
// no hook to stop it otherwise.
func start(bin string) (*Server, error) {
	sweep()
	dir, err := os.MkdirTemp("", sharedPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		pg, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		logFile, err := os.Create(filepath.Join(dir, "log"))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
			"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(port),
			"-c", "unix_socket_directories="+dir, "-c", "fsync=off",
			"-c", "max_connections=300")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
		started := make(chan error, 1)
		exited := make(chan struct{})
		go func() {
			// Pdeathsig follows the thread that started the process,
			// not the process: keep that thread for as long as the
			// server runs.
			runtime.LockOSThread()
			defer close(exited)
			err := cmd.Start()
			started <- err
			if err == nil {
				cmd.Wait()
			}
		}()
		err = <-started
		logFile.Close()
		if err != nil {
			return nil, err
		}
		dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		if err := waitReady(dsn, exited); err == nil {
			return &Server{DSN: dsn}, nil
		}
		cmd.Process.Kill()
		<-exited
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	return nil, fmt.Errorf("postgres did not start; its log:\n%s", log)
}

// waitReady polls until the server accepts a connection, it exits, or a
// minute has passed.
func waitReady(dsn string, exited <-chan struct{}) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("postgres exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("postgres not ready after a minute")
}

// sharedPrefix starts the names of the directories of the servers start
// makes; ownerFile in each holds the process id of the test binary that
// made it.
const (
	sharedPrefix = "ferry-pg-"
	ownerFile    = "owner.pid"
)

// sweep removes the directories of servers whose test binary has exited
// (their server died with it): a test binary has no hook to clean up
// after itself, and each cluster is tens of megabytes.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // being made, or not ours
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(dir)
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
