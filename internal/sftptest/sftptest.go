// Package sftptest gives client tests a ferry SFTP server on 127.0.0.1
// over a temporary directory, and the files an SSH client needs to reach
// it: a known_hosts file listing its host key, and a private key it
// accepts.
package sftptest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/sftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// The one account: User logs in with Password or the key in
// Server.KeyFile, with write access to Server.Root.
const (
	User     = "alice"
	Password = "secret"
)

// Server is a running server.
type Server struct {
	Addr       string       // host:port
	Root       string       // the account's home on disk
	HostKeys   []ssh.Signer // the server's, the first in KnownHosts
	KnownHosts string       // a known_hosts file with the first host key
	UserKey    ssh.Signer   // the account's key
	KeyFile    string       // UserKey's private key, OpenSSH format
}

// NewSigner makes an Ed25519 key.
func NewSigner(t testing.TB) ssh.Signer {
	t.Helper()
	s, _ := newKey(t)
	return s
}

func newKey(t testing.TB) (ssh.Signer, ed25519.PrivateKey) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// WriteKey makes an Ed25519 key and writes it to file, in OpenSSH's
// format, as ssh-keygen does.
func WriteKey(t testing.TB, file string) ssh.Signer {
	t.Helper()
	s, priv := newKey(t)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

type auth struct {
	fsys ftpserver.FileSystem
	key  []byte
}

func (a *auth) Authenticate(_ context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
	if user != User || pass != Password {
		return nil, ftpserver.ErrAuthFailed
	}
	return &ftpserver.Account{User: user, FS: a.fsys, Write: true}, nil
}

func (a *auth) AuthenticatePublicKey(_ context.Context, _ ftpserver.ConnInfo, user string, key []byte) (*ftpserver.Account, error) {
	if user != User || !bytes.Equal(key, a.key) {
		return nil, ftpserver.ErrAuthFailed
	}
	return &ftpserver.Account{User: user, FS: a.fsys, Write: true}, nil
}

// Start runs a server until the test ends, with hostKeys (a new Ed25519
// key when none are given).
func Start(t testing.TB, hostKeys ...ssh.Signer) *Server {
	t.Helper()
	return StartWrapped(t, nil, hostKeys...)
}

// StartWrapped is Start with the account's file system (a localfs over
// Root) wrapped by wrap, for a test that needs a server to list or fail
// in ways a disk does not.
func StartWrapped(t testing.TB, wrap func(ftpserver.FileSystem) ftpserver.FileSystem, hostKeys ...ssh.Signer) *Server {
	t.Helper()
	if len(hostKeys) == 0 {
		hostKeys = []ssh.Signer{NewSigner(t)}
	}
	s := &Server{Root: t.TempDir(), HostKeys: hostKeys}
	disk, err := localfs.New(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	var fsys ftpserver.FileSystem = disk
	if wrap != nil {
		fsys = wrap(disk)
	}
	dir := t.TempDir()
	s.KeyFile = filepath.Join(dir, "id_ed25519")
	s.UserKey = WriteKey(t, s.KeyFile)
	srv := &sftpserver.Server{
		Auth:           &auth{fsys: fsys, key: s.UserKey.PublicKey().Marshal()},
		HostKeys:       hostKeys,
		LoginFailDelay: -1,
		Logger:         slog.New(slog.DiscardHandler),
	}
	s.Addr = Serve(t, srv)
	s.KnownHosts = filepath.Join(dir, "known_hosts")
	s.TrustOnly(t, hostKeys[0].PublicKey())
	return s
}

// Serve runs srv on a new listener on 127.0.0.1 until the test ends, and
// returns its address. The test fails if Serve ends other than by Close.
func Serve(t testing.TB, srv *sftpserver.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, sftpserver.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// TrustOnly rewrites KnownHosts to list key, alone, for the server.
func (s *Server) TrustOnly(t testing.TB, key ssh.PublicKey) {
	t.Helper()
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, key)
	if err := os.WriteFile(s.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// File is the path on disk of p, a slash-separated path in the home.
func (s *Server) File(p string) string {
	return filepath.Join(s.Root, filepath.FromSlash(p))
}

// DialPassword logs in to the SFTP server at addr as user with a
// password, the host key unchecked (tests' servers make a key per run),
// and returns the SFTP client and its SSH connection; both are closed
// when the test ends.
func DialPassword(t testing.TB, addr, user, pass string, opts ...sftp.ClientOption) (*sftp.Client, *ssh.Client) {
	t.Helper()
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.Password(pass)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatalf("SFTP login as %s to %s: %v", user, addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	client, err := sftp.NewClient(conn, opts...)
	if err != nil {
		t.Fatalf("SFTP subsystem at %s: %v", addr, err)
	}
	t.Cleanup(func() { client.Close() })
	return client, conn
}
