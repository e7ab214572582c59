package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRemoteURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                              string
		scheme, addr, user, pass, rpath string
		hasPass                         bool
	}{
		{"ftp://example.com", "ftp", "example.com:21", "", "", ".", false},
		{"ftp://example.com/", "ftp", "example.com:21", "", "", ".", false},
		{"ftp://bob:s%40cret@example.com:2121/dir/file%20x.txt", "ftp", "example.com:2121", "bob", "s@cret", "dir/file x.txt", true},
		{"ftps://h/a", "ftps", "h:990", "", "", "a", false},
		{"FTPES://h//srv/abs", "ftpes", "h:21", "", "", "/srv/abs", false},
		{"ftp://[::1]:99/x", "ftp", "[::1]:99", "", "", "x", false},
		{"ftp://alice@h/", "ftp", "h:21", "alice", "", ".", false},
	}
	for _, tt := range tests {
		r, err := parseRemoteURL(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if r.Scheme != tt.scheme || r.Addr() != tt.addr || r.User != tt.user || r.Pass != tt.pass || r.HasPass != tt.hasPass || r.resolve() != tt.rpath {
			t.Errorf("%s: got %+v (addr %s, path %s)", tt.in, r, r.Addr(), r.resolve())
		}
	}
	for _, bad := range []string{"http://x/", "/local/path", "ftp:///nohost", "ftp://%zz/"} {
		if _, err := parseRemoteURL(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if s := (&remoteURL{Scheme: "ftp", Host: "h", Port: "21", User: "u", Pass: "secret", HasPass: true, Path: "a b"}).String(); strings.Contains(s, "secret") {
		t.Errorf("String leaks the password: %s", s)
	}
}

func TestNetrc(t *testing.T) {
	t.Parallel()
	text := `machine ftp.example.com login alice password wonder
macdef init
cd /pub
bin

machine other.example.com
  login bob
  password "b"
default login anonymous password me@example.com
`
	entries := parseNetrc(text)
	if m, ok := findNetrc(entries, "FTP.example.com", ""); !ok || m.login != "alice" || m.password != "wonder" {
		t.Errorf("ftp.example.com: %+v %v", m, ok)
	}
	if m, ok := findNetrc(entries, "other.example.com", "bob"); !ok || m.password != `"b"` {
		t.Errorf("other.example.com: %+v %v", m, ok)
	}
	if m, ok := findNetrc(entries, "unknown", ""); !ok || m.login != "anonymous" {
		t.Errorf("default: %+v %v", m, ok)
	}
	if _, ok := findNetrc(entries, "ftp.example.com", "mallory"); ok {
		t.Error("matched an entry for another user")
	}
}

func TestCredentialsPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	netrc := filepath.Join(dir, "netrc")
	os.WriteFile(netrc, []byte("machine h login nick password fromnetrc\n"), 0o600)
	env := Env{Stdin: strings.NewReader(""), Stdout: os.Stdout, Stderr: os.Stderr}
	ctx := context.Background()
	cases := []struct {
		url, flagUser, wantUser, wantPass string
		wantErr                           bool
	}{
		{"ftp://u:p@h/", "x:y", "u", "p", false},
		{"ftp://h/", "x:y", "x", "y", false},
		{"ftp://h/", "", "nick", "fromnetrc", false},
		{"ftp://nick@h/", "", "nick", "fromnetrc", false},
		{"ftp://other@h/", "", "", "", true}, // no password and no terminal
		{"ftp://nohost.example/", "", "anonymous", "ferry@", false},
		{"ftp://ftp@h/", "", "ftp", "ferry@", false},
	}
	for _, c := range cases {
		f := &remoteFlags{user: c.flagUser, netrc: netrc}
		r, err := parseRemoteURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		u, p, err := f.credentials(ctx, env, r)
		if (err != nil) != c.wantErr || u != c.wantUser || p != c.wantPass {
			t.Errorf("%s --user %q: got %q/%q, %v", c.url, c.flagUser, u, p, err)
		}
	}
}
