package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/sftptest"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// ferry serve with FTP, SFTP and the admin server: ferry status lists
// the SFTP session (protocol sftp, its user and address), the
// per-address limit counts it against FTP connections, and DELETE
// through the API ends it.
func TestServeAdminShowsSFTPSessionsAndSharesLimits(t *testing.T) {
	t.Parallel()
	root, dir := t.TempDir(), t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("s3cret\n"), 0o600)
	conf := filepath.Join(dir, "ferry.toml")
	os.WriteFile(conf, []byte("max_sessions_per_ip = 1\n[sftp]\nlisten = \"127.0.0.1:0\"\n"), 0o600)
	tokenFile, token := newToken(t)
	ftpAddr, welcome, _ := startServe(t, "--config", conf, "--listen", "127.0.0.1:0", "--root", root,
		"--user", "joe", "--password-file", pwFile, "--passive-ports", "",
		"--admin-listen", "127.0.0.1:0", "--admin-token-file", tokenFile)
	m, a := sftpLine.FindStringSubmatch(welcome), adminLine.FindStringSubmatch(welcome)
	if m == nil || a == nil {
		t.Fatalf("no SFTP or admin address in the welcome text:\n%s", welcome)
	}
	url := a[1]

	client, conn := sftptest.DialPassword(t, net.JoinHostPort("127.0.0.1", m[1]), "joe", "s3cret")
	if _, err := client.Getwd(); err != nil {
		t.Fatal(err)
	}

	// The SFTP session holds the address's one session: FTP is refused.
	raw, err := net.Dial("tcp", ftpAddr)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	line := make([]byte, 100)
	n, _ := raw.Read(line)
	raw.Close()
	if got := string(line[:n]); got != "421 Too many connections from your address.\r\n" {
		t.Errorf("FTP connection while SFTP holds the address's one session: %q, want 421 saying why", got)
	}

	var out, errOut bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errOut}
	os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600)
	if err := Run(context.Background(), env, []string{"status", "--admin", url, "--token-file", filepath.Join(dir, "token")}); err != nil {
		t.Fatalf("ferry status: %v %s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := regexp.MustCompile(`^(sftp-\w+) +sftp +joe +` + regexp.QuoteMeta(conn.LocalAddr().String()) + ` +\S+ +REALPATH \. +-$`)
	var id string
	if len(lines) == 2 {
		if sm := want.FindStringSubmatch(lines[1]); sm != nil {
			id = sm[1]
		}
	}
	if id == "" {
		t.Fatalf("ferry status:\n%s\nwant one line matching %s", out.String(), want)
	}

	if status, body := api(t, "DELETE", url+"/api/v1/sessions/"+id, token, ""); status != 204 {
		t.Fatalf("DELETE %s: %d %s", id, status, body)
	}
	if err := conn.Wait(); err == nil {
		t.Error("the SSH connection ended cleanly, want it cut")
	}
	// Its session gone, the address may connect over FTP again.
	testwait.For(t, "an FTP greeting once the SFTP session ended", func() bool {
		raw, err := net.Dial("tcp", ftpAddr)
		if err != nil {
			return false
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(10 * time.Second))
		n, _ := raw.Read(line)
		return strings.HasPrefix(string(line[:n]), "220")
	})
}
