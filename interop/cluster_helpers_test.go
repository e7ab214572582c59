package interop

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goftp "github.com/jlaffaye/ftp"

	"github.com/ferry-ftp/ferry/internal/miniotest"
	"github.com/ferry-ftp/ferry/internal/pgtest"
)

// cluster is what the nodes of a ferry cluster share, and all they share:
// one PostgreSQL database of accounts and one bucket that holds the
// homes (s3://BUCKET/home/NAME).
type cluster struct {
	bin        string // the ferry binary, set by the test
	dsn        string
	minio      *miniotest.Server
	bucket     string
	secretFile string // the MinIO secret key, as an operator stores it
	env        []string
}

// newCluster makes a fresh database and bucket for one test's nodes.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	srv := miniotest.Shared(t)
	c := &cluster{
		dsn:    pgtest.NewDatabase(t),
		minio:  srv,
		bucket: miniotest.NewBucket(t, srv),
	}
	c.secretFile = filepath.Join(t.TempDir(), "s3-secret")
	writeFile(t, c.secretFile, []byte(srv.SecretKey+"\n"))
	// No AWS_* variable and no ~/.aws of the machine's user takes part:
	// the nodes get everything from their configuration file.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env, "HOME="+t.TempDir())
	return c
}

// home is the s3:// home of account name.
func (c *cluster) home(name string) string {
	return "s3://" + c.bucket + "/home/" + name
}

// ferryUser runs "ferry user ARGS... --db DSN" with stdin and fails the
// test unless it succeeds. bcrypt keeps the hashes quick on a loaded
// machine.
func (c *cluster) ferryUser(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	res := run(t, time.Minute, stdin, "", c.bin, append(append([]string{"user"}, args...), "--db", c.dsn)...)
	if res.exitCode != 0 {
		t.Fatalf("ferry user %s: %s", strings.Join(args, " "), res)
	}
	return res.stdout
}

// addUser adds an account with a writable s3:// home.
func (c *cluster) addUser(t *testing.T, name, pass string) {
	t.Helper()
	out := c.ferryUser(t, pass+"\n", "add", name, "--home", c.home(name), "--write", "--password-stdin", "--algo", "bcrypt")
	if !strings.Contains(out, `added user "`+name+`"`) {
		t.Fatalf("ferry user add %s said %q", name, out)
	}
}

// nextPassive numbers the nodes of a test binary, so that each gets a
// passive range of its own, as the nodes of a real cluster do.
var nextPassive atomic.Int32

// node is a running "ferry serve" of a cluster.
type node struct {
	addr   string // control address, 127.0.0.1:PORT
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan struct{}
	killed bool
}

// nodeListenLine is the line "ferry serve" prints with its address.
var nodeListenLine = regexp.MustCompile(`on (127\.0\.0\.1:\d+)`)

// startNode runs one node with the configuration a README reader would
// write (see README "Running a cluster"): the shared database and bucket,
// its own public_host and passive range. It is stopped (SIGTERM, then
// SIGKILL, by PID) when the test ends.
func (c *cluster) startNode(t *testing.T) *node {
	t.Helper()
	first := 47000 + 100*int(nextPassive.Add(1)%20)
	config := fmt.Sprintf(`listen = "127.0.0.1:0"
public_host = "127.0.0.1"
passive_ports = "%d-%d"
users_db = %q

[s3]
endpoint = %q
access_key = %q
secret_key_file = %q
`, first, first+99, c.dsn, c.minio.URL(), c.minio.AccessKey, c.secretFile)
	configFile := filepath.Join(t.TempDir(), "ferry.toml")
	writeFile(t, configFile, []byte(config))

	n := &node{logs: new(lockedBuffer), exited: make(chan struct{})}
	n.cmd = exec.Command(c.bin, "serve", "--config", configFile)
	n.cmd.Env = c.env
	n.cmd.Dir = t.TempDir() // the default root, which nobody uses here
	n.cmd.Stderr = n.logs
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		if !n.killed {
			n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.exited:
			case <-time.After(10 * time.Second):
				n.cmd.Process.Kill()
				<-n.exited
				t.Errorf("node %s did not stop on SIGTERM", n.addr)
			}
		}
		if t.Failed() {
			t.Logf("node %s log:\n%s", n.addr, n.logs)
		}
	})

	// The address comes first, then a line "  try: ..." once it serves.
	sc := bufio.NewScanner(stdout)
	var seen strings.Builder
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if m := nodeListenLine.FindStringSubmatch(sc.Text()); m != nil && n.addr == "" {
			n.addr = m[1]
		}
		if n.addr != "" && strings.HasPrefix(sc.Text(), "  try:") {
			go io.Copy(io.Discard, stdout)
			return n
		}
	}
	t.Fatalf("ferry serve did not start:\nstdout:\n%s\nstderr:\n%s", seen.String(), n.logs)
	return nil
}

// kill ends the node at once (SIGKILL by PID), as a machine that dies.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-n.exited
	n.killed = true
}

// url is an ftp:// URL of path p (starting with "/") on the node.
func (n *node) url(name, pass, p string) string {
	return "ftp://" + name + ":" + pass + "@" + n.addr + p
}

// login tries a login with jlaffaye/ftp and returns its error, nil when
// it worked; the connection is closed.
func (n *node) login(t *testing.T, name, pass string) error {
	t.Helper()
	c, err := goftp.Dial(n.addr, goftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("dialing node %s: %v", n.addr, err)
	}
	defer c.Quit()
	return c.Login(name, pass)
}

// dial logs in with jlaffaye/ftp; the connection is closed when the test
// ends.
func (n *node) dial(t *testing.T, name, pass string) *goftp.ServerConn {
	t.Helper()
	c, err := goftp.Dial(n.addr, goftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("dialing node %s: %v", n.addr, err)
	}
	t.Cleanup(func() { c.Quit() })
	if err := c.Login(name, pass); err != nil {
		t.Fatalf("login as %s on node %s: %v", name, n.addr, err)
	}
	return c
}
