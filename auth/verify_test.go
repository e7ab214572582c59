package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/lingering"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// usersWith writes a users file with one account per hash, named u0, u1…
func usersWith(t testing.TB, hashes ...string) *UsersFile {
	t.Helper()
	var b strings.Builder
	for i, h := range hashes {
		fmt.Fprintf(&b, "[[user]]\nname = \"u%d\"\npassword = %q\nhome = \"/h\"\n", i, h)
	}
	path := filepath.Join(t.TempDir(), "users.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Hashes of other software (and parameters other than ferry's defaults)
// that a users file can hold.
func TestDummyHasTheAccountsCost(t *testing.T) {
	bcrypt5 := must(hashBcrypt("pw", 5))
	bcrypt6 := must(hashBcrypt("pw", 6))
	argonSmall := must(hashArgon2("pw", argon2Params{memory: 256, time: 2, threads: 1}))
	argonOther := must(hashArgon2("pw", argon2Params{memory: 512, time: 1, threads: 2}))
	for _, tc := range []struct {
		name   string
		hashes []string
	}{
		{"bcrypt", []string{bcrypt5}},
		{"bcrypt $2y$", []string{"$2y$" + bcrypt6[4:]}},
		{"argon2id", []string{argonSmall}},
		{"argon2id, two costs", []string{argonSmall, argonOther}},
		// The case that told names apart: the first account's cost
		// was used for every unknown name.
		{"argon2id then bcrypt", []string{argonSmall, bcrypt5}},
		{"bcrypt then argon2id", []string{bcrypt6, argonOther, argonOther}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := usersWith(t, tc.hashes...)
			if err := f.PrepareVerify(); err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, h := range tc.hashes {
				want[costKey(h)] = true
			}
			seen := map[string]bool{}
			for i := range 64 {
				name := fmt.Sprintf("nobody%d", i)
				d := f.dummyFor(name)
				key := costKey(d)
				if !want[key] {
					t.Fatalf("dummy for %s has cost %q; the accounts have %v", name, key, want)
				}
				if _, err := AlgorithmOf(d); err != nil {
					t.Fatalf("dummy for %s: %v", name, err)
				}
				if again := f.dummyFor(name); again != d {
					t.Errorf("%s got two different dummies", name)
				}
				seen[key] = true
			}
			if len(seen) != len(want) {
				t.Errorf("64 unknown names used the costs %v; the accounts have %v", seen, want)
			}
		})
	}

	t.Run("empty file", func(t *testing.T) {
		f := usersWith(t)
		if err := f.PrepareVerify(); err != nil {
			t.Fatal(err)
		}
		if got, want := costKey(f.dummyFor("x")), costKey(must(HashPassword("pw", Argon2id))); got != want {
			t.Errorf("dummy for an empty file has cost %q, want the default %q", got, want)
		}
	})

	t.Run("follows edits", func(t *testing.T) {
		f := usersWith(t, bcrypt5)
		if _, err := f.Verify(context.Background(), "nobody", "pw"); !errors.Is(err, ErrAuthFailed) {
			t.Fatal(err)
		}
		f.Algorithm = Argon2id
		if err := f.SetPassword("u0", "new"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Verify(context.Background(), "nobody", "pw"); !errors.Is(err, ErrAuthFailed) {
			t.Fatal(err)
		}
		u, _ := f.Lookup("u0")
		if got, want := costKey(f.dummyFor("nobody")), costKey(u.PasswordHash); got != want {
			t.Errorf("after the password changed to argon2id, the dummy has cost %q, want %q", got, want)
		}
	})
}

func must(h string, err error) string {
	if err != nil {
		panic(err)
	}
	return h
}

// A caller that gives up stops waiting at once, whether it was waiting
// for a slot or hashing; a hash in progress keeps its slot until it ends.
func TestVerifyHonoursContext(t *testing.T) {
	// Any well-formed hash costs its full work to check; this one takes
	// long enough to cancel in the middle without being made first.
	slow := "$argon2id$v=19$m=8192,t=20,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	f := usersWith(t, slow)
	ctx, cancel := context.WithCancel(context.Background())
	var tracker lingering.Tracker
	ctx = lingering.With(ctx, &tracker)
	result := make(chan error, 1)
	go func() {
		_, err := f.Verify(ctx, "u0", "guess")
		result <- err
	}()
	testwait.For(t, "the check to start", func() bool { return len(hashSlots) == 1 })
	cancel()
	err := <-result
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify cancelled while hashing = %v, want context.Canceled", err)
	}
	if n := len(hashSlots); n != 1 {
		t.Errorf("%d slots held right after the cancelled check returned; the hash still runs, want 1", n)
	}
	// The caller's tracker counts the hash until it ends (a server's
	// per-address login slot waits for it).
	waited := make(chan struct{})
	go func() {
		tracker.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		t.Error("the tracker let go while the abandoned hash still ran")
	default:
	}
	<-waited
	if n := len(hashSlots); n != 0 {
		t.Errorf("the tracker let go with %d slots still held", n)
	}
}

// Unknown names and wrong passwords should cost the same per algorithm:
//
//	go test -run '^$' -bench Verify ./auth
func BenchmarkVerify(b *testing.B) {
	for _, algo := range []struct {
		name string
		hash string
	}{
		{"bcrypt-10", must(hashBcrypt("right", 10))},
		{"argon2id-default", must(hashArgon2("right", argon2Params{memory: 64 * 1024, time: 3, threads: 2}))},
	} {
		// The account under test is second, after one of the other
		// algorithm, as in a file that mixes them.
		other := must(hashArgon2("x", argon2Params{memory: 256, time: 1, threads: 1}))
		f := usersWith(b, other, algo.hash)
		if err := f.PrepareVerify(); err != nil {
			b.Fatal(err)
		}
		// An unknown name that is checked like u1's account.
		unknown := ""
		for i := 0; unknown == ""; i++ {
			if n := fmt.Sprintf("nobody%d", i); costKey(f.dummyFor(n)) == costKey(algo.hash) {
				unknown = n
			}
		}
		for _, tc := range []struct{ name, user string }{
			{"wrong-password", "u1"},
			{"unknown-name", unknown},
		} {
			b.Run(algo.name+"/"+tc.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := f.Verify(context.Background(), tc.user, "wrong"); !errors.Is(err, ErrAuthFailed) {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
