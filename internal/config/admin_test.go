package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateAdmin(t *testing.T) {
	t.Parallel()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		admin Admin
		want  string // "" for valid
	}{
		{"off", Admin{}, ""},
		{"off with a token file left", Admin{TokenFile: "/nonexistent"}, ""},
		{"on", Admin{Listen: "127.0.0.1:8021", TokenFile: token}, ""},
		{"no token file", Admin{Listen: "127.0.0.1:8021"}, `admin.token_file: is required with admin.listen: make one with "ferry admin token --file FILE"`},
		{"missing token file", Admin{Listen: "127.0.0.1:8021", TokenFile: token + ".missing"}, "admin.token_file: stat "},
		{"token file a directory", Admin{Listen: "127.0.0.1:8021", TokenFile: filepath.Dir(token)}, "is not a regular file"},
		{"bad address", Admin{Listen: "localhost", TokenFile: token}, `admin.listen: want HOST:PORT`},
		{"FTP's address", Admin{Listen: "127.0.0.1:2121", TokenFile: token}, "admin.listen: is the same address as an FTP listener"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig(t)
			c.Listen = "127.0.0.1:2121"
			c.Admin = tc.admin
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// The [admin] table reads from a file, its token_file relative to the
// file, and the built-in default leaves it off.
func TestLoadAdmin(t *testing.T) {
	t.Parallel()
	if d := Default().Admin; d != (Admin{}) {
		t.Errorf("default [admin] = %+v, want off", d)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.toml")
	if err := os.WriteFile(path, []byte("[admin]\nlisten = \"127.0.0.1:8021\"\ntoken_file = \"admin.token\"\nmetrics_auth = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Admin{Listen: "127.0.0.1:8021", TokenFile: filepath.Join(dir, "admin.token"), MetricsAuth: true}
	if c.Admin != want {
		t.Errorf("[admin] = %+v, want %+v", c.Admin, want)
	}
}
