package config

import (
	"os"
	"path/filepath"
	"testing"
)

// By default anonymous users download only files everyone may read, as
// vsftpd's anon_world_readable_only; the key turns it off.
func TestAnonymousWorldReadableOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		file       string // configuration file; "" for the defaults
		secretCode int
	}{
		{"default", "", 550},
		{"turned off", "[anonymous]\nworld_readable_only = false\n", 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			root := filepath.Join(dir, "pub")
			writeFile(t, filepath.Join(root, "public.txt"), "for everyone")
			writeFile(t, filepath.Join(root, "secret.txt"), "for the owner")
			if err := os.Chmod(filepath.Join(root, "public.txt"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(root, "secret.txt"), 0o640); err != nil {
				t.Fatal(err)
			}
			c := Default()
			if tc.file != "" {
				path := filepath.Join(dir, "ferry.toml")
				writeFile(t, path, tc.file)
				var err error
				if c, err = Load(path); err != nil {
					t.Fatal(err)
				}
			}
			c.Root = root
			addr, _ := serve(t, buildInstance(t, c), false)

			conn := dialFTP(t, addr)
			conn.cmd(331, "USER anonymous")
			conn.cmd(230, "PASS guest@example.com")
			if got := string(conn.retr("public.txt", nil)); got != "for everyone" {
				t.Errorf("RETR public.txt = %q", got)
			}
			if tc.secretCode == 550 {
				conn.cmd(229, "EPSV")
				conn.cmd(550, "RETR secret.txt")
				return
			}
			if got := string(conn.retr("secret.txt", nil)); got != "for the owner" {
				t.Errorf("RETR secret.txt = %q", got)
			}
		})
	}
}
