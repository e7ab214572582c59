package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustHash(t *testing.T, pass string, algo Algorithm) string {
	t.Helper()
	h, err := HashPassword(pass, algo)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAddSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.toml")
	f, err := LoadOrCreateUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.List()) != 0 {
		t.Fatalf("new file lists %v", f.List())
	}
	if err := f.Add("alice", "alice-pw", "/srv/ftp/alice", true); err != nil {
		t.Fatal(err)
	}
	f.Algorithm = Bcrypt
	if err := f.Add("bob", "bob-pw", "/srv/ftp/bob", false); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("users file mode %v, want 0600", perm)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "alice-pw") || strings.Contains(string(data), "bob-pw") {
		t.Fatalf("plaintext password in the file:\n%s", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %v after Save, want only users.toml", entries)
	}

	g, err := LoadUsers(path)
	if err != nil {
		t.Fatalf("loading what Save wrote: %v\n%s", err, data)
	}
	list := g.List()
	if len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
		t.Fatalf("List() = %+v, want alice then bob", list)
	}
	if a := list[0]; a.Home != "/srv/ftp/alice" || !a.Write || a.Algorithm() != Argon2id {
		t.Errorf("alice = %+v (%v)", a, a.Algorithm())
	}
	if b := list[1]; b.Home != "/srv/ftp/bob" || b.Write || b.Algorithm() != Bcrypt {
		t.Errorf("bob = %+v (%v)", b, b.Algorithm())
	}
	for _, c := range []struct{ name, pass string }{{"alice", "alice-pw"}, {"bob", "bob-pw"}} {
		if u, err := g.Verify(context.Background(), c.name, c.pass); err != nil || u.Name != c.name {
			t.Errorf("Verify(%s) = %+v, %v", c.name, u, err)
		}
	}
}

func TestVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	f, _ := LoadOrCreateUsers(path)
	if err := f.Add("carol", "s3cret", "/home/carol", true); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	u, err := f.Verify(ctx, "carol", "s3cret")
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	if u.Name != "carol" || u.Home != "/home/carol" || !u.Write {
		t.Errorf("Verify returned %+v", u)
	}
	for _, c := range []struct{ user, pass string }{
		{"carol", "wrong"},
		{"carol", ""},
		{"Carol", "s3cret"}, // names are case-sensitive
		{"nobody", "s3cret"},
		{"", ""},
	} {
		u, err := f.Verify(ctx, c.user, c.pass)
		if u != nil || !errors.Is(err, ErrAuthFailed) {
			t.Errorf("Verify(%q, %q) = %v, %v; want nil, ErrAuthFailed", c.user, c.pass, u, err)
		}
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	// Fill every slot so that only the context can end the wait.
	for range cap(hashSlots) {
		hashSlots <- struct{}{}
	}
	_, err = f.Verify(canceled, "carol", "s3cret")
	for range cap(hashSlots) {
		<-hashSlots
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a canceled context waiting for a slot = %v", err)
	}
}

// An unknown user is checked against a hash of the same cost as a real
// account, so it takes as long.
func TestVerifyUnknownUserCostsTheSame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	writeFile(t, path, fmt.Sprintf("[[user]]\nname = \"dave\"\npassword = %q\nhome = \"/d\"\n",
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"))
	f, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Verify(context.Background(), "eve", "password"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("unknown user: %v", err)
	}
	if len(f.dummies) != 1 {
		t.Fatalf("dummy hashes: %v", f.dummies)
	}
	for _, h := range f.dummies {
		if costKey(h) != "$argon2id$v=19$m=256,t=2,p=1" {
			t.Errorf("dummy hash %q does not have the account's cost", h)
		}
	}
	// The password of the dummy hash must not log anyone in.
	if _, err := f.Verify(context.Background(), "eve", "ferry dummy password"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("unknown user with the dummy password: %v", err)
	}
}

func TestEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	f, _ := LoadOrCreateUsers(path)
	for _, n := range []string{"a", "b", "c"} {
		if err := f.Add(n, n+"-pw", "/h/"+n, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Add("b", "x", "/h/x", true); !errors.Is(err, ErrUserExists) {
		t.Errorf("adding b twice: %v", err)
	}
	if err := f.Add("d", "", "/h/d", true); err == nil {
		t.Error("Add accepted an empty password")
	}
	if err := f.Add("d", "pw", "", true); err == nil {
		t.Error("Add accepted an empty home")
	}
	if err := f.Delete("b"); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete("b"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("deleting b twice: %v", err)
	}
	if _, ok := f.Lookup("b"); ok {
		t.Error("b still there after Delete")
	}
	if u, ok := f.Lookup("c"); !ok || u.Home != "/h/c" {
		t.Errorf("Lookup(c) after deleting b = %+v, %v", u, ok)
	}
	if err := f.SetPassword("c", "new-pw"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetPassword("zz", "pw"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("SetPassword of an unknown user: %v", err)
	}
	ctx := context.Background()
	if _, err := f.Verify(ctx, "c", "c-pw"); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("old password still works: %v", err)
	}
	if _, err := f.Verify(ctx, "c", "new-pw"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	g, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range g.List() {
		names = append(names, u.Name)
	}
	if strings.Join(names, ",") != "a,c" {
		t.Errorf("saved users %v, want a,c", names)
	}
}

func TestValidateName(t *testing.T) {
	for _, name := range []string{"alice", "bob.smith", "user@example.com", "Zoë", "a-b_c"} {
		if err := ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", "anonymous", "ANONYMOUS", "ftp", "Ftp", "a b", "a\tb", "a\x00b", "a\nb", "\xff", strings.Repeat("x", 256)} {
		err := ValidateName(name)
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", name, err)
		}
		f, _ := LoadOrCreateUsers(filepath.Join(t.TempDir(), "u.toml"))
		if err := f.Add(name, "pw", "/h", false); err == nil {
			t.Errorf("Add(%q) succeeded", name)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	good := mustHash(t, "pw", Argon2id)
	for _, c := range []struct {
		name, content string
		want          []string // substrings of the error
	}{
		{"plaintext", fmt.Sprintf("[[user]]\nname = \"alice\"\npassword = %q\nhome = \"/a\"\n\n[[user]]\nname = \"bob\"\npassword = \"hunter2\"\nhome = \"/b\"\n", good),
			[]string{"users.toml:6:", `"bob"`, "plaintext", "ferry user passwd bob"}},
		{"no password", "[[user]]\nname = \"alice\"\nhome = \"/a\"\n", []string{"users.toml:1:", `"alice" has no password`}},
		{"syntax", "[[user]]\nname = \"alice\"\npassword = \n", []string{"users.toml:3:"}},
		{"type", "[[user]]\nname = \"alice\"\nwrite = \"yes\"\n", []string{"users.toml:3:", "user.write"}},
		{"unknown key", "[[user]]\nname = \"alice\"\npasword = \"x\"\n", []string{"users.toml:3:1", `"user.pasword"`}},
		{"unknown table", "[users]\n", []string{"users.toml:1:", `"users"`}},
		{"duplicate", fmt.Sprintf("[[user]]\nname = \"a\"\npassword = %q\nhome = \"/a\"\n[[user]]\nname = \"a\"\npassword = %q\nhome = \"/a\"\n", good, good),
			[]string{"users.toml:5", `"a" is already defined at`, "users.toml:1"}},
		{"reserved", fmt.Sprintf("[[user]]\nname = \"ftp\"\npassword = %q\nhome = \"/a\"\n", good), []string{"users.toml:1", "reserved"}},
		{"no home", fmt.Sprintf("[[user]]\nname = \"a\"\npassword = %q\n", good), []string{"users.toml:1", "home directory required"}},
		{"malformed hash", "[[user]]\nname = \"a\"\npassword = \"$argon2id$v=19$m=1\"\nhome = \"/a\"\n", []string{"users.toml:1", "malformed argon2id hash"}},
		{"inline tables", "user = [{name = \"a\", password = \"x\", home = \"/a\"}]\n", []string{"users.toml: user #1", "plaintext"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "users.toml")
			writeFile(t, path, c.content)
			_, err := LoadUsers(path)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := LoadUsers(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadUsers(missing) = %v", err)
	}
	f, err := LoadOrCreateUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("LoadOrCreateUsers created the file before Save")
	}
	if changed, err := f.ReloadIfChanged(); changed || err != nil {
		t.Errorf("ReloadIfChanged of a file not yet created = %v, %v", changed, err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUsers(path); err != nil {
		t.Fatalf("loading an empty saved file: %v", err)
	}
}

func TestRelativeHome(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.toml")
	writeFile(t, path, fmt.Sprintf("[[user]]\nname = \"a\"\npassword = %q\nhome = \"homes/a\"\n", mustHash(t, "pw", Argon2id)))
	f, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := f.Lookup("a")
	if want := filepath.Join(dir, "homes", "a"); u.Home != want {
		t.Errorf("home %q, want %q (relative to the file)", u.Home, want)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "'homes/a'") {
		t.Errorf("Save rewrote the relative home:\n%s", data)
	}
}

func TestReloadIfChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	server, _ := LoadOrCreateUsers(path)
	if err := server.Save(); err != nil {
		t.Fatal(err)
	}
	if changed, err := server.ReloadIfChanged(); changed || err != nil {
		t.Fatalf("ReloadIfChanged after own Save = %v, %v", changed, err)
	}

	editor, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := editor.Add("frank", "pw", "/f", false); err != nil {
		t.Fatal(err)
	}
	if err := editor.Save(); err != nil {
		t.Fatal(err)
	}
	if changed, err := server.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("ReloadIfChanged after another Save = %v, %v", changed, err)
	}
	if _, err := server.Verify(context.Background(), "frank", "pw"); err != nil {
		t.Fatalf("new user after reload: %v", err)
	}

	// A broken edit keeps the accounts in use.
	writeFile(t, path, "[[user]]\nname = \"frank\"\npassword = \"plain\"\nhome = \"/f\"\n")
	if changed, err := server.ReloadIfChanged(); changed || err == nil {
		t.Fatalf("ReloadIfChanged of a broken file = %v, %v", changed, err)
	}
	if _, err := server.Verify(context.Background(), "frank", "pw"); err != nil {
		t.Fatalf("account lost after a failed reload: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	f, _ := LoadOrCreateUsers(path)
	if err := f.Add("base", "pw", "/b", false); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("u%d", i)
			if err := f.Add(name, "pw", "/h", false); err != nil {
				t.Error(err)
			}
			if _, err := f.Verify(context.Background(), "base", "pw"); err != nil {
				t.Error(err)
			}
			if _, err := f.Verify(context.Background(), name+"x", "pw"); !errors.Is(err, ErrAuthFailed) {
				t.Error(err)
			}
			_ = f.List()
			if err := f.Save(); err != nil {
				t.Error(err)
			}
			if i%2 == 0 {
				if err := f.Delete(name); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(f.List()); n != 5 {
		t.Errorf("%d users after the run, want 5", n)
	}
}

func TestQuotaSaveLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.toml")
	f, err := LoadOrCreateUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Algorithm = Bcrypt
	if err := f.Add("alice", "pw", "/srv/alice", true); err != nil {
		t.Fatal(err)
	}
	if err := f.SetQuota("alice", 64<<20, 10); err != nil {
		t.Fatal(err)
	}
	if err := f.SetQuota("bob", 1, 1); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("SetQuota of an unknown user = %v", err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := again.Lookup("alice")
	if u.QuotaBytes != 64<<20 || u.QuotaFiles != 10 || !u.HasQuota() {
		t.Fatalf("loaded quota = %d bytes, %d files", u.QuotaBytes, u.QuotaFiles)
	}
	hash := mustHash(t, "pw", Bcrypt)
	writeFile(t, path, "[[user]]\nname = \"a\"\npassword = \""+hash+"\"\nhome = \"/x\"\nquota_bytes = -1\n")
	if _, err := LoadUsers(path); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("negative quota loaded: %v", err)
	}
}

// A disabled account fails as a wrong password does, is checked against
// its own hash first (a wrong password says so, not "disabled"), and
// survives a save and load; enabling it lets it in again.
func TestDisabledAccount(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.toml")
	f, err := LoadOrCreateUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Algorithm = Bcrypt
	if err := f.AddUser(User{Name: "alice", Home: "/srv/alice", Write: true, QuotaFiles: 3, Disabled: true}, "pw"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetDisabled("bob", true); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("SetDisabled of an unknown user = %v", err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), "disabled = true") {
		t.Fatalf("saved file (%v):\n%s", err, data)
	}
	again, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := again.Lookup("alice"); !u.Disabled || u.QuotaFiles != 3 || !u.Write {
		t.Fatalf("loaded alice = %+v", u)
	}
	ctx := context.Background()
	_, err = again.Verify(ctx, "alice", "pw")
	if !errors.Is(err, ErrAuthFailed) || !errors.Is(err, ErrDisabled) || err.Error() != "authentication failed: account disabled" {
		t.Fatalf("disabled alice, right password: %v", err)
	}
	_, err = again.Verify(ctx, "alice", "wrong")
	if !errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled alice, wrong password: %v", err)
	}
	if err := again.SetDisabled("alice", false); err != nil {
		t.Fatal(err)
	}
	if u, err := again.Verify(ctx, "alice", "pw"); err != nil || u.Name != "alice" || u.Disabled {
		t.Fatalf("enabled alice: %+v, %v", u, err)
	}
	if err := again.Save(); err != nil {
		t.Fatal(err)
	}
	// An enabled account leaves no key behind.
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "disabled") {
		t.Fatalf("enabled account still marked:\n%s", data)
	}
	writeFile(t, path, "[[user]]\nname = \"a\"\npassword = \""+mustHash(t, "pw", Bcrypt)+"\"\nhome = \"/x\"\ndisabled = \"yes\"\n")
	if _, err := LoadUsers(path); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("disabled = \"yes\" loaded: %v", err)
	}
}
