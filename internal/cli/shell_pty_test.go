//go:build linux

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// openPTY opens a pseudo-terminal pair: the test types into and reads
// from master; the shell gets the terminal end.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tty.Close()
		master.Close()
	})
	return master, tty
}

// screen collects what a terminal shows, as raw bytes.
type screen struct{ syncBuffer }

// waitFor waits until the output after offset from holds want and returns
// the offset after it.
func (s *screen) waitFor(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out := s.String()
		if i := strings.Index(out[from:], want); i >= 0 {
			return from + i + len(want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the terminal never showed %q; it shows:\n%q", want, s.String()[from:])
	return 0
}

// slowFS sends the named files slowly: 32 KiB every 10 ms.
type slowFS struct {
	ftpserver.FileSystem
	slow map[string]bool
}

func (f slowFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	rc, err := f.FileSystem.Open(ctx, name, offset)
	if err != nil || !f.slow[path.Base(name)] {
		return rc, err
	}
	return &slowReader{rc}, nil
}

type slowReader struct{ io.ReadCloser }

func (r *slowReader) Read(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond)
	return r.ReadCloser.Read(p[:min(len(p), 32<<10)])
}

func TestShellTerminal(t *testing.T) {
	t.Parallel()
	ts := startShellServer(t, func(fsys ftpserver.FileSystem) ftpserver.FileSystem {
		return slowFS{fsys, map[string]bool{"big file.bin": true, "huge.bin": true}}
	})
	big := strings.Repeat("ferry!", 2<<20/6)
	mirrorWriteFile(t, filepath.Join(ts.root, "big file.bin"), big, time.Time{})
	mirrorWriteFile(t, filepath.Join(ts.root, "huge.bin"), strings.Repeat("x", 64<<20), time.Time{})
	local := t.TempDir()
	master, tty := openPTY(t)
	var scr screen
	go io.Copy(&scr, master)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Env{Stdin: tty, Stdout: tty, Stderr: tty}, []string{"shell", ts.url})
	}()
	typed := func(keys string) {
		t.Helper()
		if _, err := master.Write([]byte(keys)); err != nil {
			t.Fatal(err)
		}
	}
	at := scr.waitFor(t, 0, "ferry 127.0.0.1:/> ")
	typed("lcd " + shellQuoteWord(local, 0, true) + "\r")
	at = scr.waitFor(t, at, "ferry 127.0.0.1:/> ")

	// Tab completes a remote name, quoting its space.
	typed("get bi\t")
	at = scr.waitFor(t, at, `get big\ file.bin `)
	// The download is slow enough for the bar to be drawn on the way.
	typed("\r")
	at = scr.waitFor(t, at, "big file.bin")
	at = scr.waitFor(t, at, "/ 2.0 MiB")
	at = scr.waitFor(t, at, "big file.bin: 2.0 MiB in")
	at = scr.waitFor(t, at, "ferry 127.0.0.1:/> ")
	if got := mirrorReadFile(t, filepath.Join(local, "big file.bin")); got != big {
		t.Fatalf("downloaded %d bytes, want %d", len(got), len(big))
	}
	if !strings.Contains(scr.String(), "[") || !strings.Contains(scr.String(), "=") {
		t.Errorf("no bar drawn:\n%q", scr.String())
	}

	// A second Tab on an ambiguous start lists the candidates.
	typed("cd d\t")
	at = scr.waitFor(t, at, "dir ü/  docs/")
	typed("o\t\r")
	at = scr.waitFor(t, at, "ferry 127.0.0.1:/docs> ")

	// History: Up brings back the previous command.
	typed("mkdir made\r")
	at = scr.waitFor(t, at, "ferry 127.0.0.1:/docs> ")
	if err := os.Remove(filepath.Join(ts.root, "docs", "made")); err != nil {
		t.Fatalf("mkdir did not run: %v", err)
	}
	typed("\x1b[A")
	at = scr.waitFor(t, at, "mkdir made")
	typed("\r")
	at = scr.waitFor(t, at, "ferry 127.0.0.1:/docs> ")
	if _, err := os.Stat(filepath.Join(ts.root, "docs", "made")); err != nil {
		t.Errorf("Up, Enter did not run mkdir again: %v", err)
	}

	// Ctrl-C at the prompt drops the line; the session goes on.
	typed("garbage\x03pwd\r")
	at = scr.waitFor(t, at, "/docs\r\n")
	at = scr.waitFor(t, at, "ferry 127.0.0.1:/docs> ")

	// Ctrl-C during a transfer interrupts it, not the session.
	typed("cd ..\rget huge.bin\r")
	at = scr.waitFor(t, at, "huge.bin")
	testwait.For(t, "huge.bin to be arriving", func() bool {
		fi, err := os.Stat(filepath.Join(local, "huge.bin"))
		return err == nil && fi.Size() > 0
	})
	typed("\x03")
	at = scr.waitFor(t, at, "interrupted")
	typed("ls\r")
	at = scr.waitFor(t, at, "alpha.txt")

	// One bar for a whole mirror.
	typed("mirror -P 2 docs \"docs copy\"\r")
	at = scr.waitFor(t, at, "mirror (4 files)")
	at = scr.waitFor(t, at, "mirror: 4 files transferred")
	at = scr.waitFor(t, at, "ferry 127.0.0.1:/> ")
	if got := mirrorReadFile(t, filepath.Join(local, "docs copy", "deep", "nested", "x.txt")); got != "x" {
		t.Errorf("mirror in the shell: %q", got)
	}

	typed("bye\r")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shell ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("bye did not end the shell:\n%q", scr.String()[at:])
	}
	if strings.Contains(scr.String(), "unknown command") {
		t.Errorf("something was run that should not have been:\n%q", scr.String())
	}
}
