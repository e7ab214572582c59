package dist

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testwait"
)

func need(t *testing.T, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil && os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (scripts/test installs it)", name)
	}
	if err != nil {
		t.Skipf("%s is not installed", name)
	}
	return bin
}

var listening = regexp.MustCompile(`on (127\.0\.0\.1:\d+)`)

// ferry.logrotate, run by the real logrotate against a running "ferry
// serve": the log is renamed, ferry told by SIGHUP, and the next transfer
// lands in a new file while the rotated one keeps the lines before.
func TestLogrotateRotatesARunningServer(t *testing.T) {
	t.Parallel()
	logrotate := need(t, "logrotate")
	curl := need(t, "curl")
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir, root := t.TempDir(), t.TempDir()
	bin := filepath.Join(dir, "ferry")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ferry-ftp/ferry/cmd/ferry").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	logPath := filepath.Join(dir, "log", "xferlog")
	os.Mkdir(filepath.Dir(logPath), 0o700)

	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--root", root, "--passive-ports", "", "--xferlog", logPath)
	stdout, _ := cmd.StdoutPipe()
	logFile, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	logs := func() string { data, _ := os.ReadFile(logFile.Name()); return string(data) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := ""
	sc := bufio.NewScanner(stdout)
	for addr == "" && sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no address in ferry's output; log:\n%s", logs())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	download := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, curl, "-sS", "-o", os.DevNull, "ftp://"+addr+"/hello.txt").CombinedOutput(); err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
	}
	lineCount := func(path string) int {
		data, _ := os.ReadFile(path)
		return bytes.Count(data, []byte("\n"))
	}

	download()
	testwait.For(t, "the first line", func() bool { return lineCount(logPath) == 1 })

	// The shipped file, but for this log, without the ferry account
	// (absent here), and signalling this process rather than the unit.
	shipped, err := os.ReadFile("ferry.logrotate")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(shipped)
	for _, r := range []struct{ old, new string }{
		{"/var/log/ferry/xferlog", logPath},
		{"create 0600 ferry ferry", "create 0600"},
		{"systemctl kill --signal=HUP --kill-whom=main ferry.service", fmt.Sprintf("kill -HUP %d", cmd.Process.Pid)},
	} {
		if !strings.Contains(conf, r.old) {
			t.Fatalf("ferry.logrotate no longer has %q", r.old)
		}
		conf = strings.ReplaceAll(conf, r.old, r.new)
	}
	confPath := filepath.Join(dir, "logrotate.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, logrotate, "--force", "--state", filepath.Join(dir, "state"), confPath).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
	testwait.For(t, "ferry to reopen the xferlog", func() bool { return strings.Contains(logs(), "xferlog reopened") })

	download()
	testwait.For(t, "the line after rotation in the new file", func() bool { return lineCount(logPath) == 1 })
	if n := lineCount(logPath + ".1"); n != 1 {
		t.Errorf("the rotated file holds %d lines, want the 1 from before", n)
	}
	if info, err := os.Stat(logPath); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the new file: %v, %v; want mode 0600", info, err)
	}
}
