package sftpclient_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/sftpclient"
	"github.com/ferry-ftp/ferry/sftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

const password = "s3cret"

// auth logs in alice with password or her key, over the home dir.
type auth struct {
	dir string
	key ssh.PublicKey
}

func (a *auth) account(user string) (*ftpserver.Account, error) {
	if user != "alice" {
		return nil, ftpserver.ErrAuthFailed
	}
	fsys, err := localfs.New(a.dir)
	if err != nil {
		return nil, err
	}
	return &ftpserver.Account{User: user, FS: fsys, Write: true}, nil
}

func (a *auth) Authenticate(_ context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
	if pass != password {
		return nil, ftpserver.ErrAuthFailed
	}
	return a.account(user)
}

func (a *auth) AuthenticatePublicKey(_ context.Context, _ ftpserver.ConnInfo, user string, key []byte) (*ftpserver.Account, error) {
	if a.key == nil || !bytes.Equal(a.key.Marshal(), key) {
		return nil, ftpserver.ErrAuthFailed
	}
	return a.account(user)
}

// server is ferry's SFTP server on 127.0.0.1 over a temporary home.
type server struct {
	addr     string
	home     string
	hostKeys []ssh.Signer
	userKey  ssh.Signer // alice's authorized key
	known    string     // a known_hosts file listing the host key
}

func newSigner(t testing.TB) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startServer(t *testing.T, hostKeys ...ssh.Signer) *server {
	t.Helper()
	if len(hostKeys) == 0 {
		hostKeys = []ssh.Signer{newSigner(t)}
	}
	s := &server{home: t.TempDir(), hostKeys: hostKeys, userKey: newSigner(t)}
	srv := &sftpserver.Server{
		Auth:           &auth{dir: s.home, key: s.userKey.PublicKey()},
		HostKeys:       hostKeys,
		LoginFailDelay: -1,
		Logger:         slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, sftpserver.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	s.known = filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, hostKeys[0].PublicKey())
	if err := os.WriteFile(s.known, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// config logs in as alice with the password, trusting s.known only.
func (s *server) config() *sftpclient.Config {
	return &sftpclient.Config{
		User:                  "alice",
		Password:              password,
		KnownHostsFile:        s.known,
		GlobalKnownHostsFiles: []string{},
		Timeout:               10 * time.Second,
	}
}

func (s *server) dial(t *testing.T, cfg *sftpclient.Config) *sftpclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sftpclient.Dial(ctx, s.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
