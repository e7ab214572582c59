package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestLoginCheckKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		file          string
		all, perIP    int
		wantBuildFail string
	}{
		{"defaults", "", 0, 2, ""},
		{"set", "max_login_checks = 8\nmax_login_checks_per_ip = 3\n", 8, 3, ""},
		{"no limit per address", "max_login_checks_per_ip = 0\n", 0, -1, ""},
		{"negative", "max_login_checks = -1\n", 0, 0, "max_login_checks"},
		{"negative per address", "max_login_checks_per_ip = -2\n", 0, 0, "max_login_checks_per_ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "ferry.toml")
			writeFile(t, path, "root = \".\"\n"+tc.file)
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantBuildFail != "" {
				inst, err := c.Build(quiet)
				if err == nil {
					inst.Close()
					t.Fatalf("Build accepted %q", tc.file)
				}
				if !strings.Contains(err.Error(), tc.wantBuildFail) {
					t.Errorf("Build error %q does not name %s", err, tc.wantBuildFail)
				}
				return
			}
			srv := build(t, c)
			if srv.MaxLoginChecks != tc.all || srv.MaxLoginChecksPerIP != tc.perIP {
				t.Errorf("MaxLoginChecks %d, MaxLoginChecksPerIP %d; want %d, %d",
					srv.MaxLoginChecks, srv.MaxLoginChecksPerIP, tc.all, tc.perIP)
			}
		})
	}
}

// A failed login maps auth's sentinel to the server's and says
// "authentication failed" once, for the log.
func TestServerErrorOnce(t *testing.T) {
	t.Parallel()
	err := serverError(fmt.Errorf("%w: unknown user", auth.ErrAuthFailed))
	if !errors.Is(err, ftpserver.ErrAuthFailed) || !errors.Is(err, auth.ErrAuthFailed) {
		t.Fatalf("serverError(...) = %v: not both sentinels", err)
	}
	if got, want := err.Error(), "authentication failed: unknown user"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}
