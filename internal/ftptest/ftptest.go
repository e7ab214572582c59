// Package ftptest serves a FileSystem over FTP on loopback for the tests
// of packages that implement or wrap one (storage backends, wrappers).
package ftptest

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Serve starts an ftpserver.Server on 127.0.0.1:0 that logs any user
// name and password in, with write access to fsys, and answers a wrong
// login at once. It is closed when the test ends; the address is returned.
func Serve(t testing.TB, fsys ftpserver.FileSystem) string {
	t.Helper()
	srv := &ftpserver.Server{
		Auth: ftpserver.AuthFunc(func(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			return &ftpserver.Account{User: user, FS: fsys, Write: true}, nil
		}),
		LoginFailDelay: -1,
		Logger:         slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
