package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/auth"
)

// runUser runs "ferry user --file FILE args..." with stdin as standard
// input and returns what it printed.
func runUser(t *testing.T, file, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}
	err = Run(context.Background(), env, append([]string{"user", "--file", file}, args...))
	return out.String(), errOut.String(), err
}

func verify(t *testing.T, file, name, pass string) error {
	t.Helper()
	users, err := auth.LoadUsers(file)
	if err != nil {
		t.Fatal(err)
	}
	_, err = users.Verify(context.Background(), name, pass)
	return err
}

func TestUserAddListPasswdDel(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.toml")
	home := filepath.Join(dir, "alice")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}

	out, errOut, err := runUser(t, file, "open sesame\n", "add", "alice", "--home", home, "--write", "--password-stdin")
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if !strings.Contains(out, `added user "alice"`) || errOut != "" {
		t.Errorf("add printed %q, %q", out, errOut)
	}
	if err := verify(t, file, "alice", "open sesame"); err != nil {
		t.Fatalf("alice's password after add: %v", err)
	}
	data, _ := os.ReadFile(file)
	if strings.Contains(string(data), "open sesame") {
		t.Fatalf("plaintext password in the users file:\n%s", data)
	}
	if info, _ := os.Stat(file); info.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v", info.Mode().Perm())
	}

	// bcrypt on request; a CRLF line end is not part of the password.
	if _, _, err := runUser(t, file, "hunter2\r\n", "add", "bob", "--home", home, "--algo", "bcrypt", "--password-stdin"); err != nil {
		t.Fatalf("add bob: %v", err)
	}
	if err := verify(t, file, "bob", "hunter2"); err != nil {
		t.Fatalf("bob's password: %v", err)
	}

	out, _, err = runUser(t, file, "", "list")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("list printed %d lines:\n%s", len(lines), out)
	}
	for i, want := range [][]string{
		{"NAME", "HOME", "WRITE", "DISABLED", "HASH"},
		{"alice", home, "yes", "no", "argon2id"},
		{"bob", home, "no", "no", "bcrypt"},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("list line %d = %q, want fields %q", i, lines[i], want)
		}
	}
	if strings.Contains(out, "$") {
		t.Errorf("list shows a hash:\n%s", out)
	}

	if _, _, err := runUser(t, file, "new one\n", "passwd", "alice", "--password-stdin"); err != nil {
		t.Fatalf("passwd: %v", err)
	}
	if err := verify(t, file, "alice", "open sesame"); !errors.Is(err, auth.ErrAuthFailed) {
		t.Errorf("old password after passwd: %v", err)
	}
	if err := verify(t, file, "alice", "new one"); err != nil {
		t.Errorf("new password after passwd: %v", err)
	}

	if _, _, err := runUser(t, file, "", "del", "bob"); err != nil {
		t.Fatalf("del: %v", err)
	}
	out, _, _ = runUser(t, file, "", "list")
	if strings.Contains(out, "bob") || !strings.Contains(out, "alice") {
		t.Errorf("list after del bob:\n%s", out)
	}
}

func TestUserAddRelativeHome(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, errOut, err := runUser(t, filepath.Join("etc", "..", "users.toml"), "pw\n", "add", "carol", "--home", "srv/carol", "--password-stdin"); err != nil {
		t.Fatal(err)
	} else if !strings.Contains(errOut, "warning:") || !strings.Contains(errOut, filepath.Join(dir, "srv", "carol")) {
		t.Errorf("no warning about the missing home: %q", errOut)
	}
	users, err := auth.LoadUsers(filepath.Join(dir, "users.toml"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := users.Lookup("carol")
	if want := filepath.Join(dir, "srv", "carol"); u.Home != want {
		t.Errorf("home %q, want %q (absolute, from the working directory)", u.Home, want)
	}
}

func TestUserErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.toml")
	if _, _, err := runUser(t, file, "pw\n", "add", "dave", "--home", dir, "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.toml")

	for _, c := range []struct {
		name  string
		file  string
		stdin string
		args  []string
		want  string
	}{
		{"add twice", file, "pw\n", []string{"add", "dave", "--home", dir, "--password-stdin"}, `user "dave" already exists`},
		{"add without home", file, "pw\n", []string{"add", "erin", "--password-stdin"}, `"home" not set`},
		{"add anonymous", file, "pw\n", []string{"add", "anonymous", "--home", dir, "--password-stdin"}, "reserved for anonymous login"},
		{"add name with space", file, "pw\n", []string{"add", "a b", "--home", dir, "--password-stdin"}, "space"},
		{"add empty password", file, "\n", []string{"add", "erin", "--home", dir, "--password-stdin"}, "empty password"},
		{"add no stdin at all", file, "", []string{"add", "erin", "--home", dir, "--password-stdin"}, "empty password"},
		{"add without a terminal", file, "pw\n", []string{"add", "erin", "--home", dir}, "--password-stdin"},
		{"add bad algorithm", file, "pw\n", []string{"add", "erin", "--home", dir, "--algo", "md5", "--password-stdin"}, `unknown password hash algorithm "md5"`},
		{"bcrypt too long", file, strings.Repeat("x", 73) + "\n", []string{"add", "erin", "--home", dir, "--algo", "bcrypt", "--password-stdin"}, "72 bytes"},
		{"password too long", file, strings.Repeat("x", 5000), []string{"add", "erin", "--home", dir, "--password-stdin"}, "longer than 4096 bytes"},
		{"passwd unknown", file, "pw\n", []string{"passwd", "zed", "--password-stdin"}, `no user "zed"`},
		{"del unknown", file, "", []string{"del", "zed"}, `no user "zed"`},
		{"del no name", file, "", []string{"del"}, "accepts 1 arg"},
		{"list missing file", missing, "", []string{"list"}, "ferry user add"},
		{"passwd missing file", missing, "pw\n", []string{"passwd", "dave", "--password-stdin"}, "missing.toml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := runUser(t, c.file, c.stdin, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// None of the failures changed the file or created another.
	out, _, err := runUser(t, file, "", "list")
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, "dave") {
		t.Errorf("list after the failures: %q, %v", out, err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a failed command created missing.toml")
	}
	if err := verify(t, file, "dave", "pw"); err != nil {
		t.Errorf("dave's password after the failures: %v", err)
	}
}

// A users file with a plaintext password is refused, not rewritten.
func TestUserRefusesBrokenFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users.toml")
	const broken = "[[user]]\nname = \"x\"\npassword = \"plain\"\nhome = \"/x\"\n"
	if err := os.WriteFile(file, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runUser(t, file, "pw\n", "add", "y", "--home", "/y", "--password-stdin")
	if err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Errorf("add to a broken file: %v", err)
	}
	if data, _ := os.ReadFile(file); string(data) != broken {
		t.Errorf("the broken file was rewritten:\n%s", data)
	}
}
