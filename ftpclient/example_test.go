package ftpclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// Upload, list and download against a ferry server started for the
// example on 127.0.0.1 over an in-memory file system.
func Example() {
	files := memfs.New()
	srv := &ftpserver.Server{
		Auth: ftpserver.AuthFunc(func(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "alice" && pass == "secret" {
				return &ftpserver.Account{User: user, FS: files, Write: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
		Logger: slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := ftpclient.Dial(ctx, ln.Addr().String(), ftpclient.WithLogin("alice", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.Mkdir(ctx, "/notes"); err != nil {
		log.Fatal(err)
	}
	for name, text := range map[string]string{
		"/notes/todo.txt":  "write the docs\n",
		"/notes/done.txt":  "nothing yet\n",
		"/notes/ideas.txt": "",
	} {
		if _, err := c.Store(ctx, name, strings.NewReader(text), 0); err != nil {
			log.Fatal(err)
		}
	}

	entries, err := c.List(ctx, "/notes")
	if err != nil {
		log.Fatal(err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	for _, e := range entries {
		fmt.Println(e.Type, e.Size, e.Name)
	}

	var todo strings.Builder
	n, err := c.Retrieve(ctx, "/notes/todo.txt", 0, &todo)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes: %q\n", n, todo.String())

	_, err = c.Size(ctx, "/notes/missing.txt")
	fmt.Println("missing:", ftpclient.IsNotExist(err))
	// Output:
	// file 12 done.txt
	// file 0 ideas.txt
	// file 15 todo.txt
	// 15 bytes: "write the docs\n"
	// missing: true
}

// Resuming a download over explicit FTPS. (Not run: it needs a real
// server.)
func Example_resumeOverTLS() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := ftpclient.Dial(ctx, "ftp.example.com:21",
		ftpclient.WithTLS(&tls.Config{}), // AUTH TLS, PBSZ 0, PROT P
		ftpclient.WithLogin("alice", "secret"),
		ftpclient.WithKeepAlive(30*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Resume a download where a previous one stopped.
	f, err := os.OpenFile("big.iso", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Retrieve(ctx, "/pub/big.iso", have, f); err != nil {
		log.Fatal(err)
	}

	entries, err := c.List(ctx, "/pub")
	var le *ftpclient.ListError
	if errors.As(err, &le) {
		log.Printf("%d listing lines not understood: %q", len(le.Lines), le.Lines)
	} else if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name, e.Size, e.ModTime)
	}
}

// Copying a file from one server to another. Transfer asks the servers
// to send it to each other (FXP); had they refused, as servers do by
// default when the other server's address is not the client's, it would
// have streamed the file through the client and said so in OnFallback.
func ExampleTransfer() {
	var servers []*ftpserver.Server
	defer func() {
		for _, srv := range servers {
			srv.Close()
		}
	}()
	start := func(files *memfs.FS) string {
		srv := &ftpserver.Server{
			Auth: ftpserver.AuthFunc(func(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
				return &ftpserver.Account{User: user, FS: files, Write: true}, nil
			}),
			Logger: slog.New(slog.DiscardHandler),
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		go srv.Serve(ln)
		servers = append(servers, srv)
		return ln.Addr().String()
	}
	srcFiles, dstFiles := memfs.New(), memfs.New()
	srcFiles.WriteFile("/report.txt", []byte("quarterly numbers\n"))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, err := ftpclient.Dial(ctx, start(srcFiles), ftpclient.WithLogin("alice", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	dst, err := ftpclient.Dial(ctx, start(dstFiles), ftpclient.WithLogin("bob", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer dst.Close()

	err = ftpclient.Transfer(ctx, src, "/report.txt", dst, "/copy.txt", ftpclient.FXPOptions{
		OnFallback: func(err error) { fmt.Println("streaming through the client:", err) },
	})
	var te *ftpclient.TransferError
	if errors.As(err, &te) {
		log.Fatalf("the %s server failed: %v", te.Side, te.Err)
	}
	copied, _ := dstFiles.ReadFile("/copy.txt")
	fmt.Printf("%q\n", copied)
	// Output:
	// "quarterly numbers\n"
}
