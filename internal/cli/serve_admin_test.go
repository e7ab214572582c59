package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/internal/pgtest"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// Argon2id under the race detector takes seconds per hash; the API's
// hashing is the same code with bcrypt.
func init() { adminPasswordAlgorithm = auth.Bcrypt }

var adminLine = regexp.MustCompile(`admin dashboard, API and metrics at (http://127\.0\.0\.1:\d+)/`)

// newToken writes a fresh token file with "ferry admin token" and
// returns its path and the token.
func newToken(t *testing.T) (string, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "admin.token")
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{"admin", "token", "--file", file, "--print"}); err != nil {
		t.Fatal(err)
	}
	return file, strings.TrimSpace(out.String())
}

// startAdminServe runs "ferry serve" with the admin server on a free
// port and returns the FTP address, the admin URL and the token.
func startAdminServe(t *testing.T, args ...string) (ftpAddr, adminURL, token string) {
	t.Helper()
	tokenFile, token := newToken(t)
	addr, welcome, _ := startServe(t, append([]string{"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--admin-token-file", tokenFile}, args...)...)
	m := adminLine.FindStringSubmatch(welcome)
	if m == nil {
		t.Fatalf("no admin address in the welcome text:\n%s", welcome)
	}
	return addr, m[1], token
}

// api sends one request to the admin API and returns the status and body.
func api(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

func userNames(t *testing.T, url, token string) []string {
	t.Helper()
	status, body := api(t, "GET", url+"/api/v1/users", token, "")
	var list struct {
		Users []struct {
			Name string `json:"name"`
		} `json:"users"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("GET users: %d %s", status, body)
	}
	var names []string
	for _, u := range list.Users {
		names = append(names, u.Name)
	}
	return names
}

// checkUsersAPI drives the users API of a server and checks each edit
// with a real login; runUser runs "ferry user" on the same store, whose
// edits the API must keep.
func checkUsersAPI(t *testing.T, ftpAddr, url, token, home string, runUser func(stdin string, args ...string)) {
	t.Helper()
	add := `{"name":"bob","password":"bobpw","home":` + strconv.Quote(home) + `,"write":true}`
	if status, body := api(t, "POST", url+"/api/v1/users", token, add); status != 201 || !strings.Contains(body, `"name":"bob"`) {
		t.Fatalf("POST bob: %d %s", status, body)
	}
	if status, body := api(t, "POST", url+"/api/v1/users", token, add); status != 409 {
		t.Errorf("POST bob again: %d %s, want 409", status, body)
	}
	if code, msg := passReply(t, ftpAddr, "bob", "bobpw"); code != 230 {
		t.Fatalf("bob's login after POST: %d %s", code, msg)
	}
	// An edit by "ferry user" between two API edits survives the second.
	runUser("carolpw\n", "add", "carol", "--home", home, "--password-stdin", "--algo", "bcrypt")
	if status, body := api(t, "PUT", url+"/api/v1/users/bob/password", token, `{"password":"newpw"}`); status != 204 {
		t.Fatalf("PUT bob's password: %d %s", status, body)
	}
	if got := strings.Join(userNames(t, url, token), ","); got != "alice,bob,carol" {
		t.Errorf("users after the edits: %s, want alice,bob,carol", got)
	}
	if code, _ := passReply(t, ftpAddr, "bob", "bobpw"); code != 530 {
		t.Errorf("bob's old password: %d, want 530", code)
	}
	if code, msg := passReply(t, ftpAddr, "bob", "newpw"); code != 230 {
		t.Errorf("bob's new password: %d %s", code, msg)
	}
	if code, msg := passReply(t, ftpAddr, "carol", "carolpw"); code != 230 {
		t.Errorf("carol, added by ferry user: %d %s", code, msg)
	}
	if status, body := api(t, "PUT", url+"/api/v1/users/nobody/password", token, `{"password":"x"}`); status != 404 {
		t.Errorf("PUT nobody's password: %d %s", status, body)
	}
	if status, body := api(t, "DELETE", url+"/api/v1/users/bob", token, ""); status != 204 {
		t.Fatalf("DELETE bob: %d %s", status, body)
	}
	if status, _ := api(t, "DELETE", url+"/api/v1/users/bob", token, ""); status != 404 {
		t.Errorf("DELETE bob again: %d, want 404", status)
	}
	if code, _ := passReply(t, ftpAddr, "bob", "newpw"); code != 530 {
		t.Errorf("bob's login after DELETE: %d, want 530", code)
	}
	if got := strings.Join(userNames(t, url, token), ","); got != "alice,carol" {
		t.Errorf("users at the end: %s, want alice,carol", got)
	}
}

func TestServeAdminUsersFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	usersFile := filepath.Join(dir, "users.toml")
	run := func(stdin string, args ...string) {
		t.Helper()
		if _, stderr, err := runUser(t, usersFile, stdin, args...); err != nil {
			t.Fatalf("ferry user %v: %v %s", args, err, stderr)
		}
	}
	run("alicepw\n", "add", "alice", "--home", home, "--password-stdin", "--algo", "bcrypt")
	config := filepath.Join(dir, "ferry.toml")
	if err := os.WriteFile(config, []byte("users_file = \"users.toml\"\npassive_ports = \"47000-47099\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ftpAddr, url, token := startAdminServe(t, "--config", config)
	checkUsersAPI(t, ftpAddr, url, token, home, run)
}

func TestServeAdminUsersDB(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	home := t.TempDir()
	run := func(stdin string, args ...string) {
		t.Helper()
		if _, err := runUserDB(t, dsn, stdin, args...); err != nil {
			t.Fatalf("ferry user --db %v: %v", args, err)
		}
	}
	run("alicepw\n", "add", "alice", "--home", home, "--password-stdin", "--algo", "bcrypt")
	ftpAddr, url, token := startAdminServe(t, "--users-db", dsn, "--passive-ports", "47100-47199")
	checkUsersAPI(t, ftpAddr, url, token, home, run)
}

// ferry status shows a live session and its running download; the JSON
// form is the API's answer.
func TestStatusShowsLiveSession(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	// Larger than what loopback socket buffers hold, so that the download
	// stays running while the client reads nothing.
	const size = 256 << 20
	big := filepath.Join(root, "big.bin")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, size); err != nil {
		t.Fatal(err)
	}
	ftpAddr, url, token := startAdminServe(t, "--root", root, "--passive-ports", "47200-47299")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c, raw := dialRaw(t, ftpAddr)
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS x")
	ftpCmd(t, c, 200, "TYPE I")
	msg := ftpCmd(t, c, 229, "EPSV")
	port := msg[strings.Index(msg, "|||")+3 : strings.LastIndex(msg, "|")]
	data, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	ftpCmd(t, c, 150, "RETR big.bin")

	status := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, append([]string{"status", "--admin", url, "--token-file", tokenFile}, args...)); err != nil {
			t.Fatalf("ferry status: %v %s", err, errOut.String())
		}
		return out.String()
	}
	var table string
	testwait.For(t, "ferry status to show the running download", func() bool {
		table = status()
		return strings.Contains(table, "RETR big.bin") && regexp.MustCompile(`RETR /big.bin [0-9.]+[KM]iB/256.0MiB`).MatchString(table)
	})
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^ID +PROTO +USER +REMOTE +SINCE +COMMAND +TRANSFER$`).MatchString(lines[0]) {
		t.Fatalf("status table:\n%s", table)
	}
	if f := strings.Fields(lines[1]); f[1] != "ftp" || f[2] != "anonymous" || f[3] != raw.LocalAddr().String() {
		t.Errorf("session line %q: want protocol ftp, user anonymous, remote %s", lines[1], raw.LocalAddr())
	}

	var list struct {
		Sessions []struct {
			User     string `json:"user"`
			Transfer *struct {
				Path string `json:"path"`
				Size int64  `json:"size"`
			} `json:"transfer"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(status("--json")), &list); err != nil || len(list.Sessions) != 1 || list.Sessions[0].Transfer == nil || list.Sessions[0].Transfer.Size != size {
		t.Errorf("status --json: %+v, %v", list, err)
	}

	// A wrong token: the API's message, and an error.
	var out, errOut bytes.Buffer
	err = Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{"status", "--admin", url})
	if err == nil || !strings.Contains(err.Error(), "no admin token") {
		t.Errorf("status without a token: %v", err)
	}
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrongFile, []byte("wrong\n"), 0o600)
	err = Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{"status", "--admin", url, "--token-file", wrongFile})
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: missing or wrong bearer token") {
		t.Errorf("status with a wrong token: %v", err)
	}
}

func TestAdminTokenFile(t *testing.T) {
	t.Parallel()
	file, token := newToken(t)
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", info.Mode().Perm())
	}
	data, _ := os.ReadFile(file)
	if string(data) != token+"\n" || len(token) != 43 || strings.ContainsAny(token, "+/=") {
		t.Errorf("token %q in file %q: want 43 base64url characters", token, data)
	}
	var out, errOut bytes.Buffer
	err = Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{"admin", "token", "--file", file})
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("overwriting without --force: %v", err)
	}
	if again, _ := os.ReadFile(file); !bytes.Equal(again, data) {
		t.Error("the refused overwrite changed the file")
	}
	os.Chmod(file, 0o644)
	out.Reset()
	if err := Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{"admin", "token", "--file", file, "--force"}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("the token was printed without --print: %q", out.String())
	}
	info, _ = os.Stat(file)
	if again, _ := os.ReadFile(file); bytes.Equal(again, data) || info.Mode().Perm() != 0o600 {
		t.Errorf("--force: same token or mode %v", info.Mode().Perm())
	}
}

func TestServeAdminRefusesBadTokenFile(t *testing.T) {
	t.Parallel()
	file, _ := newToken(t)
	os.Chmod(file, 0o644)
	var out, errOut bytes.Buffer
	err := Run(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut},
		[]string{"serve", "--listen", "127.0.0.1:0", "--root", t.TempDir(), "--admin-listen", "127.0.0.1:0", "--admin-token-file", file})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("serve with a world-readable token file: %v", err)
	}
	err = Run(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut},
		[]string{"serve", "--listen", "127.0.0.1:0", "--root", t.TempDir(), "--admin-listen", "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "admin.token_file: is required") {
		t.Errorf("serve --admin-listen without a token file: %v", err)
	}
}
