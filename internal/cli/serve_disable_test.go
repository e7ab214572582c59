package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/pgtest"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// passReply sends USER and PASS on a fresh control connection and returns
// PASS's reply.
func passReply(t *testing.T, addr, user, pass string) (int, string) {
	t.Helper()
	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER "+user)
	if err := c.PrintfLine("PASS %s", pass); err != nil {
		t.Fatal(err)
	}
	code, msg, err := c.ReadResponse(0)
	if err != nil && code == 0 {
		t.Fatalf("PASS: %v", err)
	}
	return code, msg
}

// waitLog waits until the server's log holds want.
func waitLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	testwait.For(t, fmt.Sprintf("the log to say %q", want), func() bool {
		return strings.Contains(logs.String(), want)
	})
}

// checkDisableEnable disables alice (password "pw") with the user command
// run, expects the next login to fail exactly as a wrong password does
// while the log names the reason, then enables her and expects 230.
func checkDisableEnable(t *testing.T, addr string, logs *syncBuffer, run func(args ...string) (string, error)) {
	t.Helper()
	if code, msg := passReply(t, addr, "alice", "pw"); code != 230 {
		t.Fatalf("enabled alice: %d %s", code, msg)
	}
	wrongCode, wrongMsg := passReply(t, addr, "alice", "not-her-password")
	if wrongCode != 530 {
		t.Fatalf("wrong password: %d %s", wrongCode, wrongMsg)
	}
	if out, err := run("disable", "alice"); err != nil || !strings.Contains(out, `disabled user "alice"`) {
		t.Fatalf("disable: %q, %v", out, err)
	}
	if out, err := run("show", "alice"); err != nil || !strings.Contains(out, "state: disabled") {
		t.Fatalf("show after disable: %q, %v", out, err)
	}
	code, msg := passReply(t, addr, "alice", "pw")
	if code != wrongCode || msg != wrongMsg {
		t.Fatalf("disabled alice, right password: %d %q; a wrong password gives %d %q", code, msg, wrongCode, wrongMsg)
	}
	waitLog(t, logs, "account disabled")
	if out, err := run("enable", "alice"); err != nil || !strings.Contains(out, `enabled user "alice"`) {
		t.Fatalf("enable: %q, %v", out, err)
	}
	if code, msg := passReply(t, addr, "alice", "pw"); code != 230 {
		t.Fatalf("re-enabled alice: %d %s", code, msg)
	}
	if _, err := run("disable", "carol"); err == nil || !strings.Contains(err.Error(), `no user "carol"`) {
		t.Fatalf("disable carol: %v", err)
	}
}

func TestServeUsersFileDisable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users.toml")
	run := func(args ...string) (string, error) {
		out, _, err := runUser(t, usersFile, "pw\n", args...)
		return out, err
	}
	if _, err := run("add", "alice", "--home", dir, "--password-stdin", "--algo", "bcrypt"); err != nil {
		t.Fatal(err)
	}
	// Added disabled: never able to log in, listed as such.
	if out, err := run("add", "bob", "--home", dir, "--password-stdin", "--algo", "bcrypt", "--disabled"); err != nil || !strings.Contains(out, "disabled") {
		t.Fatalf("add --disabled: %q, %v", out, err)
	}
	if out, err := run("list"); err != nil || !strings.Contains(strings.Join(strings.Fields(out), " "), "bob "+dir+" no yes bcrypt") {
		t.Fatalf("list: %q, %v", out, err)
	}
	configFile := filepath.Join(dir, "ferry.toml")
	if err := os.WriteFile(configFile, []byte("users_file = \"users.toml\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _, logs := startServe(t, "--config", configFile, "--listen", "127.0.0.1:0")
	if code, _ := passReply(t, addr, "bob", "pw"); code != 530 {
		t.Fatalf("bob added disabled: %d", code)
	}
	checkDisableEnable(t, addr, logs, run)
}

// Two nodes on one database: a disable counts at the next login on each.
func TestServeUsersDBDisable(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	home := t.TempDir()
	run := func(args ...string) (string, error) { return runUserDB(t, dsn, "pw\n", args...) }
	if _, err := run("add", "alice", "--home", home, "--password-stdin", "--algo", "bcrypt"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("add", "bob", "--home", home, "--password-stdin", "--algo", "bcrypt", "--disabled"); err != nil {
		t.Fatal(err)
	}
	if out, err := run("show", "bob"); err != nil || !strings.Contains(out, "state: disabled") {
		t.Fatalf("show bob: %q, %v", out, err)
	}
	addrA, _, logsA := startServe(t, "--listen", "127.0.0.1:0", "--users-db", dsn)
	addrB, _, logsB := startServe(t, "--listen", "127.0.0.1:0", "--users-db", dsn)
	if code, _ := passReply(t, addrB, "bob", "pw"); code != 530 {
		t.Fatalf("bob added disabled: %d", code)
	}
	checkDisableEnable(t, addrA, logsA, run)
	checkDisableEnable(t, addrB, logsB, run)
}
