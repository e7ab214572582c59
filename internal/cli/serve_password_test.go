package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loginWorks checks that joe logs in with pass and not with something else.
func loginWorks(t *testing.T, addr, pass string) {
	t.Helper()
	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER joe")
	ftpCmd(t, c, 530, "PASS "+pass+"x")
	ftpCmd(t, c, 331, "USER joe")
	ftpCmd(t, c, 230, "PASS "+pass)
}

func TestServePasswordFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, content, pass string }{
		{"newline", "s3cret pw\n", "s3cret pw"},
		{"CRLF and more lines", "s3cret\r\nignored\n", "s3cret"},
		{"no newline", "s3cret", "s3cret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "pw")
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			addr, _, logs := startServe(t, "--listen", "127.0.0.1:0", "--root", t.TempDir(), "--user", "joe", "--password-file", file)
			loginWorks(t, addr, tc.pass)
			if strings.Contains(logs.String(), "warning") {
				t.Errorf("a 0600 password file was warned about:\n%s", logs.String())
			}
		})
	}
}

// The environment variable cannot be set per parallel test.
func TestServePasswordFromEnvironment(t *testing.T) {
	t.Setenv("FERRY_PASSWORD", "from env")
	addr, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--root", t.TempDir(), "--user", "joe")
	loginWorks(t, addr, "from env")
}

func TestServePasswordErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "pw")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(good, []byte("pw\n"), 0o600)
	os.WriteFile(empty, []byte("\nsecond line\n"), 0o600)
	root := t.TempDir()
	t.Setenv("FERRY_PASSWORD", "") // unset for the cases without it
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"no password", "", []string{"--user", "joe"}, "--user needs a password: --password-file FILE, $FERRY_PASSWORD, or --password"},
		{"flag and file", "", []string{"--user", "joe", "--password", "pw", "--password-file", good}, "given by both --password-file and --password"},
		{"file and environment", "pw", []string{"--user", "joe", "--password-file", good}, "given by both --password-file and $FERRY_PASSWORD"},
		{"flag and environment", "pw", []string{"--user", "joe", "--password", "pw"}, "given by both $FERRY_PASSWORD and --password"},
		{"file without user", "", []string{"--password-file", good}, "--password-file needs --user"},
		{"flag without user", "", []string{"--password", "pw"}, "--password needs --user"},
		{"missing file", "", []string{"--user", "joe", "--password-file", filepath.Join(dir, "missing")}, "no such file"},
		{"empty first line", "", []string{"--user", "joe", "--password-file", empty}, "the first line is empty"},
		{"empty flag", "", []string{"--user", "joe", "--password", ""}, "--password: empty password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FERRY_PASSWORD", tc.env)
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--root", root}, tc.args...)
			// A server that starts instead of refusing stops here and
			// fails the test, rather than serving on.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := Run(ctx, Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}, args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q: %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

// Without --user the variable is not a password of anything: anonymous
// serving goes on as without it.
func TestServePasswordEnvironmentWithoutUser(t *testing.T) {
	t.Setenv("FERRY_PASSWORD", "unused")
	addr, welcome, _ := startServe(t, "--listen", "127.0.0.1:0", "--root", t.TempDir())
	if !strings.Contains(welcome, "anonymous login") {
		t.Errorf("welcome without --user:\n%s", welcome)
	}
	c := ftpDial(t, addr)
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS guest@example.com")
}

func TestServePasswordFileReadableByOthers(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("pw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _, logs := startServe(t, "--listen", "127.0.0.1:0", "--root", t.TempDir(), "--user", "joe", "--password-file", file)
	loginWorks(t, addr, "pw")
	if !strings.Contains(logs.String(), "readable by other users") {
		t.Errorf("no warning about a 0644 password file:\n%s", logs.String())
	}
}

// The help says where else the password can come from, and why.
func TestServeHelpNamesPasswordAlternatives(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := Run(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}, []string{"serve", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--password-file", "FERRY_PASSWORD", "readable by every local user"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help does not mention %q:\n%s", want, out.String())
		}
	}
}
