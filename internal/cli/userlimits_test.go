package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/pgtest"
)

// serveUsersFile runs "ferry serve" over a users file with anonymous
// logins off, and returns its address.
func serveUsersFile(t *testing.T, users, root string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "ferry.toml")
	text := fmt.Sprintf("listen = \"127.0.0.1:0\"\nroot = %q\nusers_file = %q\n[anonymous]\nenabled = false\n", root, users)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _, _ := startServe(t, "--config", cfg)
	return addr
}

// Every per-user flag of "ferry user add" and "ferry user mod" reaches a
// real server over TCP: path permissions (550 naming the permission), the
// session limit, allowed addresses and the download rate.
func TestUserLimitsUsersFile(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 6<<10) // 96 KiB
	if err := os.WriteFile(filepath.Join(home, "big"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(t.TempDir(), "users.toml")
	if _, _, err := runUser(t, users, "pw\n", "add", "carol", "--home", home, "--password-stdin", "--algo", "bcrypt",
		"--perm", "/=list,download", "--perm", "/in=list,upload", "--max-sessions", "1",
		"--allow-from", "127.0.0.0/8", "--download-rate", "32KiB"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runUser(t, users, "", "show", "carol")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"perms: /=list,download /in=list,upload", "max sessions: 1", "download 32KiB", "allow from: 127.0.0.0/8"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	addr := serveUsersFile(t, users, home)

	c := goFTP(t, addr, "carol", "pw")
	if err := c.Stor("top", strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "no upload permission") {
		t.Errorf("STOR /top: %v, want 550 naming upload", err)
	}
	if err := c.Stor("in/new", strings.NewReader("x")); err != nil {
		t.Errorf("STOR /in/new: %v", err)
	}
	if err := c.Delete("in/new"); err == nil || !strings.Contains(err.Error(), "no delete permission") {
		t.Errorf("DELE /in/new: %v, want 550 naming delete", err)
	}
	if err := loginResult(t, addr, "carol", "pw"); err == nil || !strings.Contains(err.Error(), "Too many sessions") {
		t.Errorf("second session: %v, want 530 Too many sessions", err)
	}

	// 96 KiB at 32 KiB/s, bursts of 8 KiB: at least (96-8)/32 s.
	start := time.Now()
	r, err := c.Retr("big")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(r)
	r.Close()
	if elapsed := time.Since(start); elapsed < 2500*time.Millisecond || !bytes.Equal(got.Bytes(), payload) {
		t.Errorf("RETR of 96 KiB at 32 KiB/s: %d bytes in %v, want all of them in 2.75 s or more", got.Len(), elapsed)
	}
	c.Quit()

	// mod: only 10.0.0.0/8 may log in, then anyone again.
	if _, _, err := runUser(t, users, "", "mod", "carol", "--clear-allow-from", "--allow-from", "10.0.0.0/8", "--max-sessions", "none"); err != nil {
		t.Fatal(err)
	}
	if err := loginResult(t, addr, "carol", "pw"); err == nil {
		t.Error("login from 127.0.0.1 accepted with --allow-from 10.0.0.0/8")
	}
	if _, _, err := runUser(t, users, "", "mod", "carol", "--clear-allow-from", "--clear-perms", "--write"); err != nil {
		t.Fatal(err)
	}
	c = goFTP(t, addr, "carol", "pw")
	if err := c.Stor("top", strings.NewReader("x")); err != nil {
		t.Errorf("STOR /top after --clear-perms --write: %v", err)
	}
	if _, _, err := runUser(t, users, "", "mod", "carol"); err == nil {
		t.Error("mod without flags succeeded")
	}
	if _, _, err := runUser(t, users, "", "mod", "carol", "--perm", "/x=fly"); err == nil || !strings.Contains(err.Error(), "unknown permission") {
		t.Errorf("mod --perm /x=fly: %v", err)
	}
}

// The same limits kept in PostgreSQL.
func TestUserLimitsDB(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	home := t.TempDir()
	if _, err := runUserDB(t, dsn, "pw\n", "add", "dave", "--home", home, "--password-stdin", "--algo", "bcrypt", "--write",
		"--perm", "/ro=list,download", "--upload-rate", "1MiB", "--max-sessions", "3"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(home, "ro"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := runUserDB(t, dsn, "", "mod", "dave", "--allow-from", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	out, err := runUserDB(t, dsn, "", "show", "dave")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"perms: /ro=list,download", "max sessions: 3", "upload 1MiB", "allow from: 127.0.0.1/32"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	addr, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--users-db", dsn)
	c := goFTP(t, addr, "dave", "pw")
	if err := c.Stor("ro/f", strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "no upload permission") {
		t.Errorf("STOR /ro/f: %v, want 550 naming upload", err)
	}
	if err := c.Stor("f", strings.NewReader("x")); err != nil {
		t.Errorf("STOR /f: %v", err)
	}
	if _, err := runUserDB(t, dsn, "", "mod", "dave", "--clear-allow-from", "--allow-from", "192.0.2.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := loginResult(t, addr, "dave", "pw"); err == nil {
		t.Error("login from 127.0.0.1 accepted after --allow-from 192.0.2.0/24")
	}
}
