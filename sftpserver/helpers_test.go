package sftpserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/sftptest"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/internal/testwait"
	"github.com/ferry-ftp/ferry/sftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

const password = "s3cret pass"

// testAuth logs in "alice" (write), "reader" (read-only) and
// "anonymous" with password, and alice by the key in keys.
type testAuth struct {
	dir  string               // the home of every account
	fsys ftpserver.FileSystem // instead of dir when set
	keys map[string][]byte
}

func (a *testAuth) account(user string) (*ftpserver.Account, error) {
	var fsys ftpserver.FileSystem = a.fsys
	if fsys == nil {
		var err error
		if fsys, err = localfs.New(a.dir); err != nil {
			return nil, err
		}
	}
	switch user {
	case "alice":
		return &ftpserver.Account{User: user, FS: fsys, Write: true}, nil
	case "reader":
		return &ftpserver.Account{User: user, FS: fsys}, nil
	case "anonymous":
		return &ftpserver.Account{User: user, FS: fsys, Anonymous: true}, nil
	}
	return nil, ftpserver.ErrAuthFailed
}

func (a *testAuth) Authenticate(_ context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
	if pass != password && user != "anonymous" {
		return nil, ftpserver.ErrAuthFailed
	}
	return a.account(user)
}

func (a *testAuth) AuthenticatePublicKey(_ context.Context, _ ftpserver.ConnInfo, user string, key []byte) (*ftpserver.Account, error) {
	if k, ok := a.keys[user]; !ok || !bytes.Equal(k, key) {
		return nil, ftpserver.ErrAuthFailed
	}
	return a.account(user)
}

// recorder keeps the Observer's transfer records and login events.
type recorder struct {
	ftpserver.NopObserver
	mu        sync.Mutex
	transfers []ftpserver.TransferRecord
	logins    []ftpserver.LoginEvent
	ended     int
}

func (r *recorder) TransferEnded(rec ftpserver.TransferRecord) {
	r.mu.Lock()
	r.transfers = append(r.transfers, rec)
	r.mu.Unlock()
}

func (r *recorder) LoginAttempted(e ftpserver.LoginEvent) {
	r.mu.Lock()
	r.logins = append(r.logins, e)
	r.mu.Unlock()
}

func (r *recorder) SessionEnded(ftpserver.SessionInfo) {
	r.mu.Lock()
	r.ended++
	r.mu.Unlock()
}

// waitFor polls cond until it holds (testwait.For).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, cond)
}

// fixture is a running server over a temporary home.
type fixture struct {
	srv  *sftpserver.Server
	addr string
	port string
	dir  string // the home on disk
	auth *testAuth
	obs  *recorder
	// clientKey is alice's authorized key; keyFile its private key file
	// for OpenSSH.
	clientKey ssh.Signer
	keyFile   string
}

// start runs a server over a temporary home on local disk; configure
// may change it before it serves.
func start(t *testing.T, configure func(*sftpserver.Server)) *fixture {
	t.Helper()
	return startFS(t, nil, configure)
}

// startFS runs a server whose accounts all have fsys (nil: the
// temporary home on local disk, f.dir).
func startFS(t *testing.T, fsys ftpserver.FileSystem, configure func(*sftpserver.Server)) *fixture {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	clientKey := sftptest.WriteKey(t, keyFile)
	f := &fixture{
		dir:       home,
		auth:      &testAuth{dir: home, fsys: fsys, keys: map[string][]byte{"alice": clientKey.PublicKey().Marshal()}},
		obs:       &recorder{},
		clientKey: clientKey,
		keyFile:   keyFile,
	}
	f.srv = &sftpserver.Server{
		Auth:           f.auth,
		HostKeys:       []ssh.Signer{sftptest.NewSigner(t)},
		Observer:       f.obs,
		LoginFailDelay: -1,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if configure != nil {
		configure(f.srv)
	}
	f.addr = sftptest.Serve(t, f.srv)
	_, f.port, _ = net.SplitHostPort(f.addr)
	return f
}

// dial logs in with pkg/sftp's client.
func (f *fixture) dial(t *testing.T, user string, auth ssh.AuthMethod, opts ...sftp.ClientOption) *sftp.Client {
	t.Helper()
	c, err := f.tryDial(user, auth, opts...)
	if err != nil {
		t.Fatalf("login as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (f *fixture) tryDial(user string, auth ssh.AuthMethod, opts ...sftp.ClientOption) (*sftp.Client, error) {
	conn, err := ssh.Dial("tcp", f.addr, &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	c, err := sftp.NewClient(conn, opts...)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// randomFile writes n random bytes at path and returns them.
func randomFile(t testing.TB, path string, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// sshOptions are the options every OpenSSH run gets: a throw-away host
// key, no configuration or agent of the user running the tests.
func (f *fixture) sshOptions() []string {
	return []string{
		"-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR",
		"-o", "IdentityAgent=none",
		"-o", "ConnectTimeout=10",
	}
}

type runResult struct {
	out  string
	code int
}

// sftpBatch runs OpenSSH's sftp on batch as user, logging in with
// password (through sshpass) when pass is not empty, else with keyFile.
// cwd is the local directory.
func (f *fixture) sftpBatch(t *testing.T, cwd, user, pass, keyFile, batch string) runResult {
	t.Helper()
	sftpPath := testtool.Need(t, "sftp")
	args := f.sshOptions()
	var argv []string
	if pass != "" {
		// sftp -b adds BatchMode=yes, which forbids passwords; the first
		// value given wins, so this one, before -b, keeps them allowed.
		args = append(args, "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1")
		argv = append(argv, testtool.Need(t, "sshpass"), "-e", sftpPath)
	} else {
		args = append(args, "-o", "PasswordAuthentication=no", "-o", "IdentitiesOnly=yes", "-i", keyFile)
		argv = append(argv, sftpPath)
	}
	args = append(args, "-P", f.port, "-b", "-", user+"@127.0.0.1")
	return f.run(t, cwd, pass, batch, append(argv, args...))
}

func (f *fixture) run(t *testing.T, cwd, pass, stdin string, argv []string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "SSHPASS="+pass, "HOME="+t.TempDir())
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return runResult{string(out), 0}
	case errors.As(err, &ee):
		return runResult{string(out), ee.ExitCode()}
	}
	t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	return runResult{}
}

func (r runResult) String() string { return "exit " + strconv.Itoa(r.code) + ":\n" + r.out }

// firstDiff is the offset of the first byte where a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// records waits for n transfer records and returns them.
func (f *fixture) records(t *testing.T, n int) []ftpserver.TransferRecord {
	t.Helper()
	waitFor(t, strconv.Itoa(n)+" transfer records", func() bool {
		f.obs.mu.Lock()
		defer f.obs.mu.Unlock()
		return len(f.obs.transfers) >= n
	})
	f.obs.mu.Lock()
	defer f.obs.mu.Unlock()
	return append([]ftpserver.TransferRecord(nil), f.obs.transfers...)
}
