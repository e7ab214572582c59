package auth

import (
	"strings"
	"testing"
)

// A users file may be edited by hand or written by other tools: parsing
// it must end in accounts or an error naming the file, never a panic, and
// every account parsed has a valid, unique name.
func FuzzParseUsers(f *testing.F) {
	for _, seed := range []string{
		"[[user]]\nname = \"alice\"\npassword = \"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4\"\nhome = \"/srv/ftp/alice\"\nwrite = true\n",
		"[[user]]\nname = \"bob\"\npassword = \"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\"\nhome = \"s3://bucket/bob\"\ndisabled = true\nquota_bytes = 1048576\n",
		"[[user]]\nname = \"a\"\n[[user]]\nname = \"a\"\n",
		"[[user]]\nname = \"../x\"\n",
		"[[user]]\nname = \"\"\n",
		"user = 5\n",
		"[[user]\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		records, index, err := parseUsers("users.toml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "users.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(index) != len(records) {
			t.Fatalf("%d records but %d names indexed", len(records), len(index))
		}
		for i, r := range records {
			if err := ValidateName(r.Name); err != nil {
				t.Fatalf("record %d has an invalid name %q: %v", i, r.Name, err)
			}
			if index[r.Name] != i {
				t.Fatalf("name %q indexed at %d, found at %d", r.Name, index[r.Name], i)
			}
		}
	})
}
