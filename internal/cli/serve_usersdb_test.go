package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goftp "github.com/jlaffaye/ftp"

	"github.com/ferry-ftp/ferry/internal/pgtest"
)

// runUserDB runs "ferry user --db DSN args..." with stdin as standard
// input. bcrypt keeps the many hashes of these tests quick.
func runUserDB(t *testing.T, dsn, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}
	err := Run(context.Background(), env, append([]string{"user", "--db", dsn}, args...))
	return out.String(), err
}

// loginResult logs in with jlaffaye/ftp and reports the error, nil when
// the login worked.
func loginResult(t *testing.T, addr, user, pass string) error {
	t.Helper()
	c, err := goftp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	return c.Login(user, pass)
}

func TestUserDBCommands(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	home := t.TempDir()
	out, err := runUserDB(t, dsn, "pw-one\n", "add", "alice", "--home", home, "--write", "--password-stdin", "--algo", "bcrypt")
	if err != nil || !strings.Contains(out, `added user "alice"`) || !strings.Contains(out, "the users database") {
		t.Fatalf("add: %q, %v", out, err)
	}
	if _, err := runUserDB(t, dsn, "x\n", "add", "alice", "--home", home, "--password-stdin"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("adding alice again: %v", err)
	}
	if _, err := runUserDB(t, dsn, "pw\n", "add", "bob", "--home", "s3://bucket/bob", "--password-stdin", "--algo", "bcrypt"); err != nil {
		t.Fatal(err)
	}
	out, err = runUserDB(t, dsn, "", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "alice") || !strings.Contains(lines[1], home) || !strings.Contains(lines[1], "yes") ||
		!strings.HasPrefix(lines[2], "bob") || !strings.Contains(lines[2], "s3://bucket/bob") || strings.Contains(out, "$2") {
		t.Fatalf("list:\n%s", out)
	}
	out, err = runUserDB(t, dsn, "", "show", "alice")
	if err != nil || !strings.Contains(out, "home:  "+home) || !strings.Contains(out, "write: yes") || !strings.Contains(out, "hash:  bcrypt") {
		t.Fatalf("show alice: %q, %v", out, err)
	}
	if _, err := runUserDB(t, dsn, "", "show", "carol"); err == nil || !strings.Contains(err.Error(), `no user "carol" in the users database`) {
		t.Fatalf("show carol: %v", err)
	}
	if out, err := runUserDB(t, dsn, "pw-two\n", "passwd", "alice", "--password-stdin", "--algo", "bcrypt"); err != nil || !strings.Contains(out, "changed the password") {
		t.Fatalf("passwd: %q, %v", out, err)
	}
	if _, err := runUserDB(t, dsn, "x\n", "passwd", "carol", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Fatalf("passwd carol: %v", err)
	}
	if out, err := runUserDB(t, dsn, "", "del", "bob"); err != nil || !strings.Contains(out, `deleted user "bob"`) {
		t.Fatalf("del: %q, %v", out, err)
	}
	out, _ = runUserDB(t, dsn, "", "list")
	if strings.Contains(out, "bob") {
		t.Fatalf("bob still listed after del:\n%s", out)
	}
}

// Two nodes on one database: a user added and a password changed with
// "ferry user --db" while both run count at the next login on each; the
// old password no longer works anywhere. Anonymous is off.
func TestServeUsersDB(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "hello.txt"), []byte("hello from the db user\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runUserDB(t, dsn, "first\n", "add", "alice", "--home", home, "--password-stdin", "--algo", "bcrypt"); err != nil {
		t.Fatal(err)
	}
	addrA, welcome, _ := startServe(t, "--listen", "127.0.0.1:0", "--passive-ports", "46100-46199", "--users-db", dsn)
	addrB, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--passive-ports", "46200-46299", "--users-db", dsn)
	if strings.Contains(welcome, dsn) {
		t.Errorf("the welcome text shows the DSN:\n%s", welcome)
	}

	c := goFTP(t, addrA, "alice", "first")
	r, err := c.Retr("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(r)
	r.Close()
	if got.String() != "hello from the db user\n" {
		t.Fatalf("RETR hello.txt = %q", got.String())
	}
	if err := loginResult(t, addrA, "anonymous", "x@example.com"); err == nil {
		t.Fatal("anonymous login accepted with --users-db")
	}

	if _, err := runUserDB(t, dsn, "second\n", "passwd", "alice", "--password-stdin", "--algo", "bcrypt"); err != nil {
		t.Fatal(err)
	}
	if _, err := runUserDB(t, dsn, "bobpw\n", "add", "bob", "--home", home, "--password-stdin", "--algo", "bcrypt"); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{addrA, addrB} {
		if err := loginResult(t, addr, "alice", "first"); err == nil {
			t.Errorf("%s: old password accepted after passwd", addr)
		}
		if err := loginResult(t, addr, "alice", "second"); err != nil {
			t.Errorf("%s: new password refused: %v", addr, err)
		}
		if err := loginResult(t, addr, "bob", "bobpw"); err != nil {
			t.Errorf("%s: new user bob refused: %v", addr, err)
		}
	}
	if _, err := runUserDB(t, dsn, "", "del", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := loginResult(t, addrB, "bob", "bobpw"); err == nil {
		t.Error("deleted user bob still logs in")
	}
}
