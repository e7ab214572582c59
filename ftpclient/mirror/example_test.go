package mirror_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpclient/mirror"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// Mirror a directory of a server (here a ferry server started for the
// example on 127.0.0.1, over an in-memory file system) to the local disk:
// first the plan, as a dry run shows it, then the mirror itself.
func Example() {
	files := memfs.New()
	files.WriteFile("/pub/readme.txt", []byte("hello\n"))
	files.WriteFile("/pub/docs/guide.txt", []byte("step one\n"))
	srv := &ftpserver.Server{
		Auth: ftpserver.AuthFunc(func(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			return &ftpserver.Account{User: "anonymous", FS: files, Anonymous: true}, nil
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
	opts := mirror.Options{
		Parallel: 4,
		Report: func(e mirror.Event) { // changes made, failures, warnings
			if e.Err != nil {
				fmt.Printf("%s: %v\n", e.What(), e.Err)
			}
		},
	}
	c, err := ftpclient.Dial(ctx, ln.Addr().String(), ftpclient.WithPoolSize(opts.Parallel))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	local, err := os.MkdirTemp("", "mirror-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(local)
	target := filepath.Join(local, "pub")

	plan, err := mirror.Compare(ctx, c, "/pub", target, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("make the target:", plan.MakeRoot)
	fmt.Println("directories:", plan.Mkdirs)
	for _, cp := range plan.Copies {
		fmt.Printf("get %s (%s, %d bytes)\n", cp.Path, cp.Reason, cp.Size)
	}

	res, err := plan.Run(ctx) // mirror.Run would compare and run at once
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d files, %d bytes\n", res.Transferred, res.Bytes)
	guide, _ := os.ReadFile(filepath.Join(target, "docs", "guide.txt"))
	fmt.Printf("%q\n", guide)
	// Output:
	// make the target: true
	// directories: [docs]
	// get docs/guide.txt (new, 9 bytes)
	// get readme.txt (new, 6 bytes)
	// 2 files, 15 bytes
	// "step one\n"
}
