package auth

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// A users file may come from other software, edited by hand: whatever its
// password field holds, loading must not panic, and a hash AlgorithmOf
// accepts must be one CheckPassword and hashLike can use.
func FuzzAlgorithmOf(f *testing.F) {
	for _, seed := range []string{
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
		"$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$argon2id$v=19$m=256,t=2,p=0$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$argon2id$v=19$m=+256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$2a$04$" + strings.Repeat("a", 53),
		"$2b$05$" + strings.Repeat("A", 53),
		"$2y$31$" + strings.Repeat("a", 53),
		"$2x$10$" + strings.Repeat("a", 53),
		"$2b$4$" + strings.Repeat("a", 53),
		"plaintext",
		"",
		"$",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, hash string) {
		algo, err := AlgorithmOf(hash)
		if err != nil {
			return
		}
		key := costKey(hash)
		if algo == Argon2id && !strings.HasPrefix(hash, key+"$") {
			t.Fatalf("costKey(%q) = %q, not the part before the salt", hash, key)
		}
		// Check only what is cheap enough to run in a fuzz loop.
		switch algo {
		case Argon2id:
			p, _, _, _ := parseArgon2(hash)
			if p.memory > 1024 || p.time > 4 {
				return
			}
		case Bcrypt:
			if cost, _ := bcrypt.Cost([]byte(hash)); cost > 5 {
				return
			}
		}
		if _, err := CheckPassword(hash, "guess"); err != nil {
			t.Fatalf("AlgorithmOf(%q) accepted it, CheckPassword says %v", hash, err)
		}
		dummy, err := hashLike(hash, dummyPassword)
		if err != nil {
			t.Fatalf("hashLike(%q): %v", hash, err)
		}
		if costKey(dummy) != key {
			t.Fatalf("hashLike(%q) has cost %q, want %q", hash, costKey(dummy), key)
		}
	})
}
