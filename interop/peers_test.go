package interop

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/internal/testcert"
)

// The peers: real FTP servers from Debian, run by the tests below beside
// ferry itself so that the same table of client tests runs against all.
//
// scripts/test installs them and says where they are through these
// variables; without them the usual places are tried:
//
//	FERRY_PEER_VSFTPD    vsftpd (apt-get install vsftpd; default: PATH, /usr/sbin)
//	FERRY_PEER_PUREFTPD  pure-ftpd unpacked with dpkg -x, since Debian's FTP
//	                     server packages conflict (default: under
//	                     /var/cache/ferry-peers/pure-ftpd); pure-pw is found
//	                     beside it (../bin/pure-pw)
//	FERRY_PEER_PYTHON    a python3 that can import pyftpdlib (default:
//	                     /usr/bin/python3, where python3-pyftpdlib installs)
//
// vsftpd and Pure-FTPd run their sessions as a system account, which needs
// root: the harness creates the account peerAccount when it is missing.
// A peer that is missing, or that cannot run without root, skips its
// subtests on a developer machine and fails them in CI.

// peerAccount is the system account vsftpd logs in through PAM and
// Pure-FTPd's virtual user runs as. Its home is "/" (vsftpd changes to the
// home before going to local_root) and its password is password.
const peerAccount = "ferrypeer"

// peerPasswordHash is password ("secret") in SHA-512 crypt, as chpasswd -e
// and Pure-FTPd's passwd file take it: a fixed salt, so it is a constant,
// and a cheap hash, so the many logins of a parallel mirror stay fast
// (pure-pw would pick Argon2id at about a second per login).
const peerPasswordHash = "$6$ferrypeersalt$UM4kdXQk4S8qoXDWCh7YKKnoS64zdEX3zY884Qz6haasaiYfQt188q8/X/fJpU.xzEdxEvOysJr8Bqmy4GKGn/"

// peerCacheDir is where scripts/test unpacks the peers that cannot be
// installed with apt-get.
const peerCacheDir = "/var/cache/ferry-peers"

// peer is a running FTP server that the client tests talk to.
type peer struct {
	name       string
	host       string
	port       int
	user, pass string
	// home is the directory on disk that is the login directory.
	home string
	// caFile is the PEM file of the certificate of an FTPS peer.
	caFile string
	// uid and gid own what the server writes; files a test puts in home
	// must be theirs too (see settle). -1 when the server runs as the test.
	uid, gid int
	// logs returns what the server logged, for failure messages.
	logs func() string
}

func (p *peer) addr() string { return net.JoinHostPort(p.host, strconv.Itoa(p.port)) }

// url is an ftp:// URL (or scheme://) with the peer's credentials naming
// rel, a slash-separated path relative to the login directory.
func (p *peer) url(rel string) string { return p.schemeURL("ftp", rel) }

func (p *peer) schemeURL(scheme, rel string) string {
	u := url.URL{Scheme: scheme, User: url.UserPassword(p.user, p.pass), Host: p.addr(), Path: "/" + rel}
	return u.String()
}

// local is the file on disk behind rel.
func (p *peer) local(rel string) string { return filepath.Join(p.home, filepath.FromSlash(rel)) }

// writeFile puts a file below the login directory, as the server's
// account would have.
func (p *peer) writeFile(t *testing.T, rel string, data []byte) {
	t.Helper()
	writeFile(t, p.local(rel), data)
	p.settle(t)
}

// settle gives everything below the login directory to the server's
// account, after a test wrote there as root.
func (p *peer) settle(t *testing.T) {
	t.Helper()
	if p.uid < 0 {
		return
	}
	err := filepath.WalkDir(p.home, func(name string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(name, p.uid, p.gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dial logs in with ftpclient; the client is closed when the test ends.
func (p *peer) dial(t *testing.T, opts ...ftpclient.Option) *ftpclient.Client {
	t.Helper()
	opts = append([]ftpclient.Option{
		ftpclient.WithLogin(p.user, p.pass),
		ftpclient.WithTimeout(30 * time.Second),
	}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ftpclient.Dial(ctx, p.addr(), opts...)
	if err != nil {
		t.Fatalf("%s: Dial: %v", p.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// peerKind is one server program the tests run.
type peerKind struct {
	name  string
	start func(t *testing.T) *peer
}

// peerKinds are ferry and the three real servers, in that order.
var peerKinds = []peerKind{
	{"ferry", startFerryPeer},
	{"vsftpd", func(t *testing.T) *peer { return startVsftpd(t, nil) }},
	{"pure-ftpd", startPureFTPd},
	{"pyftpdlib", startPyftpdlib},
}

// forEachPeer runs test as a subtest against a fresh instance of each
// peer.
func forEachPeer(t *testing.T, test func(t *testing.T, p *peer)) {
	for _, kind := range peerKinds {
		t.Run(kind.name, func(t *testing.T) {
			p := kind.start(t)
			if t.Failed() {
				return
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s log (last 8 KiB):\n%s", p.name, lastBytes(p.logs(), 8<<10))
				}
			})
			test(t, p)
		})
	}
}

func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// peerMissing skips the test on a developer machine and fails it in CI,
// where scripts/test installs every peer.
func peerMissing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI must have it (scripts/test installs the peers)", msg)
	}
	t.Skipf("%s; run scripts/test as root to install the peers", msg)
}

// findPeer returns the program the environment variable env names, or the
// first of the candidates (absolute paths or names looked up in PATH) that
// exists.
func findPeer(env string, candidates ...string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, c := range candidates {
		if filepath.IsAbs(c) {
			if _, err := os.Stat(c); err == nil {
				return c
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// --- ferry -----------------------------------------------------------------

func startFerryPeer(t *testing.T) *peer {
	ts := startServer(t)
	return &peer{
		name: "ferry", host: ts.host, port: ts.port, user: user, pass: password,
		home: ts.root, uid: -1, gid: -1, logs: ts.logs.String,
	}
}

// --- the system account ------------------------------------------------------

var (
	accountOnce     sync.Once
	accountUID      int
	accountGID      int
	accountErr      error
	accountNotAdmin bool
)

// needPeerAccount makes sure peerAccount exists with the password and
// returns its uid and gid.
func needPeerAccount(t *testing.T) (uid, gid int) {
	t.Helper()
	accountOnce.Do(func() {
		if os.Geteuid() != 0 {
			accountNotAdmin = true
			return
		}
		accountUID, accountGID, accountErr = ensurePeerAccount()
	})
	if accountNotAdmin {
		peerMissing(t, "vsftpd and Pure-FTPd need root (to log in a system account)")
	}
	if accountErr != nil {
		t.Fatalf("system account %s: %v", peerAccount, accountErr)
	}
	return accountUID, accountGID
}

func ensurePeerAccount() (uid, gid int, err error) {
	runTool := func(stdin string, name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	u, err := osuser.Lookup(peerAccount)
	if err != nil {
		err = runTool("", "useradd", "--system", "--no-create-home", "--home-dir", "/",
			"--shell", "/bin/sh", peerAccount)
		if err != nil {
			return 0, 0, err
		}
		if u, err = osuser.Lookup(peerAccount); err != nil {
			return 0, 0, err
		}
	} else if u.HomeDir != "/" {
		if err := runTool("", "usermod", "--home", "/", "--shell", "/bin/sh", peerAccount); err != nil {
			return 0, 0, err
		}
	}
	if err := runTool(peerAccount+":"+peerPasswordHash+"\n", "chpasswd", "-e"); err != nil {
		return 0, 0, err
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// peerHome makes the login directory of a peer that runs as the account:
// a directory of its own below a test directory that it can reach.
func peerHome(t *testing.T, uid, gid int) string {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir's parent is private (0700); the servers check the path
	// as the account before they chroot into it.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	return home
}

// --- ports -----------------------------------------------------------------

// A peer gets a block of peerPortBlock ports: the first for control
// connections, the rest its passive range. Blocks are taken from above
// the kernel's ephemeral range (32768-60999 by default), so no client's
// outgoing connection holds a port a server wants, and away from the
// ranges bench/run uses (12110-29999).
const (
	peerPortFirst = 61000
	peerPortLast  = 65535
	peerPortBlock = 48
)

var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{} // first port of the blocks in use in this process
)

// portBlock reserves a block of ports that are free now, until the test
// ends. Another process may take one of them in the meantime: startPeer
// tries again with another block when the server cannot listen.
func portBlock(t *testing.T) (control, passiveMin, passiveMax int) {
	t.Helper()
	blocks := (peerPortLast - peerPortFirst + 1) / peerPortBlock
	for range 100 {
		first := peerPortFirst + rand.IntN(blocks)*peerPortBlock
		portsMu.Lock()
		if portsUsed[first] {
			portsMu.Unlock()
			continue
		}
		portsUsed[first] = true
		portsMu.Unlock()
		if portsFree(first, first+peerPortBlock-1) {
			t.Cleanup(func() {
				portsMu.Lock()
				delete(portsUsed, first)
				portsMu.Unlock()
			})
			return first, first + 1, first + peerPortBlock - 1
		}
		portsMu.Lock()
		delete(portsUsed, first)
		portsMu.Unlock()
	}
	t.Fatal("no free block of ports for a peer server")
	return 0, 0, 0
}

func portsFree(lo, hi int) bool {
	var listeners []net.Listener
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	for port := lo; port <= hi; port++ {
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return false
		}
		listeners = append(listeners, ln)
	}
	return true
}

// --- processes -------------------------------------------------------------

// peerProcess is a server program started by a test.
type peerProcess struct {
	cmd    *exec.Cmd
	output *lockedBuffer
	exited chan struct{}
}

// startProcess runs a server in a process group of its own (its session
// processes join it), waits until it accepts connections on port and
// stops the whole group when the test ends. It returns nil when the
// program exited before it listened, with its output in the error.
func startProcess(t *testing.T, port int, env []string, name string, args ...string) (*peerProcess, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out := &lockedBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	pp := &peerProcess{cmd: cmd, output: out, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(pp.exited)
	}()
	t.Cleanup(pp.stop)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-pp.exited:
			return nil, fmt.Errorf("%s exited before it listened (%v):\n%s", name, cmd.ProcessState, out.String())
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return pp, nil
		}
		if time.Now().After(deadline) {
			pp.stop()
			t.Fatalf("%s does not listen on %s after 15s:\n%s", name, addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the server and its session processes: SIGTERM to the group,
// SIGKILL to what is left after a few seconds.
func (pp *peerProcess) stop() {
	pgid := pp.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-pp.exited:
	case <-time.After(5 * time.Second):
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-pp.exited
	// Session processes may outlive the leader for a moment.
	for range 250 {
		if !groupAlive(pgid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupAlive reports whether a process of the group pgid is still
// running. Zombies do not count: a server's session processes that exit
// after it are reparented and reaped when init gets to it.
func groupAlive(pgid int) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// "pid (comm) state ppid pgrp ...": comm may hold anything, so
		// the fields are counted after its closing parenthesis.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 3 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(fields[2]); g == pgid {
			return true
		}
	}
	return false
}

// startPeer starts a server with a fresh block of ports, up to three
// times when it cannot listen (another process took a port meanwhile).
func startPeer(t *testing.T, launch func(control, passiveMin, passiveMax int) (*peerProcess, error)) (*peerProcess, int) {
	t.Helper()
	var lastErr error
	for range 3 {
		control, lo, hi := portBlock(t)
		pp, err := launch(control, lo, hi)
		if err == nil {
			return pp, control
		}
		lastErr = err
	}
	t.Fatal(lastErr)
	return nil, 0
}

// --- vsftpd ----------------------------------------------------------------

// vsftpdConfig fills testdata/peers/vsftpd.conf.
type vsftpdConfig struct {
	Port                   int
	PassiveMin, PassiveMax int
	Home, EmptyDir         string
	LogFile                string
	CertFile, KeyFile      string
}

// startVsftpd starts vsftpd; with a certificate it is FTPS only
// (force_local_logins_ssl, force_local_data_ssl) with require_ssl_reuse.
func startVsftpd(t *testing.T, cert *testcert.Pair) *peer {
	t.Helper()
	bin := findPeer("FERRY_PEER_VSFTPD", "vsftpd", "/usr/sbin/vsftpd")
	if bin == "" {
		peerMissing(t, "vsftpd is not installed")
	}
	uid, gid := needPeerAccount(t)
	home := peerHome(t, uid, gid)
	dir := t.TempDir()
	conf := vsftpdConfig{
		Home:     home,
		EmptyDir: filepath.Join(dir, "empty"),
		LogFile:  filepath.Join(dir, "vsftpd.log"),
	}
	if err := os.Mkdir(conf.EmptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &peer{name: "vsftpd", host: "127.0.0.1", user: peerAccount, pass: password, home: home, uid: uid, gid: gid}
	if cert != nil {
		conf.CertFile, conf.KeyFile = cert.WriteFiles(t, dir)
		p.caFile = conf.CertFile
	}
	tmpl := template.Must(template.ParseFiles(filepath.Join("testdata", "peers", "vsftpd.conf")))
	confFile := filepath.Join(dir, "vsftpd.conf")
	var pp *peerProcess
	pp, p.port = startPeer(t, func(control, lo, hi int) (*peerProcess, error) {
		conf.Port, conf.PassiveMin, conf.PassiveMax = control, lo, hi
		var b bytes.Buffer
		if err := tmpl.Execute(&b, conf); err != nil {
			t.Fatal(err)
		}
		// vsftpd wants its configuration file to belong to root and be
		// writable by no one else.
		if err := os.WriteFile(confFile, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return startProcess(t, control, nil, bin, confFile)
	})
	p.logs = func() string {
		log, _ := os.ReadFile(conf.LogFile)
		return pp.output.String() + string(log)
	}
	return p
}

// --- Pure-FTPd -------------------------------------------------------------

// startPureFTPd starts Pure-FTPd with a virtual user (user/password) in a
// PureDB of its own, running as peerAccount, chrooted into its home.
func startPureFTPd(t *testing.T) *peer {
	t.Helper()
	bin := findPeer("FERRY_PEER_PUREFTPD", filepath.Join(peerCacheDir, "pure-ftpd", "usr", "sbin", "pure-ftpd"), "pure-ftpd")
	if bin == "" {
		peerMissing(t, "pure-ftpd is not installed")
	}
	purePW := filepath.Join(filepath.Dir(filepath.Dir(bin)), "bin", "pure-pw")
	if _, err := os.Stat(purePW); err != nil {
		if purePW = findPeer("FERRY_PEER_PUREPW", "pure-pw"); purePW == "" {
			peerMissing(t, "pure-pw (beside pure-ftpd) is not installed")
		}
	}
	uid, gid := needPeerAccount(t)
	home := peerHome(t, uid, gid)
	dir := t.TempDir()
	// The passwd file's format: user:hash:uid:gid:gecos:home/./ (the
	// "/./" chroots the user there) and ten optional limits.
	passwd := filepath.Join(dir, "pureftpd.passwd")
	line := fmt.Sprintf("%s:%s:%d:%d::%s/./::::::::::::\n", user, peerPasswordHash, uid, gid, home)
	if err := os.WriteFile(passwd, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	pdb := filepath.Join(dir, "pureftpd.pdb")
	if out, err := exec.Command(purePW, "mkdb", pdb, "-f", passwd).CombinedOutput(); err != nil {
		t.Fatalf("pure-pw mkdb: %v\n%s", err, out)
	}
	p := &peer{name: "pure-ftpd", host: "127.0.0.1", user: user, pass: password, home: home, uid: uid, gid: gid}
	var pp *peerProcess
	pp, p.port = startPeer(t, func(control, lo, hi int) (*peerProcess, error) {
		return startProcess(t, control, nil, bin,
			"--bind", "127.0.0.1,"+strconv.Itoa(control),
			"--passiveportrange", fmt.Sprintf("%d:%d", lo, hi),
			"--login", "puredb:"+pdb,
			"--noanonymous",
			"--chrooteveryone",
			"--dontresolve",
			"--maxclientsnumber", "100",
			"--maxclientsperip", "100",
			"--maxidletime", "2",
			"--umask", "133:022",
		)
	})
	// Pure-FTPd logs to syslog only: a failing test shows what it
	// printed on start, and the client's side of the conversation.
	p.logs = pp.output.String
	return p
}

// --- pyftpdlib -------------------------------------------------------------

// pythonWithPyftpdlib finds a python3 that can import pyftpdlib, and the
// PYTHONPATH it needs: python3 on PATH may be another installation than
// Debian's (pyenv), which does not see /usr/lib/python3/dist-packages.
func pythonWithPyftpdlib() (python string, env []string) {
	candidates := []string{os.Getenv("FERRY_PEER_PYTHON"), "/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, extra := range [][]string{nil, {"PYTHONPATH=/usr/lib/python3/dist-packages"}} {
		for _, py := range candidates {
			if py == "" {
				continue
			}
			cmd := exec.Command(py, "-c", "import pyftpdlib")
			cmd.Env = append(os.Environ(), extra...)
			if cmd.Run() == nil {
				return py, extra
			}
		}
	}
	return "", nil
}

var pyftpdlibOnce = sync.OnceValues(pythonWithPyftpdlib)

// startPyftpdlib starts pyftpdlib's stand-alone server with one user who
// may write. It runs as the test's own user.
func startPyftpdlib(t *testing.T) *peer {
	t.Helper()
	python, env := pyftpdlibOnce()
	if python == "" {
		peerMissing(t, "pyftpdlib is not installed (python3-pyftpdlib)")
	}
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	// File names are UTF-8 whatever the locale.
	env = append(env, "LC_ALL=C.UTF-8", "PYTHONUTF8=1")
	p := &peer{name: "pyftpdlib", host: "127.0.0.1", user: user, pass: password, home: home, uid: -1, gid: -1}
	var pp *peerProcess
	pp, p.port = startPeer(t, func(control, lo, hi int) (*peerProcess, error) {
		return startProcess(t, control, env, python, "-m", "pyftpdlib",
			"-i", "127.0.0.1", "-p", strconv.Itoa(control),
			"-r", fmt.Sprintf("%d-%d", lo, hi),
			"-u", user, "-P", password, "-d", home, "-w")
	})
	p.logs = pp.output.String
	return p
}

// TestPeersStart checks that every peer starts and logs our user in: the
// harness itself, so that a broken peer shows here first.
func TestPeersStart(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		c := p.dial(t)
		if _, err := c.List(context.Background(), "."); err != nil {
			t.Fatalf("List: %v", err)
		}
		t.Logf("%s on %s: FEAT %v, home %q", p.name, p.addr(), c.Features().Names(), c.Home())
	})
}
