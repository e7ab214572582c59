package admin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"Bearer abc":         "abc",
		"bearer abc":         "abc",
		"BEARER   a-b.c_~+/": "a-b.c_~+/",
		"Bearer abc==":       "abc==",
		"Bearer ":            "",
		"Bearer":             "",
		"Bearer =":           "",
		"Bearer a=b":         "",
		"Bearer abc def":     "",
		"Bearer abc\t":       "",
		"Basic abc":          "",
		"Bearerabc":          "",
		"":                   "",
		"Bearer \x00":        "",
		"Bearer é":           "",
	} {
		got, ok := bearerToken(header)
		if got != want || ok != (want != "") {
			t.Errorf("bearerToken(%q) = %q, %v; want %q", header, got, ok, want)
		}
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x==", "Basic Zm9v", "Bearer", "Bearer a b", "Bearer \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := bearerToken(header)
		if !ok {
			if token != "" {
				t.Fatalf("rejected %q but returned %q", header, token)
			}
			return
		}
		if !isToken68(token) || !strings.HasSuffix(header, token) || strings.ContainsAny(token, " \t\r\n") {
			t.Fatalf("bearerToken(%q) = %q", header, token)
		}
		// What the header carried round-trips.
		if again, ok := bearerToken("Bearer " + token); !ok || again != token {
			t.Fatalf("token %q does not round-trip: %q %v", token, again, ok)
		}
	})
}

func TestLoadToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	if tok, err := LoadToken(write("ok", "abc_DEF-123\nignored\n", 0o600)); err != nil || tok != "abc_DEF-123" {
		t.Errorf("LoadToken = %q, %v", tok, err)
	}
	if tok, err := LoadToken(write("group", "  tok  \r\n", 0o640)); err != nil || tok != "tok" {
		t.Errorf("group-readable: %q, %v", tok, err)
	}
	for name, c := range map[string]struct {
		data string
		mode os.FileMode
		want string
	}{
		"empty":          {"", 0o600, "first line is empty"},
		"blank":          {"\n\nsecond", 0o600, "first line is empty"},
		"world-readable": {"tok\n", 0o644, "accessible to every user"},
		"spaces":         {"a b\n", 0o600, "may hold only"},
	} {
		_, err := LoadToken(write(name, c.data, c.mode))
		if !errors.Is(err, ErrBadTokenFile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadTokenFile saying %q", name, err, c.want)
		}
	}
	if _, err := LoadToken(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadToken(dir); !errors.Is(err, ErrBadTokenFile) {
		t.Errorf("a directory: %v", err)
	}
}
