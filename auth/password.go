package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Algorithm is a password hashing scheme.
type Algorithm int

const (
	// Argon2id (RFC 9106) is the default: memory-hard, so guessing on
	// GPUs is expensive. Hashes are stored in the PHC string format,
	// "$argon2id$v=19$m=65536,t=3,p=2$salt$hash".
	Argon2id Algorithm = iota
	// Bcrypt is offered for files shared with other software
	// ("$2a$", "$2b$" or "$2y$" hashes). It uses only the first 72 bytes
	// of a password, so HashPassword refuses longer ones.
	Bcrypt
)

// String returns the name ParseAlgorithm accepts.
func (a Algorithm) String() string {
	switch a {
	case Argon2id:
		return "argon2id"
	case Bcrypt:
		return "bcrypt"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// ParseAlgorithm parses "argon2id" or "bcrypt".
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToLower(s) {
	case "argon2id":
		return Argon2id, nil
	case "bcrypt":
		return Bcrypt, nil
	}
	return 0, fmt.Errorf("unknown password hash algorithm %q: want argon2id or bcrypt", s)
}

// ErrUnknownHash is returned for a stored password that is not a hash in a
// recognised format, most likely a plaintext password.
var ErrUnknownHash = errors.New("not an argon2id or bcrypt password hash")

// argon2Params are the tunables of an Argon2id hash, as stored in its PHC
// string.
type argon2Params struct {
	memory  uint32 // KiB
	time    uint32 // passes
	threads uint8
}

// defaultArgon2 follows RFC 9106's second recommended option (64 MiB,
// three passes): deliberately slow per login. Tests lower it to keep the
// suite fast.
var defaultArgon2 = argon2Params{memory: 64 * 1024, time: 3, threads: 2}

// bcryptCost is the bcrypt work factor for new hashes: 2^12 rounds, in the
// same time range as defaultArgon2.
var bcryptCost = 12

const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
	// Upper bounds for parameters read from a file, so a corrupted or
	// hostile entry cannot make one login allocate gigabytes or spin for
	// minutes.
	argon2MaxMemory = 4 * 1024 * 1024 // KiB = 4 GiB
	argon2MaxTime   = 100
	// Each step of bcrypt's cost doubles the work: 18 is 64 times
	// ferry's default, about as far as a login can wait.
	bcryptMaxCost = 18
	// bcrypt ignores everything after 72 bytes.
	bcryptMaxPassword = 72
)

var b64 = base64.RawStdEncoding // PHC strings use unpadded standard base64

// HashPassword hashes pass with a fresh random salt in the format the users
// file stores.
func HashPassword(pass string, algo Algorithm) (string, error) {
	switch algo {
	case Argon2id:
		return hashArgon2(pass, defaultArgon2)
	case Bcrypt:
		return hashBcrypt(pass, bcryptCost)
	}
	return "", fmt.Errorf("unknown password hash algorithm %v", algo)
}

func hashArgon2(pass string, p argon2Params) (string, error) {
	salt := make([]byte, argon2SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pass), salt, p.time, p.memory, p.threads, argon2KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

func hashBcrypt(pass string, cost int) (string, error) {
	if len(pass) > bcryptMaxPassword {
		return "", fmt.Errorf("bcrypt uses only the first %d bytes of a password; use argon2id for longer ones", bcryptMaxPassword)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pass), cost)
	return string(h), err
}

// AlgorithmOf reports which algorithm produced hash, checking that the hash
// is well formed. It returns an error wrapping ErrUnknownHash for anything
// else, such as a plaintext password.
func AlgorithmOf(hash string) (Algorithm, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		if _, _, _, err := parseArgon2(hash); err != nil {
			return 0, err
		}
		return Argon2id, nil
	case isBcrypt(hash):
		if err := checkBcrypt(hash); err != nil {
			return 0, err
		}
		return Bcrypt, nil
	}
	return 0, ErrUnknownHash
}

// checkBcrypt checks the whole of "$2b$CC$" + 22 characters of salt + 31
// of hash, in bcrypt's base64 alphabet. bcrypt.Cost reads only the prefix
// (and skips the byte after the cost unread), so a hash it accepts could
// still fail every login, and an absurd cost would spin for hours.
func checkBcrypt(hash string) error {
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return fmt.Errorf("malformed bcrypt hash: %w", err)
	}
	if len(hash) != 60 || hash[6] != '$' {
		return errors.New(`malformed bcrypt hash: want "$2b$CC$" and 53 characters`)
	}
	for _, c := range hash[7:] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
			return fmt.Errorf("malformed bcrypt hash: %q is not in bcrypt's alphabet", c)
		}
	}
	if cost > bcryptMaxCost {
		return fmt.Errorf("bcrypt cost %d is above %d: one login would take minutes", cost, bcryptMaxCost)
	}
	return nil
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// CheckPassword reports whether pass matches hash. It returns an error only
// when hash itself is unusable (wrapping ErrUnknownHash when it is not a
// recognised hash at all); a wrong password is (false, nil). The final
// comparison takes the same time wherever the first difference is.
func CheckPassword(hash, pass string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, salt, key, err := parseArgon2(hash)
		if err != nil {
			return false, err
		}
		got := argon2.IDKey([]byte(pass), salt, p.time, p.memory, p.threads, uint32(len(key)))
		return subtle.ConstantTimeCompare(got, key) == 1, nil
	case isBcrypt(hash):
		if err := checkBcrypt(hash); err != nil {
			return false, err
		}
		if len(pass) > bcryptMaxPassword {
			// bcrypt would compare only a prefix; no hash made by
			// HashPassword can match a longer password.
			return false, nil
		}
		// CompareHashAndPassword compares in constant time itself.
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("malformed bcrypt hash: %w", err)
		}
		return true, nil
	}
	return false, ErrUnknownHash
}

// parseArgon2 splits "$argon2id$v=19$m=M,t=T,p=P$salt$key".
func parseArgon2(hash string) (argon2Params, []byte, []byte, error) {
	var p argon2Params
	fail := func(why string) (argon2Params, []byte, []byte, error) {
		return p, nil, nil, fmt.Errorf("malformed argon2id hash: %s", why)
	}
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return fail(`want "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH"`)
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || fmt.Sprintf("v=%d", version) != parts[2] {
		return fail("bad version field " + parts[2])
	}
	if version != argon2.Version {
		return fail(fmt.Sprintf("unsupported version %d (want %d)", version, argon2.Version))
	}
	var memory, time, threads uint64
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil ||
		fmt.Sprintf("m=%d,t=%d,p=%d", memory, time, threads) != parts[3] {
		return fail("bad parameter field " + parts[3])
	}
	if threads < 1 || threads > 255 || time < 1 || time > argon2MaxTime ||
		memory < 8*threads || memory > argon2MaxMemory {
		return fail("parameters out of range: " + parts[3])
	}
	p = argon2Params{memory: uint32(memory), time: uint32(time), threads: uint8(threads)}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return fail("bad salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return fail("bad hash")
	}
	return p, salt, key, nil
}

// hashLike hashes pass with the algorithm and cost parameters of hash, so
// that checking a password against the result takes as long as checking it
// against hash.
func hashLike(hash, pass string) (string, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, _, _, err := parseArgon2(hash)
		if err != nil {
			return "", err
		}
		return hashArgon2(pass, p)
	case isBcrypt(hash):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return "", err
		}
		return hashBcrypt(pass, cost)
	}
	return "", ErrUnknownHash
}
