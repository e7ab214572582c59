package sftpclient_test

import (
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/internal/sftptest"
	"github.com/ferry-ftp/ferry/sftpclient"
)

// server is ferry's SFTP server on 127.0.0.1 (sftptest).
type server struct{ *sftptest.Server }

func newSigner(t testing.TB) ssh.Signer { return sftptest.NewSigner(t) }

func startServer(t *testing.T, hostKeys ...ssh.Signer) *server {
	t.Helper()
	return &server{sftptest.Start(t, hostKeys...)}
}

// config logs in with the password, trusting s.KnownHosts only.
func (s *server) config() *sftpclient.Config {
	return &sftpclient.Config{
		User:                  sftptest.User,
		Password:              sftptest.Password,
		KnownHostsFile:        s.KnownHosts,
		GlobalKnownHostsFiles: []string{},
		Timeout:               10 * time.Second,
	}
}

func (s *server) dial(t *testing.T, cfg *sftpclient.Config) *sftpclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sftpclient.Dial(ctx, s.Addr, cfg)
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
