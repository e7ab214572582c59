package ftpserver_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/textproto"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// A server over an in-memory file system with one user, and the replies a
// client sees in a short session.
func Example() {
	files := memfs.New()
	srv := &ftpserver.Server{
		Banner: "Welcome to the example server.",
		Auth: ftpserver.AuthFunc(func(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "alice" && pass == "secret" {
				return &ftpserver.Account{User: user, FS: files, Write: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
		LoginFailDelay: -1, // answer a wrong password at once, for the example
		Logger:         slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	c, err := textproto.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	// cmd sends one command and prints the reply, as a client's user sees it.
	cmd := func(format string, args ...any) {
		id, err := c.Cmd(format, args...)
		if err != nil {
			log.Fatal(err)
		}
		c.StartResponse(id)
		defer c.EndResponse(id)
		code, msg, err := c.ReadResponse(0) // 0: any code is a reply to print
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(code, msg)
	}
	code, msg, err := c.ReadResponse(220)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(code, msg)
	cmd("USER alice")
	cmd("PASS wrong")
	cmd("USER alice")
	cmd("PASS secret")
	cmd("MKD /reports")
	cmd("CWD reports")
	cmd("PWD")
	cmd("SIZE missing.txt")
	cmd("QUIT")
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-served)
	// Output:
	// 220 Welcome to the example server.
	// 331 Password required for alice.
	// 530 Login incorrect.
	// 331 Password required for alice.
	// 230 Login successful.
	// 257 "/reports" created.
	// 250 Directory changed to /reports.
	// 257 "/reports" is the current directory.
	// 550 No such file or directory.
	// 221 Goodbye.
	// ftpserver: Server closed
}
