package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/internal/testwait"
	"github.com/ferry-ftp/ferry/internal/xferlog"
)

// tool runs a client program, failing the test if it is missing or fails.
func tool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	bin := testtool.Need(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// xferlogEntries waits until path holds n lines and parses each with the
// exact layout.
func xferlogEntries(t *testing.T, path string, n int) ([]xferlog.Entry, []string) {
	t.Helper()
	testwait.For(t, fmt.Sprintf("%d lines in the xferlog", n), func() bool {
		data, _ := os.ReadFile(path)
		return bytes.Count(data, []byte("\n")) >= n
	})
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines in the xferlog, want %d:\n%s", len(lines), n, data)
	}
	entries := make([]xferlog.Entry, n)
	for i, line := range lines {
		e, err := xferlog.ParseLine(line)
		if err != nil {
			t.Fatalf("xferlog line %q: %v", line, err)
		}
		entries[i] = e
	}
	return entries, lines
}

// checkEntry compares every field of e with want, and its date with the
// time the test ran (the server writes local time).
func checkEntry(t *testing.T, line string, e, want xferlog.Entry, since time.Time) {
	t.Helper()
	if e.Time.Before(since.Truncate(time.Second)) || e.Time.After(time.Now()) {
		t.Errorf("%q: date %v, want between %v and now", line, e.Time, since)
	}
	if e.Seconds < 1 {
		t.Errorf("%q: transfer time %d, want at least 1", line, e.Seconds)
	}
	want.Time, want.Seconds = e.Time, e.Seconds
	if want.Service == "" {
		want.Service = "ftp"
	}
	want.RemoteHost, want.SpecialAction, want.AuthMethod, want.AuthUserID = "127.0.0.1", "_", "0", "*"
	if e != want {
		t.Errorf("xferlog line %q\n = %+v\nwant %+v", line, e, want)
	}
}

func randomFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// Anonymous transfers by real clients, one line each, checked field by
// field: a curl upload and a TYPE A download, an lftp download resumed
// with REST, and a download aborted by the client (status i).
func TestServeXferlogAnonymous(t *testing.T) {
	t.Parallel()
	root, work := t.TempDir(), t.TempDir()
	logPath := filepath.Join(t.TempDir(), "xferlog")
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("line one\nline two\n"), 0o644)
	big := randomFile(t, filepath.Join(root, "big.bin"), 3<<20)
	randomFile(t, filepath.Join(root, "huge.bin"), 64<<20)
	upload := randomFile(t, filepath.Join(work, "up.bin"), 100000)
	since := time.Now()
	addr, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--root", root, "--write", "--passive-ports", "", "--xferlog", logPath)
	url := "ftp://" + addr

	// curl logs in anonymously with the password ftp@example.com.
	tool(t, work, "curl", "-sS", "-T", "up.bin", url+"/up%20load.bin")
	entries, lines := xferlogEntries(t, logPath, 1)
	checkEntry(t, lines[0], entries[0], xferlog.Entry{Bytes: int64(len(upload)), Filename: "/up_load.bin", Type: "b",
		Direction: "i", AccessMode: "a", Username: "ftp@example.com", Complete: true}, since)
	if got, _ := os.ReadFile(filepath.Join(root, "up load.bin")); !bytes.Equal(got, upload) {
		t.Fatal("the upload did not arrive whole")
	}

	tool(t, work, "curl", "-sS", "-u", "anonymous:joe@example.com", "-o", "hello.txt", url+"/hello.txt;type=A")
	entries, lines = xferlogEntries(t, logPath, 2)
	// The file's bytes, as ftpserver counts a TYPE A transfer; vsftpd
	// counts those on the wire, with their CRs (20).
	checkEntry(t, lines[1], entries[1], xferlog.Entry{Bytes: int64(len("line one\nline two\n")), Filename: "/hello.txt", Type: "a",
		Direction: "o", AccessMode: "a", Username: "joe@example.com", Complete: true}, since)

	const have = 1 << 20
	os.WriteFile(filepath.Join(work, "big.bin"), big[:have], 0o644)
	tool(t, work, "lftp", "-c", "set net:max-retries 1; set net:timeout 10; set ftp:ssl-allow no; set ftp:anon-pass lftp@example.org; open "+url+"; get -c big.bin")
	if got, _ := os.ReadFile(filepath.Join(work, "big.bin")); !bytes.Equal(got, big) {
		t.Fatal("lftp's resumed download differs from the file")
	}
	entries, lines = xferlogEntries(t, logPath, 3)
	checkEntry(t, lines[2], entries[2], xferlog.Entry{Bytes: int64(len(big) - have), Filename: "/big.bin", Type: "b",
		Direction: "o", AccessMode: "a", Username: "lftp@example.org", Complete: true}, since)

	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS quitter@example.com")
	ftpCmd(t, c, 200, "TYPE I")
	msg := ftpCmd(t, c, 229, "EPSV")
	data, err := net.Dial("tcp", "127.0.0.1:"+msg[strings.Index(msg, "|||")+3:strings.LastIndex(msg, "|")])
	if err != nil {
		t.Fatal(err)
	}
	ftpCmd(t, c, 150, "RETR huge.bin")
	io.ReadFull(data, make([]byte, 64<<10))
	data.Close()
	c.PrintfLine("ABOR")
	for {
		code, msg, err := c.ReadResponse(0)
		if err != nil {
			t.Fatalf("after ABOR: %v", err)
		}
		if code == 226 || code == 225 {
			break
		}
		if code != 426 {
			t.Fatalf("after ABOR: %d %s", code, msg)
		}
	}
	entries, lines = xferlogEntries(t, logPath, 4)
	if n := entries[3].Bytes; n < 64<<10 || n >= 64<<20 {
		t.Errorf("aborted download logged %d bytes", n)
	}
	checkEntry(t, lines[3], entries[3], xferlog.Entry{Bytes: entries[3].Bytes, Filename: "/huge.bin", Type: "b",
		Direction: "o", AccessMode: "a", Username: "quitter@example.com", Complete: false}, since)

	// Listings are not transfers of files: no line. The line of the
	// download after it is the next one.
	tool(t, work, "curl", "-sS", "-o", os.DevNull, url+"/")
	tool(t, work, "curl", "-sS", "-o", os.DevNull, url+"/hello.txt")
	entries, lines = xferlogEntries(t, logPath, 5)
	if entries[4].Filename != "/hello.txt" {
		t.Errorf("a listing was logged: %q", lines[4])
	}
}

// A real account's transfers are logged with access mode r and its name.
func TestServeXferlogAccount(t *testing.T) {
	t.Parallel()
	root, work := t.TempDir(), t.TempDir()
	logPath := filepath.Join(t.TempDir(), "xferlog")
	pwFile := filepath.Join(work, "pw")
	os.WriteFile(pwFile, []byte("s3cret\n"), 0o600)
	content := randomFile(t, filepath.Join(work, "report 2026.csv"), 5000)
	since := time.Now()
	addr, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--root", root, "--user", "joe", "--password-file", pwFile, "--write",
		"--passive-ports", "", "--xferlog", logPath)
	url := "ftp://" + addr
	tool(t, work, "curl", "-sS", "-u", "joe:s3cret", "-T", "report 2026.csv", url+"/report%202026.csv")
	tool(t, work, "curl", "-sS", "-u", "joe:s3cret", "-o", "back.csv", url+"/report%202026.csv")
	if got, _ := os.ReadFile(filepath.Join(work, "back.csv")); !bytes.Equal(got, content) {
		t.Fatal("the file did not come back whole")
	}
	entries, lines := xferlogEntries(t, logPath, 2)
	checkEntry(t, lines[0], entries[0], xferlog.Entry{Bytes: 5000, Filename: "/report_2026.csv", Type: "b",
		Direction: "i", AccessMode: "r", Username: "joe", Complete: true}, since)
	checkEntry(t, lines[1], entries[1], xferlog.Entry{Bytes: 5000, Filename: "/report_2026.csv", Type: "b",
		Direction: "o", AccessMode: "r", Username: "joe", Complete: true}, since)
}
