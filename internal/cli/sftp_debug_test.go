package cli

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/internal/sftptest"
)

// TestSFTPDebugTrace: --debug prints, for sftp:// as for ftp://, what
// the client does: the SSH connection (server version, host key and its
// check, algorithms, login method) and each SFTP operation with its
// paths and result, on stderr, with no password in it.
func TestSFTPDebugTrace(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	data := []byte("hello, trace\n")
	local := t.TempDir() + "/up.txt"
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	hostKey := ts.HostKeys[0].PublicKey()
	connection := []string{
		"sftp[1] > connect " + ts.Addr + " as " + sftptest.User,
		"sftp[1] < host key ssh-ed25519 " + ssh.FingerprintSHA256(hostKey) + ": ok, trusted",
		"sftp[1] < server SSH-2.0-",
		"sftp[1] < kex ",
		", host key algorithm ssh-ed25519, cipher ",
		"sftp[1] < logged in as " + sftptest.User + " with password",
		"sftp[1] > subsystem sftp",
		"sftp[1] < subsystem sftp: ok",
		"sftp[1] > realpath .",
		"sftp[1] < realpath .: ok, /",
	}

	_, stderr := ts.mustRun(t, "put", "--debug", local, ts.url("/up.txt"))
	sameContent(t, ts.file("up.txt"), data)
	wantTrace(t, "put", stderr, append(connection,
		"sftp[1] > open /up.txt (write,creat,trunc)",
		"sftp[1] < open /up.txt (write,creat,trunc): ok",
		"sftp[1] < write and close /up.txt: ok, 13 bytes",
	)...)

	_, stderr = ts.mustRun(t, "cat", "--debug", ts.url("/up.txt"))
	wantTrace(t, "cat", stderr, append(connection,
		"sftp[1] > open /up.txt (read)",
		"sftp[1] < open /up.txt (read): ok",
		"sftp[1] < read and close /up.txt: ok, 13 bytes",
	)...)

	ts.mustRun(t, "mkdir", ts.url("/d"))
	_, stderr = ts.mustRun(t, "mv", "--debug", ts.url("/up.txt"), "/d/moved.txt")
	wantTrace(t, "mv", stderr, "sftp[1] > rename /up.txt /d/moved.txt", "sftp[1] < rename /up.txt /d/moved.txt: ok")

	_, stderr, err := ts.run(t, "ls", "--debug", ts.url("/missing/"))
	if err == nil {
		t.Fatal("ls of a missing directory succeeded")
	}
	wantTrace(t, "ls of a missing directory", stderr, "sftp[1] > list /missing", "sftp[1] < list /missing: ")

	// A key login names the key; the password never shows.
	_, stderr = ts.mustRun(t, "ls", "--debug", "-i", ts.KeyFile,
		"sftp://"+sftptest.User+"@"+ts.Addr+"/d/")
	wantTrace(t, "ls with a key", stderr, "sftp[1] < logged in as "+sftptest.User+" with publickey ssh-ed25519 "+ssh.FingerprintSHA256(ts.UserKey.PublicKey()))

	// Without --debug, no trace.
	_, stderr = ts.mustRun(t, "ls", ts.url("/d/"))
	if strings.Contains(stderr, "sftp[") {
		t.Errorf("ls without --debug traced:\n%s", stderr)
	}
}

// TestSFTPDebugTraceRSAOpenSSH: the trace's watch on the login keeps an
// RSA key signing with SHA-2, which OpenSSH's server requires (it
// refuses ssh-rsa's SHA-1), and names the key that logged in.
func TestSFTPDebugTraceRSAOpenSSH(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_rsa")
	writeFile(t, keyFile, pem.EncodeToMemory(block), 0o600)
	addr, known := startOpenSSH(t, signer.PublicKey())
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	_, stderr := mustFerry(t, "ls", "--debug", "-i", keyFile, "--known-hosts", known, "sftp://"+me.Username+"@"+addr+dir+"/")
	wantTrace(t, "ls on OpenSSH", stderr,
		"sftp[1] < server SSH-2.0-OpenSSH",
		"sftp[1] < logged in as "+me.Username+" with publickey ssh-rsa "+ssh.FingerprintSHA256(signer.PublicKey()),
		"sftp[1] > list "+dir,
		"sftp[1] < list "+dir+": ok")
}

// wantTrace checks that each of want is in the trace, in this order,
// and that the password is not.
func wantTrace(t *testing.T, what, trace string, want ...string) {
	t.Helper()
	rest := trace
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s --debug: %q missing (or out of order) in:\n%s", what, w, trace)
			return
		}
		rest = rest[i+len(w):]
	}
	if strings.Contains(trace, sftptest.Password) {
		t.Errorf("%s --debug shows the password:\n%s", what, trace)
	}
}
