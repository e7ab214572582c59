package sftpserver_test

import (
	"net"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/cpu"

	"github.com/ferry-ftp/ferry/internal/sftptest"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/sftpserver"
)

// dialCipher reports whether a client offering only cipher logs in.
func (f *fixture) dialCipher(cipher string) error {
	conn, err := ssh.Dial("tcp", f.addr, &ssh.ClientConfig{
		Config:          ssh.Config{Ciphers: []string{cipher}},
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err == nil {
		conn.Close()
	}
	return err
}

// TestDefaultCiphers: every cipher x/crypto supports is offered, except
// ChaCha20-Poly1305 where AES runs on AES instructions and x/crypto's
// ChaCha20 has no assembly (amd64); a client offering only a cipher that
// is left out is refused at the key exchange.
func TestDefaultCiphers(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	aes := runtime.GOARCH == "amd64" && cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	offered := sftpserver.DefaultCiphers()
	for _, c := range ssh.SupportedAlgorithms().Ciphers {
		want := c != ssh.CipherChaCha20Poly1305 || !aes
		if slices.Contains(offered, c) != want {
			t.Errorf("DefaultCiphers() = %v: %s offered %v, want %v (AES instructions: %v)", offered, c, !want, want, aes)
		}
		err := f.dialCipher(c)
		if want && err != nil {
			t.Errorf("%s: %v", c, err)
		}
		if !want && (err == nil || !strings.Contains(err.Error(), "no common algorithm")) {
			t.Errorf("%s: %v, want refused for no common algorithm", c, err)
		}
	}
}

// TestCiphersConfigured: Server.Ciphers replaces the default list, and a
// name x/crypto does not support (or supports only as insecure) stops
// Serve.
func TestCiphersConfigured(t *testing.T) {
	t.Parallel()
	f := start(t, func(s *sftpserver.Server) {
		s.Ciphers = []string{ssh.CipherChaCha20Poly1305, ssh.CipherAES256CTR}
	})
	for _, c := range []string{ssh.CipherChaCha20Poly1305, ssh.CipherAES256CTR} {
		if err := f.dialCipher(c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	if err := f.dialCipher(ssh.CipherAES128GCM); err == nil {
		t.Errorf("%s accepted; it is not configured", ssh.CipherAES128GCM)
	}

	for _, bad := range [][]string{{"rot13"}, {ssh.CipherAES128CTR, ssh.InsecureCipherRC4}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &sftpserver.Server{Auth: f.auth, HostKeys: []ssh.Signer{sftptest.NewSigner(t)}, Ciphers: bad}
		err = srv.Serve(ln)
		if err == nil || !strings.Contains(err.Error(), "Server.Ciphers") {
			t.Errorf("Serve with Ciphers %v: %v, want an error naming Server.Ciphers", bad, err)
		}
		ln.Close()
	}
}

// TestOpenSSHCipher: OpenSSH's sftp, with its default list, gets the
// first of its ciphers that the server offers by default.
func TestOpenSSHCipher(t *testing.T) {
	t.Parallel()
	sshPath := testtool.Need(t, "ssh")
	out, err := exec.Command(sshPath, "-F", "/dev/null", "-G", "127.0.0.1").Output()
	if err != nil {
		t.Fatalf("ssh -G: %v", err)
	}
	m := regexp.MustCompile(`(?m)^ciphers (\S+)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("ssh -G names no ciphers:\n%s", out)
	}
	want := ""
	for _, c := range strings.Split(string(m[1]), ",") {
		if slices.Contains(sftpserver.DefaultCiphers(), c) {
			want = c
			break
		}
	}
	f := start(t, nil)
	argv := []string{testtool.Need(t, "sftp"), "-v", "-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentityAgent=none", "-o", "PasswordAuthentication=no", "-o", "IdentitiesOnly=yes",
		"-i", f.keyFile, "-P", f.port, "-b", "-", "alice@127.0.0.1"}
	r := f.run(t, t.TempDir(), "", "pwd\n", argv)
	if r.code != 0 {
		t.Fatalf("sftp: %v", r)
	}
	for _, dir := range []string{"server->client", "client->server"} {
		line := "kex: " + dir + " cipher: " + want + " "
		if !strings.Contains(r.out, line) {
			t.Errorf("sftp -v does not say %q:\n%s", line, r.out)
		}
	}
}
