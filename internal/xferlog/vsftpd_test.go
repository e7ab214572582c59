package xferlog_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/config"
	"github.com/ferry-ftp/ferry/internal/testwait"
	"github.com/ferry-ftp/ferry/internal/xferlog"
)

// freePort returns a port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// anonTree makes the tree both servers serve: /pub with files, and a
// writable /incoming owned by uid (vsftpd's anonymous account).
func anonTree(t *testing.T, uid, gid int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "anon")
	os.MkdirAll(filepath.Join(root, "pub"), 0o755)
	os.MkdirAll(filepath.Join(root, "incoming"), 0o755)
	os.Chown(filepath.Join(root, "incoming"), uid, gid)
	os.WriteFile(filepath.Join(root, "pub", "café.txt"), []byte("café"), 0o644)
	big := make([]byte, 100000)
	rand.Read(big)
	os.WriteFile(filepath.Join(root, "pub", "big.bin"), big, 0o644)
	huge := make([]byte, 64<<20)
	os.WriteFile(filepath.Join(root, "pub", "huge.bin"), huge, 0o644)
	os.Chmod(root, 0o555) // vsftpd refuses a writable anonymous root
	t.Cleanup(func() { os.Chmod(root, 0o755) })
	return root
}

// startVsftpd runs vsftpd in the foreground with anonymous access to
// root and its xferlog in the wu-ftpd format, and returns its address.
func startVsftpd(t *testing.T, root, logFile, account string) string {
	t.Helper()
	bin, err := exec.LookPath("vsftpd")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/vsftpd"); err != nil {
			t.Skip("vsftpd is not installed")
		}
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	port, pasv := freePort(t), freePort(t)
	conf := fmt.Sprintf(`listen=YES
listen_address=127.0.0.1
listen_port=%d
background=NO
seccomp_sandbox=NO
anonymous_enable=YES
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_root=%s
ftp_username=%s
secure_chroot_dir=%s
pasv_min_port=%d
pasv_max_port=%d
xferlog_enable=YES
xferlog_std_format=YES
xferlog_file=%s
use_localtime=YES
`, port, root, account, empty, pasv, pasv, logFile)
	confFile := filepath.Join(dir, "vsftpd.conf")
	os.WriteFile(confFile, []byte(conf), 0o600)
	cmd := exec.Command(bin, confFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	testwait.For(t, "vsftpd to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// startFerry serves root to anonymous users, read-write, with an xferlog.
func startFerry(t *testing.T, root, logFile string) string {
	t.Helper()
	c := config.Default()
	c.Root, c.PassivePorts, c.XferlogFile = root, "", logFile
	c.Anonymous.Write = true
	quiet := slog.New(slog.DiscardHandler)
	inst, err := c.Build(quiet)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.OpenXferlog(quiet)
	if err != nil {
		t.Fatal(err)
	}
	inst.Server.Observer = w
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go inst.Server.Serve(ln)
	t.Cleanup(func() { inst.Server.Close(); w.Close(); inst.Close() })
	return ln.Addr().String()
}

func readEntries(t *testing.T, path string, n int) ([]xferlog.Entry, []string) {
	t.Helper()
	testwait.For(t, fmt.Sprintf("%d lines in %s", n, path), func() bool {
		data, _ := os.ReadFile(path)
		return bytes.Count(data, []byte("\n")) >= n
	})
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	entries := make([]xferlog.Entry, len(lines))
	for i, line := range lines {
		e, err := xferlog.ParseLine(line)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		entries[i] = e
	}
	return entries, lines
}

// The same curl transfers against vsftpd (xferlog_std_format=YES) and
// ferry give the same xferlog lines, field by field, but for the date
// and the transfer time, which depend on the clock, and the bytes of a
// download cut short, which depend on how far each server got.
func TestSameLinesAsVsftpd(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("vsftpd runs as root")
	}
	account, err := user.Lookup("ftp")
	if err != nil {
		t.Skip("no ftp account for vsftpd's anonymous users")
	}
	if info, err := os.Stat(account.HomeDir); err != nil || !info.IsDir() {
		t.Skipf("the ftp account's home %s does not exist", account.HomeDir)
	}
	uid, _ := strconv.Atoi(account.Uid)
	gid, _ := strconv.Atoi(account.Gid)
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "up.bin"), []byte("twelve bytes"), 0o644)

	logs := t.TempDir()
	vsLog, ferryLog := filepath.Join(logs, "vsftpd.xferlog"), filepath.Join(logs, "ferry.xferlog")
	servers := []string{
		startVsftpd(t, anonTree(t, uid, gid), vsLog, account.Username),
		startFerry(t, anonTree(t, uid, gid), ferryLog),
	}
	type transfer struct {
		args    []string
		aborted bool
	}
	transfers := []transfer{
		{args: []string{"-T", "up.bin", "/incoming/up%20load.bin"}},
		{args: []string{"-u", "anonymous:joe@example.com", "-o", "out", "/pub/big.bin"}},
		{args: []string{"-o", "out", "/pub/caf%C3%A9.txt"}},
		{args: []string{"-r", "10-", "-o", "out", "/pub/big.bin"}},
		{args: []string{"-u", "anonymous:", "-o", "out", "/pub/big.bin"}},
		{args: []string{"-u", "anonymous:a b", "-o", "out", "/pub/big.bin"}},
		{args: []string{"-r", "0-99", "-o", "out", "/pub/huge.bin"}, aborted: true},
	}
	for _, addr := range servers {
		for _, tr := range transfers {
			args := append([]string{"-sS"}, tr.args...)
			args[len(args)-1] = "ftp://" + addr + args[len(args)-1]
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			cmd := exec.CommandContext(ctx, curl, args...)
			cmd.Dir = work
			out, err := cmd.CombinedOutput()
			cancel()
			// curl -r 0-99 cuts the download short on purpose and
			// may say so.
			if err != nil && !tr.aborted {
				t.Fatalf("curl %q: %v\n%s", args, err, out)
			}
		}
	}
	vs, vsLines := readEntries(t, vsLog, len(transfers))
	fe, feLines := readEntries(t, ferryLog, len(transfers))
	if len(vs) != len(fe) {
		t.Fatalf("vsftpd wrote %d lines, ferry %d:\n%s\n\n%s", len(vs), len(fe), strings.Join(vsLines, "\n"), strings.Join(feLines, "\n"))
	}
	for i := range vs {
		want, got := vs[i], fe[i]
		if got.Seconds < 1 || want.Seconds < 1 {
			t.Errorf("transfer time below 1 s:\nvsftpd %s\nferry  %s", vsLines[i], feLines[i])
		}
		want.Time, want.Seconds = got.Time, got.Seconds
		if transfers[i].aborted {
			want.Bytes = got.Bytes
		}
		if got != want {
			t.Errorf("transfer %q:\nvsftpd %s\nferry  %s", transfers[i].args, vsLines[i], feLines[i])
		}
	}
}
