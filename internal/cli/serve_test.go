package cli

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var listenLine = regexp.MustCompile(`on (127\.0\.0\.1:\d+)`)

// waitAddr reads the welcome text until the listening address appears.
func waitAddr(t *testing.T, r io.Reader) (string, string) {
	t.Helper()
	var seen strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
			// Keep reading the rest of the welcome text.
			for i := 0; i < 2 && sc.Scan(); i++ {
				seen.WriteString(sc.Text() + "\n")
			}
			go io.Copy(io.Discard, r)
			return m[1], seen.String()
		}
	}
	t.Fatalf("no listening address in output:\n%s", seen.String())
	return "", ""
}

func ftpDial(t *testing.T, addr string) *textproto.Conn {
	t.Helper()
	c, err := textproto.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	return c
}

func ftpCmd(t *testing.T, c *textproto.Conn, want int, cmd string) string {
	t.Helper()
	if err := c.PrintfLine("%s", cmd); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.ReadResponse(want)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return msg
}

func TestServeAnonymousReadOnly(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hi"), 0o644)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: io.Discard},
			[]string{"serve", "--listen", "127.0.0.1:0", "--root", root, "--passive-ports", "45000-45100"})
		pw.Close()
	}()
	addr, welcome := waitAddr(t, pr)
	if !strings.Contains(welcome, "anonymous") || !strings.Contains(welcome, root) {
		t.Fatalf("welcome text does not say how to log in:\n%s", welcome)
	}
	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS me@example.com")
	ftpCmd(t, c, 213, "SIZE hello.txt")
	ftpCmd(t, c, 550, "MKD new")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
}

func TestServeUserAccount(t *testing.T) {
	root := t.TempDir()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		Run(ctx, Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: io.Discard},
			[]string{"serve", "--listen", "127.0.0.1:0", "--root", root, "--user", "joe", "--password", "pw", "--write"})
		pw.Close()
	}()
	addr, _ := waitAddr(t, pr)
	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER anonymous") // --user turns anonymous off
	ftpCmd(t, c, 530, "PASS x")
	ftpCmd(t, c, 331, "USER joe")
	ftpCmd(t, c, 230, "PASS pw")
	ftpCmd(t, c, 257, "MKD made")
	if fi, err := os.Stat(filepath.Join(root, "made")); err != nil || !fi.IsDir() {
		t.Fatalf("MKD did not create the directory: %v", err)
	}
}

func TestServeFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--user", "joe"},
		{"serve", "--passive-ports", "9-1"},
		{"serve", "--root", "/does/not/exist"},
		{"serve", "--config", "/does/not/exist.toml"},
	} {
		err := Run(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}, args)
		if err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// TestServeBinarySIGTERM builds the real binary and checks that SIGTERM
// lets a running transfer finish before the process exits.
func TestServeBinarySIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "ferry")
	build := exec.Command("go", "build", "-o", bin, "github.com/ferry-ftp/ferry/cmd/ferry")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := t.TempDir()
	big := make([]byte, 32<<20)
	os.WriteFile(filepath.Join(root, "big"), big, 0o644)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--root", root, "--passive-ports", "45200-45300")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr, _ := waitAddr(t, stdout)
	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS x")
	ftpCmd(t, c, 200, "TYPE I")
	msg := ftpCmd(t, c, 229, "EPSV")
	port := msg[strings.Index(msg, "|||")+3 : strings.LastIndex(msg, "|")]
	data, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	ftpCmd(t, c, 150, "RETR big")
	head := make([]byte, 1<<20)
	io.ReadFull(data, head)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	rest, _ := io.ReadAll(data)
	if got := len(head) + len(rest); got != len(big) {
		t.Fatalf("transfer cut at %d of %d bytes by SIGTERM", got, len(big))
	}
	if _, _, err := c.ReadResponse(226); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit after SIGTERM")
	}
}
