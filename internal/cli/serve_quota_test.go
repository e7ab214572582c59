package cli

import (
	"bytes"
	"context"
	"errors"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goftp "github.com/jlaffaye/ftp"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/internal/pgtest"
)

// avbl asks a server for AVBL with our client and returns the number.
func avbl(t *testing.T, addr, user, pass string) int64 {
	t.Helper()
	// Generous: the machine may be busy hashing other tests' passwords.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ftpclient.Dial(ctx, addr, ftpclient.WithLogin(user, pass))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code, msg, err := c.Quote(ctx, "AVBL")
	if err != nil || code != 213 {
		t.Fatalf("AVBL = %d %q, %v", code, msg, err)
	}
	n, err := strconv.ParseInt(msg, 10, 64)
	if err != nil {
		t.Fatalf("AVBL answered %q", msg)
	}
	return n
}

func wantStorCode(t *testing.T, c *goftp.ServerConn, name string, size, code int) {
	t.Helper()
	err := c.Stor(name, bytes.NewReader(make([]byte, size)))
	var tp *textproto.Error
	if code == 0 {
		if err != nil {
			t.Fatalf("STOR %s (%d bytes): %v", name, size, err)
		}
		return
	}
	if !errors.As(err, &tp) || tp.Code != code {
		t.Fatalf("STOR %s (%d bytes) = %v; want %d", name, size, err, code)
	}
}

// A quota set with "ferry user --db" holds across two nodes: what one
// node stored counts on the other, an upload past it is refused with 552
// and leaves nothing, AVBL answers what is left, and a quota changed
// while the nodes run counts at once.
func TestServeUsersDBQuota(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	home := t.TempDir()
	// There before the first login: counted by the walk.
	if err := os.WriteFile(filepath.Join(home, "old.bin"), make([]byte, 30_000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runUserDB(t, dsn, "pw\n", "add", "alice", "--home", home, "--write", "--password-stdin", "--algo", "bcrypt", "--quota-bytes", "100KiB"); err != nil {
		t.Fatal(err)
	}
	addrA, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--passive-ports", "46300-46399", "--users-db", dsn)
	addrB, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--passive-ports", "46400-46499", "--users-db", dsn)

	if got := avbl(t, addrB, "alice", "pw"); got != 102_400-30_000 {
		t.Fatalf("AVBL on B = %d; want %d", got, 102_400-30_000)
	}
	a := goFTP(t, addrA, "alice", "pw")
	wantStorCode(t, a, "big.bin", 80_000, 552)
	if _, err := os.Stat(filepath.Join(home, "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("refused upload left big.bin: %v", err)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 1 {
		t.Fatalf("home holds %d entries after a refused upload; want only old.bin", len(entries))
	}
	wantStorCode(t, a, "mid.bin", 50_000, 0)
	if got := avbl(t, addrB, "alice", "pw"); got != 102_400-80_000 {
		t.Fatalf("AVBL on B after A stored 50000 = %d; want %d", got, 102_400-80_000)
	}
	b := goFTP(t, addrB, "alice", "pw")
	wantStorCode(t, b, "more.bin", 30_000, 552)
	if err := a.Delete("old.bin"); err != nil {
		t.Fatal(err)
	}
	wantStorCode(t, b, "more.bin", 30_000, 0)

	out, err := runUserDB(t, dsn, "", "show", "alice")
	if err != nil || !strings.Contains(out, "quota: 100KiB (102400 bytes), none") || !strings.Contains(out, "used:  80000 bytes in 2 files") {
		t.Fatalf("show alice: %q, %v", out, err)
	}
	// Raised while both run: the next upload sees it.
	if out, err := runUserDB(t, dsn, "", "quota", "alice", "--quota-bytes", "none", "--quota-files", "3"); err != nil || !strings.Contains(out, "none, 3 files") {
		t.Fatalf("quota: %q, %v", out, err)
	}
	wantStorCode(t, a, "huge.bin", 200_000, 0)
	wantStorCode(t, b, "fourth.bin", 1, 552)
}

// The same flags with a users file on one node: usage counted in memory
// from a walk of the home, quota changes read at the next login.
func TestServeUsersFileQuota(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	home := filepath.Join(dir, "alice")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "old.bin"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	usersFile := filepath.Join(dir, "users.toml")
	if out, _, err := runUser(t, usersFile, "pw\n", "add", "alice", "--home", home, "--write", "--password-stdin", "--algo", "bcrypt", "--quota-bytes", "4KiB", "--quota-files", "3"); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	configFile := filepath.Join(dir, "ferry.toml")
	if err := os.WriteFile(configFile, []byte("users_file = \"users.toml\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _, _ := startServe(t, "--config", configFile, "--listen", "127.0.0.1:0", "--passive-ports", "46500-46599")
	if got := avbl(t, addr, "alice", "pw"); got != 4096-1000 {
		t.Fatalf("AVBL = %d; want %d", got, 4096-1000)
	}
	c := goFTP(t, addr, "alice", "pw")
	wantStorCode(t, c, "big.bin", 4000, 552)
	if _, err := os.Stat(filepath.Join(home, "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("refused upload left big.bin: %v", err)
	}
	wantStorCode(t, c, "a.bin", 3096, 0) // exactly full
	wantStorCode(t, c, "b.bin", 1, 552)
	if err := c.Delete("a.bin"); err != nil {
		t.Fatal(err)
	}
	wantStorCode(t, c, "b.bin", 1, 0)
	wantStorCode(t, c, "c.bin", 1, 0)
	wantStorCode(t, c, "d.bin", 1, 552) // a fourth file
	if out, _, err := runUser(t, usersFile, "", "quota", "alice", "--quota-files", "0"); err != nil || !strings.Contains(out, "4KiB (4096 bytes), none") {
		t.Fatalf("quota: %q, %v", out, err)
	}
	// The session already logged in sees the new limit at its next
	// upload, as a new login does.
	wantStorCode(t, c, "d.bin", 1, 0)
	c2 := goFTP(t, addr, "alice", "pw")
	wantStorCode(t, c2, "e.bin", 1, 0)
}
