package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/internal/testwait"
	"github.com/ferry-ftp/ferry/internal/xferlog"
)

var sftpLine = regexp.MustCompile(`SFTP at 127\.0\.0\.1:(\d+) \(host key (SHA256:\S+)\)`)

// TestServeSFTP: ferry serve with [sftp] listen makes a host key next to
// its configuration at first start (0600, fingerprint logged), serves
// the --user account to OpenSSH's sftp, and writes xferlog lines for
// SFTP transfers as for FTP ones.
func TestServeSFTP(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sftp", "sshpass"} {
		testtool.Need(t, name)
	}
	root, work, confDir := t.TempDir(), t.TempDir(), t.TempDir()
	logPath := filepath.Join(t.TempDir(), "xferlog")
	pwFile := filepath.Join(work, "pw")
	os.WriteFile(pwFile, []byte("s3cret\n"), 0o600)
	conf := filepath.Join(confDir, "ferry.toml")
	os.WriteFile(conf, []byte("[sftp]\nlisten = \"127.0.0.1:0\"\n"), 0o644)
	content := randomFile(t, filepath.Join(work, "up.bin"), 300_000)
	since := time.Now()
	_, welcome, logs := startServe(t, "--config", conf, "--listen", "127.0.0.1:0", "--root", root, "--user", "joe",
		"--password-file", pwFile, "--write", "--passive-ports", "", "--xferlog", logPath)
	m := sftpLine.FindStringSubmatch(welcome)
	if m == nil {
		t.Fatalf("no SFTP address in the welcome text:\n%s", welcome)
	}
	port, fingerprint := m[1], m[2]
	fi, err := os.Stat(filepath.Join(confDir, "ssh_host_ed25519_key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key next to the config: %v, %v", fi, err)
	}
	// The log is written in batches: poll.
	if !testwait.Poll(func() bool { return strings.Contains(logs.String(), fingerprint) }) {
		t.Fatalf("the log does not name the new key's fingerprint %s:\n%s", fingerprint, logs.String())
	}
	cmd := exec.Command("sshpass", "-e", "sftp", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
		"-P", port, "-b", "-", "joe@127.0.0.1")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "SSHPASS=s3cret", "HOME="+work)
	cmd.Stdin = strings.NewReader("put up.bin\nget up.bin back.bin\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "up.bin")); !bytes.Equal(got, content) {
		t.Fatal("the upload differs")
	}
	if got, _ := os.ReadFile(filepath.Join(work, "back.bin")); !bytes.Equal(got, content) {
		t.Fatal("the download differs")
	}
	entries, lines := xferlogEntries(t, logPath, 2)
	checkEntry(t, lines[0], entries[0], xferlog.Entry{Bytes: 300_000, Filename: "/up.bin", Type: "b",
		Direction: "i", AccessMode: "r", Username: "joe", Service: "sftp", Complete: true}, since)
	checkEntry(t, lines[1], entries[1], xferlog.Entry{Bytes: 300_000, Filename: "/up.bin", Type: "b",
		Direction: "o", AccessMode: "r", Username: "joe", Service: "sftp", Complete: true}, since)
}

// TestCertSSHHostKey: ferry cert --ssh-host-key writes a key OpenSSH
// reads, mode 0600, and does not overwrite one without --force.
func TestCertSSHHostKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hostkey")
	var out bytes.Buffer
	if err := Run(t.Context(), Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}, []string{"cert", "--ssh-host-key", path}); err != nil {
		t.Fatalf("cert --ssh-host-key: %v\n%s", err, out.String())
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if keygen, err := exec.LookPath("ssh-keygen"); err == nil {
		pub, err := exec.Command(keygen, "-l", "-f", path).CombinedOutput()
		if err != nil || !strings.Contains(out.String(), strings.Fields(string(pub))[1]) {
			t.Errorf("ssh-keygen -l: %s (%v); ferry printed:\n%s", pub, err, out.String())
		}
	}
	before, _ := os.ReadFile(path)
	if err := Run(t.Context(), Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}, []string{"cert", "--ssh-host-key", path}); err == nil {
		t.Error("an existing key was overwritten without --force")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the key changed")
	}
}

// TestServeSFTPAuthorizedKey: ferry user add --authorized-key lets the
// key log in over SFTP; user mod --clear-authorized-keys --authorized-key
// swaps it for another, which counts at the next login.
func TestServeSFTPAuthorizedKey(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sftp", "ssh-keygen"} {
		testtool.Need(t, name)
	}
	dir, root := t.TempDir(), t.TempDir()
	for _, k := range []string{"id1", "id2"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	usersFile := filepath.Join(dir, "users.toml")
	user := func(args ...string) {
		t.Helper()
		if _, stderr, err := runUser(t, usersFile, "pw\n", args...); err != nil {
			t.Fatalf("user %v: %v\n%s", args, err, stderr)
		}
	}
	user("add", "alice", "--home", root, "--password-stdin", "--algo", "bcrypt", "--write", "--authorized-key", filepath.Join(dir, "id1.pub"))
	if _, _, err := runUser(t, usersFile, "", "mod", "alice", "--authorized-key", filepath.Join(dir, "id1")); err == nil {
		t.Error("a private key file was taken as an authorized key")
	}
	conf := filepath.Join(dir, "ferry.toml")
	os.WriteFile(conf, []byte("users_file = \"users.toml\"\n[sftp]\nlisten = \"127.0.0.1:0\"\n"), 0o600)
	_, welcome, _ := startServe(t, "--config", conf, "--listen", "127.0.0.1:0", "--passive-ports", "")
	m := sftpLine.FindStringSubmatch(welcome)
	if m == nil {
		t.Fatalf("no SFTP address in the welcome text:\n%s", welcome)
	}
	login := func(key string) error {
		cmd := exec.Command("sftp", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "IdentityAgent=none", "-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no",
			"-i", filepath.Join(dir, key), "-P", m[1], "-b", "-", "alice@127.0.0.1")
		cmd.Env = append(os.Environ(), "HOME="+dir)
		cmd.Stdin = strings.NewReader("mkdir by-" + key + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := login("id1"); err != nil {
		t.Fatalf("authorized key refused: %v", err)
	}
	if err := login("id2"); err == nil {
		t.Fatal("a key not authorized logged in")
	}
	user("mod", "alice", "--clear-authorized-keys", "--authorized-key", filepath.Join(dir, "id2.pub"))
	if err := login("id2"); err != nil {
		t.Fatalf("the newly authorized key refused: %v", err)
	}
	if err := login("id1"); err == nil {
		t.Fatal("a removed key still logged in")
	}
	for _, d := range []string{"by-id1", "by-id2"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s not made: %v", d, err)
		}
	}
}
