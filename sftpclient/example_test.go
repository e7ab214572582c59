package sftpclient_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/sftpclient"
	"github.com/ferry-ftp/ferry/sftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// Upload, list and download against a ferry SFTP server started for the
// example on 127.0.0.1 over an in-memory file system. The client trusts
// the server's key by a known_hosts file of its own.
func Example() {
	files := memfs.New()
	hostKey, _, err := sftpserver.NewHostKey()
	if err != nil {
		log.Fatal(err)
	}
	srv := &sftpserver.Server{
		Auth: ftpserver.AuthFunc(func(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "alice" && pass == "secret" {
				return &ftpserver.Account{User: user, FS: files, Write: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
		HostKeys: []ssh.Signer{hostKey},
		Logger:   slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := sftpclient.Dial(ctx, ln.Addr().String(), &sftpclient.Config{
		User:                  "alice",
		Password:              "secret",
		KnownHostsFile:        filepath.Join(dir, "known_hosts"),
		GlobalKnownHostsFiles: []string{},
		// First contact: remember the key, as ssh -o StrictHostKeyChecking=accept-new.
		HostKeyPolicy: sftpclient.AcceptNew,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.Mkdir(ctx, "/notes"); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Store(ctx, "/notes/todo.txt", strings.NewReader("write the docs\n"), 0); err != nil {
		log.Fatal(err)
	}
	entries, err := c.List(ctx, "/notes")
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name, e.Size)
	}
	rd, err := c.Open(ctx, "/notes/todo.txt", 6)
	if err != nil {
		log.Fatal(err)
	}
	defer rd.Close()
	rest, err := io.ReadAll(rd)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", rest)
	// Output:
	// todo.txt 15
	// "the docs\n"
}
