package auth

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) {
	// Real costs make every hash take ~0.1 s; the format and logic under
	// test do not depend on them.
	defaultArgon2 = argon2Params{memory: 64, time: 1, threads: 1}
	bcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

func TestHashAndCheck(t *testing.T) {
	for _, algo := range []Algorithm{Argon2id, Bcrypt} {
		t.Run(algo.String(), func(t *testing.T) {
			hash, err := HashPassword("correct horse", algo)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := AlgorithmOf(hash); err != nil || got != algo {
				t.Fatalf("AlgorithmOf(%q) = %v, %v; want %v", hash, got, err, algo)
			}
			if ok, err := CheckPassword(hash, "correct horse"); !ok || err != nil {
				t.Errorf("right password: %v, %v", ok, err)
			}
			for _, wrong := range []string{"", "correct hors", "correct horse ", "Correct horse"} {
				if ok, err := CheckPassword(hash, wrong); ok || err != nil {
					t.Errorf("password %q: %v, %v; want false, nil", wrong, ok, err)
				}
			}
			again, _ := HashPassword("correct horse", algo)
			if again == hash {
				t.Error("two hashes of one password are equal: salt not random")
			}
		})
	}
}

func TestArgon2idFormat(t *testing.T) {
	saved := defaultArgon2
	defer func() { defaultArgon2 = saved }()
	defaultArgon2 = argon2Params{memory: 256, time: 2, threads: 3}
	hash, err := HashPassword("x", Argon2id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=256,t=2,p=3$") {
		t.Fatalf("hash %q does not carry its parameters in PHC form", hash)
	}
	if n := strings.Count(hash, "$"); n != 5 {
		t.Fatalf("hash %q has %d '$', want 5", hash, n)
	}
}

// Hashes made elsewhere: vectors of the Argon2 reference implementation
// (phc-winner-argon2, src/test.c), password "password", salt "somesalt".
func TestArgon2idReferenceVectors(t *testing.T) {
	for _, hash := range []string{
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
	} {
		if ok, err := CheckPassword(hash, "password"); !ok || err != nil {
			t.Errorf("reference hash %s: %v, %v", hash, ok, err)
		}
		if ok, _ := CheckPassword(hash, "passwore"); ok {
			t.Errorf("reference hash %s accepts a wrong password", hash)
		}
	}
}

func TestBcryptOtherPrefixes(t *testing.T) {
	hash, err := HashPassword("secret", Bcrypt)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		h := prefix + hash[4:]
		if ok, err := CheckPassword(h, "secret"); !ok || err != nil {
			t.Errorf("%s hash: %v, %v", prefix, ok, err)
		}
	}
}

func TestBcryptLongPassword(t *testing.T) {
	long := strings.Repeat("a", 73)
	if _, err := HashPassword(long, Bcrypt); err == nil {
		t.Fatal("bcrypt hashed a 73-byte password it would truncate")
	}
	hash, err := HashPassword(long[:72], Bcrypt)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := CheckPassword(hash, long); ok {
		t.Fatal("a password with extra bytes after the 72nd matched")
	}
	if _, err := HashPassword(long, Argon2id); err != nil {
		t.Fatalf("argon2id refuses a long password: %v", err)
	}
}

func TestUnrecognisedHashes(t *testing.T) {
	for _, hash := range []string{
		"",
		"secret",
		"$1$abc$def", // md5-crypt
		"$argon2i$v=19$m=65536,t=3,p=2$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
		"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
	} {
		if _, err := AlgorithmOf(hash); !errors.Is(err, ErrUnknownHash) {
			t.Errorf("AlgorithmOf(%q) = %v, want ErrUnknownHash", hash, err)
		}
		if ok, err := CheckPassword(hash, hash); ok || !errors.Is(err, ErrUnknownHash) {
			t.Errorf("CheckPassword(%q) = %v, %v; want false, ErrUnknownHash", hash, ok, err)
		}
	}
}

func TestMalformedHashes(t *testing.T) {
	for _, hash := range []string{
		"$argon2id$v=19$m=65536,t=3,p=2$c29tZXNhbHQ",                                        // no key
		"$argon2id$v=16$m=65536,t=3,p=2$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",       // old version
		"$argon2id$v=19$t=3,m=65536,p=2$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",       // order
		"$argon2id$v=19$m=99999999,t=3,p=2$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",    // 95 GiB
		"$argon2id$v=19$m=65536,t=0,p=2$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",       // no passes
		"$argon2id$v=19$m=65536,t=3,p=0$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",       // no lanes
		"$argon2id$v=19$m=65536,t=3,p=2$c29tZXNhbHQ$!!!",                                    // bad base64
		"$argon2id$v=19$m=65536,t=3,p=2$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG$extra", // extra field
		"$2b$04$tooshort",
		"$2b$99$0123456789012345678901234567890123456789012345678901",
		"$2a$040" + strings.Repeat("0", 53),                                 // no "$" after the cost
		"$2a$04$" + strings.Repeat("0", 20) + " " + strings.Repeat("0", 32), // not bcrypt's base64
		"$2a$19$" + strings.Repeat("0", 53),                                 // hours of hashing
	} {
		_, err := AlgorithmOf(hash)
		if err == nil || errors.Is(err, ErrUnknownHash) {
			t.Errorf("AlgorithmOf(%q) = %v, want a malformed-hash error", hash, err)
		}
		if ok, err := CheckPassword(hash, "password"); ok || err == nil {
			t.Errorf("CheckPassword(%q) = %v, %v; want an error", hash, ok, err)
		}
	}
}

func TestParseAlgorithm(t *testing.T) {
	for s, want := range map[string]Algorithm{"argon2id": Argon2id, "bcrypt": Bcrypt, "BCRYPT": Bcrypt} {
		if got, err := ParseAlgorithm(s); got != want || err != nil {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseAlgorithm("md5"); err == nil {
		t.Error("ParseAlgorithm(md5) succeeded")
	}
}

func TestHashLikeKeepsCost(t *testing.T) {
	for _, ref := range []string{
		"$argon2id$v=19$m=128,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
		"$2b$05$" + strings.Repeat("a", 53),
	} {
		h, err := hashLike(ref, "dummy")
		if err != nil {
			t.Fatalf("hashLike(%q): %v", ref, err)
		}
		if costKey(h) != costKey(ref) {
			t.Errorf("hashLike(%q) = %q: cost %q, want %q", ref, h, costKey(h), costKey(ref))
		}
	}
}
