package sftpclient_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-ftp/ferry/internal/sftptest"
	"github.com/ferry-ftp/ferry/sftpclient"
)

func dialErr(t *testing.T, s *server, cfg *sftpclient.Config) error {
	t.Helper()
	c, err := sftpclient.Dial(testContext(t), s.Addr, cfg)
	if err == nil {
		c.Close()
	}
	return err
}

func TestUnknownHostRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cfg := s.config()
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "none")
	err := dialErr(t, s, cfg)
	if !errors.Is(err, sftpclient.ErrUnknownHost) {
		t.Fatalf("Dial: %v, want ErrUnknownHost", err)
	}
	fp := ssh.FingerprintSHA256(s.HostKeys[0].PublicKey())
	if !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "accept-new") {
		t.Errorf("error %q names neither the fingerprint %s nor how to accept it", err, fp)
	}
	if _, serr := os.Stat(cfg.KnownHostsFile); !os.IsNotExist(serr) {
		t.Errorf("a refused host was written to known_hosts: %v", serr)
	}
}

func TestAcceptNewHostKey(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cfg := s.config()
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "ssh", "known_hosts")
	cfg.HostKeyPolicy = sftpclient.AcceptNew
	var added []string
	cfg.HostKeyAdded = func(host string, key ssh.PublicKey, file string) { added = append(added, host) }
	c := s.dial(t, cfg)
	// A cancelled transfer closes the connection: the client dials again,
	// and must not add the key a second time.
	if err := os.WriteFile(s.File("f"), randomBytes(t, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testContext(t))
	if _, err := c.Retrieve(ctx, "f", 0, &cancelWriter{cancel: cancel}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Retrieve: %v", err)
	}
	if _, err := c.Stat(testContext(t), "f"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.dial(t, cfg).Close()
	_, port, _ := net.SplitHostPort(s.Addr)
	want := "[127.0.0.1]:" + port
	if len(added) != 1 || added[0] != want {
		t.Errorf("keys added: %q, want one for %s", added, want)
	}
	data, err := os.ReadFile(cfg.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	checkHashedEntry(t, data, want, s.HostKeys[0].PublicKey())
	// Now a strict client knows it.
	cfg.HostKeyPolicy = sftpclient.Strict
	s.dial(t, cfg).Close()
	checkOpenSSHKnows(t, s, cfg.KnownHostsFile, want)
}

// checkHashedEntry: data is one known_hosts line for key whose name is
// host hashed (|1|salt|hash) as OpenSSH's HashKnownHosts writes it.
func checkHashedEntry(t *testing.T, data []byte, host string, key ssh.PublicKey) {
	t.Helper()
	marker, hosts, got, _, rest, err := ssh.ParseKnownHosts(data)
	if err != nil {
		t.Fatalf("known_hosts %q: %v", data, err)
	}
	if len(rest) != 0 || marker != "" || len(hosts) != 1 || !bytes.Equal(got.Marshal(), key.Marshal()) {
		t.Fatalf("known_hosts = %q, want one line with the host key", data)
	}
	fields := strings.Split(hosts[0], "|")
	if len(fields) != 4 || fields[0] != "" || fields[1] != "1" || strings.Contains(string(data), "127.0.0.1") {
		t.Fatalf("known_hosts name %q is not hashed", hosts[0])
	}
	salt, err := base64.StdEncoding.DecodeString(fields[2])
	if err != nil || len(salt) != sha1.Size {
		t.Fatalf("salt %q: %d bytes, %v; want %d", fields[2], len(salt), err, sha1.Size)
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	if wantHash := base64.StdEncoding.EncodeToString(mac.Sum(nil)); fields[3] != wantHash {
		t.Errorf("hash %q, want HMAC-SHA1(salt, %q) = %q", fields[3], host, wantHash)
	}
}

// checkOpenSSHKnows: OpenSSH finds host in file (ssh-keygen -F) and its
// sftp connects to s trusting only file.
func checkOpenSSHKnows(t *testing.T, s *server, file, host string) {
	t.Helper()
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen not installed")
	}
	out, err := exec.Command(keygen, "-F", host, "-f", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "# Host "+host+" found: line 1") {
		t.Errorf("ssh-keygen -F %s: %v\n%s", host, err, out)
	}
	sftp, err := exec.LookPath("sftp")
	if err != nil {
		t.Skip("OpenSSH sftp not installed")
	}
	hostIP, port, _ := net.SplitHostPort(s.Addr)
	ctx := testContext(t)
	cmd := exec.CommandContext(ctx, sftp, "-b", "-", "-P", port,
		"-F", "/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile="+file,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityFile="+s.KeyFile,
		"-o", "BatchMode=yes",
		sftptest.User+"@"+hostIP)
	cmd.Stdin = strings.NewReader("pwd\n")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Remote working directory: /") {
		t.Errorf("OpenSSH sftp with the known_hosts ferry wrote: %v\n%s", err, out)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	other := newSigner(t)
	cfg := s.config()
	cfg.HostKeyPolicy = sftpclient.AcceptNew // never for a changed key
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, other.PublicKey())
	if err := os.WriteFile(cfg.KnownHostsFile, []byte("# comment\n"+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := dialErr(t, s, cfg)
	if !errors.Is(err, sftpclient.ErrHostKeyChanged) {
		t.Fatalf("Dial: %v, want ErrHostKeyChanged", err)
	}
	for _, want := range []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", cfg.KnownHostsFile + ":2", ssh.FingerprintSHA256(s.HostKeys[0].PublicKey())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestRevokedHostKeyRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cfg := s.config()
	line := "@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKeys[0].PublicKey())))
	data, _ := os.ReadFile(cfg.KnownHostsFile)
	if err := os.WriteFile(cfg.KnownHostsFile, append(data, line+"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dialErr(t, s, cfg); !errors.Is(err, sftpclient.ErrHostKeyChanged) || !strings.Contains(err.Error(), "@revoked") {
		t.Fatalf("Dial: %v, want a refusal naming @revoked", err)
	}
}

// A known_hosts entry hashed by OpenSSH's ssh-keygen -H is found.
func TestHashedKnownHosts(t *testing.T) {
	t.Parallel()
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen not installed")
	}
	s := startServer(t)
	cfg := s.config()
	out, err := exec.Command(keygen, "-H", "-f", cfg.KnownHostsFile).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen -H: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(cfg.KnownHostsFile)
	if !strings.HasPrefix(string(data), "|1|") {
		t.Fatalf("ssh-keygen did not hash: %q", data)
	}
	s.dial(t, cfg).Close()
}

// A server whose first host key type is not the known one is still
// recognised by the known one (x/crypto would otherwise negotiate the
// first and call it changed).
func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSigner, err := ssh.NewSignerFromKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	ed := newSigner(t)
	s := startServer(t, rsaSigner, ed)
	cfg := s.config()
	s.TrustOnly(t, ed.PublicKey())
	s.dial(t, cfg).Close()
}

func TestPublicKeyLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cfg := s.config()
	cfg.Password = ""
	cfg.Signers = []ssh.Signer{newSigner(t), s.UserKey}
	c := s.dial(t, cfg)
	if _, err := c.Stat(testContext(t), "/"); err != nil {
		t.Fatal(err)
	}
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cfg := s.config()
	cfg.Password = "wrong"
	err := dialErr(t, s, cfg)
	if !errors.Is(err, sftpclient.ErrAuthFailed) || !strings.Contains(err.Error(), "alice@") {
		t.Fatalf("Dial: %v, want ErrAuthFailed naming alice", err)
	}
}

// An encrypted key is skipped without a passphrase callback; with one,
// the passphrase is asked only for a key the server accepts, as ssh does.
func TestEncryptedIdentity(t *testing.T) {
	t.Parallel()
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen not installed")
	}
	run := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(keygen, args...).Output()
		if err != nil {
			t.Fatalf("ssh-keygen %q: %v", args, err)
		}
		return out
	}
	s := startServer(t)
	const phrase = "pass phrase"
	// The server's accepted key, encrypted now, with its public half.
	// Few KDF rounds (-a): decrypting stays quick under the race detector.
	run("-q", "-p", "-a", "2", "-P", "", "-N", phrase, "-f", s.KeyFile)
	if err := os.WriteFile(s.KeyFile+".pub", run("-y", "-P", phrase, "-f", s.KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	// A key the server does not know.
	other := filepath.Join(t.TempDir(), "id_other")
	run("-q", "-t", "ed25519", "-a", "2", "-N", phrase, "-f", other)

	if _, err := sftpclient.LoadIdentity(s.KeyFile, nil); !errors.Is(err, sftpclient.ErrEncryptedKey) {
		t.Fatalf("LoadIdentity without passphrase: %v", err)
	}
	var asked []string
	passphrase := func(file string) ([]byte, error) {
		asked = append(asked, file)
		return []byte(phrase), nil
	}
	var signers []ssh.Signer
	for _, f := range []string{other, s.KeyFile} {
		sig, err := sftpclient.LoadIdentity(f, passphrase)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, sig)
	}
	if len(asked) != 0 {
		t.Fatalf("passphrases asked before any login: %q", asked)
	}
	cfg := s.config()
	cfg.Password = ""
	cfg.Signers = signers
	c := s.dial(t, cfg)
	if _, err := c.Stat(testContext(t), "/"); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != s.KeyFile {
		t.Errorf("passphrases asked for %q, want only the accepted key's %s", asked, s.KeyFile)
	}
}

// The time a person takes to type a password does not count against the
// login's timeout.
func TestPasswordPromptOutsideTimeout(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cfg := s.config()
	cfg.Password = ""
	cfg.Timeout = 500 * time.Millisecond
	asked := 0
	cfg.PasswordCallback = func() (string, error) {
		asked++
		// The person is slow: more than the whole timeout passes.
		<-time.After(2 * cfg.Timeout)
		return sftptest.Password, nil
	}
	c := s.dial(t, cfg)
	if _, err := c.Stat(testContext(t), "/"); err != nil || asked != 1 {
		t.Fatalf("Stat: %v; password asked %d times, want 1", err, asked)
	}
}
