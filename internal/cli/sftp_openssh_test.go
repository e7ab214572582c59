package cli

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-ftp/ferry/internal/sftptest"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// startOpenSSH runs OpenSSH's sshd on a loopback port with a temporary
// configuration: host key, the user's authorized key, the sftp
// subsystem. It returns the address and a known_hosts file for it. sshd
// must run as root; elsewhere the test is skipped, in CI it fails.
func startOpenSSH(t *testing.T, userKey ssh.PublicKey) (addr, known string) {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if sshd, err = exec.LookPath("/usr/sbin/sshd"); err != nil {
			skip("OpenSSH's sshd is not installed")
		}
	}
	sftpServer := "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(sftpServer); err != nil {
		skip("no %s", sftpServer)
	}
	if os.Geteuid() != 0 {
		t.Skip("sshd needs root")
	}
	dir := t.TempDir()
	hostKeyFile := filepath.Join(dir, "host_ed25519")
	hostKey := sftptest.WriteKey(t, hostKeyFile)
	authorized := filepath.Join(dir, "authorized_keys")
	writeFile(t, authorized, ssh.MarshalAuthorizedKey(userKey), 0o600)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close() // sshd listens itself; the port stays free meanwhile in practice
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "sshd_config")
	writeFile(t, conf, []byte(strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"Port " + port,
		"HostKey " + hostKeyFile,
		"AuthorizedKeysFile " + authorized,
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"StrictModes no",
		"UsePAM no",
		"PidFile none",
		"Subsystem sftp " + sftpServer,
		"",
	}, "\n")), 0o600)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	testwait.For(t, "sshd listening on "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("sshd exited:\n%s", logs)
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	known = filepath.Join(dir, "known_hosts")
	writeFile(t, known, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostKey.PublicKey())+"\n"), 0o600)
	return addr, known
}

// ferry get and put against OpenSSH's server, with a key login.
func TestSFTPAgainstOpenSSH(t *testing.T) {
	t.Parallel()
	ts := sftptest.Start(t) // for its client key file
	addr, known := startOpenSSH(t, ts.UserKey.PublicKey())
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := randomData(5<<20+3, 16)
	local := filepath.Join(dir, "a.bin")
	writeFile(t, local, data, 0o644)
	mtime := time.Date(2023, 4, 5, 6, 7, 8, 0, time.UTC)
	os.Chtimes(local, mtime, mtime)
	url := "sftp://" + me.Username + "@" + addr + dir
	mustFerry(t, "put", "-i", ts.KeyFile, "--known-hosts", known, local, url+"/b.bin")
	sameContent(t, filepath.Join(dir, "b.bin"), data)
	if fi, _ := os.Stat(filepath.Join(dir, "b.bin")); !fi.ModTime().Equal(mtime) {
		t.Errorf("mtime on the server %v, want %v", fi.ModTime(), mtime)
	}
	got := filepath.Join(dir, "c.bin")
	mustFerry(t, "get", "-i", ts.KeyFile, "--known-hosts", known, url+"/b.bin", got)
	sameContent(t, got, data)

	// Resume on OpenSSH's server: the remote file holds the first part.
	writeFile(t, filepath.Join(dir, "d.bin"), data[:1<<20+1], 0o644)
	mustFerry(t, "put", "-c", "-i", ts.KeyFile, "--known-hosts", known, local, url+"/d.bin")
	sameContent(t, filepath.Join(dir, "d.bin"), data)

	out, _ := mustFerry(t, "ls", "-i", ts.KeyFile, "--known-hosts", known, url+"/")
	if out != "a.bin\nb.bin\nc.bin\nd.bin\n" {
		t.Errorf("ls: %q", out)
	}
}

func writeFile(t *testing.T, name string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, data, mode); err != nil {
		t.Fatal(err)
	}
}
