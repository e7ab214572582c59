package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// publicKeyTypes are the key types an authorized key may have: OpenSSH's
// plain public keys. Certificates are left out (no CA is configured),
// and so are keys with options (see ParseAuthorizedKey).
var publicKeyTypes = []string{
	"ssh-ed25519",
	"ssh-rsa",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
}

// maxAuthorizedKey bounds one authorized_keys line (an RSA key of 16,384
// bits is under 3 KiB in base64).
const maxAuthorizedKey = 8 << 10

// ParseAuthorizedKey reads one public key as OpenSSH writes it in a .pub
// file or an authorized_keys line: "TYPE BASE64 [COMMENT]". It returns
// the key in SSH wire format (RFC 4253 section 6.6), what an SSH server
// compares with the key a client offers. Lines with options before the
// type (from="...", command="...") are refused: ferry does not enforce
// them, and a key meant to be restricted must not log in unrestricted.
// The blob is checked to name the same type as the line, nothing more:
// a malformed key simply never matches a client's.
func ParseAuthorizedKey(line string) ([]byte, error) {
	line = strings.TrimSpace(line)
	if len(line) > maxAuthorizedKey {
		return nil, errors.New("authorized key: line too long")
	}
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return nil, errors.New(`authorized key: want "TYPE BASE64 [COMMENT]", as in an OpenSSH .pub file`)
	}
	typ := fields[0]
	if !slices.Contains(publicKeyTypes, typ) {
		return nil, fmt.Errorf("authorized key: unsupported key type or options %q (want one of %s, without options)",
			truncateText(typ, 40), strings.Join(publicKeyTypes, ", "))
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return nil, fmt.Errorf("authorized key: the key is not base64: %w", err)
	}
	if len(blob) < 4 {
		return nil, errors.New("authorized key: the key is truncated")
	}
	n := binary.BigEndian.Uint32(blob)
	if uint64(n) > uint64(len(blob)-4) || string(blob[4:4+n]) != typ {
		return nil, fmt.Errorf("authorized key: the key data is not a %s key", typ)
	}
	return blob, nil
}

func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// HasAuthorizedKey reports whether key (SSH wire format) is one of u's
// AuthorizedKeys.
func (u User) HasAuthorizedKey(key []byte) bool {
	for _, line := range u.AuthorizedKeys {
		if blob, err := ParseAuthorizedKey(line); err == nil && bytes.Equal(blob, key) {
			return true
		}
	}
	return false
}
