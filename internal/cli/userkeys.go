package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ferry-ftp/ferry/auth"
)

// maxKeyFile bounds what --authorized-key reads: a .pub file or an
// authorized_keys file of a few keys, never a wrong path read whole.
const maxKeyFile = 1 << 20

// readAuthorizedKeys returns the public keys of an OpenSSH .pub or
// authorized_keys file: one per line, blank lines and # comments
// skipped, each checked by auth.ParseAuthorizedKey.
func readAuthorizedKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--authorized-key: %w", err)
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(io.LimitReader(f, maxKeyFile))
	sc.Buffer(make([]byte, 0, 16<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, err := auth.ParseAuthorizedKey(line); err != nil {
			return nil, fmt.Errorf("--authorized-key %s line %d: %w", path, n, err)
		}
		keys = append(keys, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--authorized-key %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("--authorized-key %s: no public key in it", path)
	}
	return keys, nil
}

// addAuthorizedKeys adds the keys of files to u, each once.
func addAuthorizedKeys(u *auth.User, files []string) error {
	for _, path := range files {
		keys, err := readAuthorizedKeys(path)
		if err != nil {
			return err
		}
		for _, k := range keys {
			blob, _ := auth.ParseAuthorizedKey(k)
			if !u.HasAuthorizedKey(blob) {
				u.AuthorizedKeys = append(u.AuthorizedKeys, k)
			}
		}
	}
	u.AuthorizedKeys = slices.Clip(u.AuthorizedKeys)
	return nil
}
