//go:build linux

package cli

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/sftptest"
)

// On a terminal, a login without a password in the URL, --user or netrc
// asks for one when the server wants it, as ssh does.
func TestSFTPPasswordPrompt(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	os.WriteFile(ts.file("seen.txt"), []byte("x"), 0o644)
	master, tty := openPTY(t)
	var scr screen
	go io.Copy(&scr, master)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Env{Stdin: tty, Stdout: tty, Stderr: tty},
			[]string{"ls", "--known-hosts", ts.known, "sftp://alice@" + ts.Addr + "/"})
	}()
	at := scr.waitFor(t, 0, "alice@127.0.0.1's password: ")
	if _, err := master.Write([]byte(sftptest.Password + "\r")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, at, "seen.txt")
	if err := <-done; err != nil {
		t.Fatalf("ls: %v\n%q", err, scr.String())
	}
	if strings.Contains(scr.String(), sftptest.Password) {
		t.Errorf("the password was echoed: %q", scr.String())
	}
}
