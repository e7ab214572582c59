package s3fs

import (
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// FuzzKey: a client's path maps to a key under the FS's prefix, or is
// refused with ErrInvalidName; it never escapes the prefix, never makes
// a key S3 refuses for its length, nor one with a dot part MinIO refuses.
func FuzzKey(f *testing.F) {
	for _, seed := range []string{"/", "/a", "/a/b", `/a\..\b`, `/..\x`, "/a/../b", "//a", "/a/", "",
		"/" + strings.Repeat("x", 1020), `/\`, `/a\...\b`, "/a\x00b", "/héllo wörld"} {
		f.Add("home", seed)
	}
	f.Fuzz(func(t *testing.T, prefix, name string) {
		prefix = strings.Trim(path.Clean("/"+prefix), "/")
		fsys := &FS{}
		if prefix != "" {
			fsys.prefix = prefix + "/"
		}
		k, err := fsys.key(name)
		if err != nil {
			if !errors.Is(err, ftpserver.ErrInvalidName) {
				t.Fatalf("key(%q): %v, want ErrInvalidName", name, err)
			}
			return
		}
		if !strings.HasPrefix(k, fsys.prefix) || len(k) > maxKeyLen {
			t.Fatalf("key(%q) = %q: outside %q or too long", name, k, fsys.prefix)
		}
		rel := k[len(fsys.prefix):]
		for part := range strings.FieldsFuncSeq(rel, func(r rune) bool { return r == '/' || r == '\\' }) {
			if part == "." || part == ".." {
				t.Fatalf("key(%q) = %q has a dot part", name, k)
			}
		}
		if name != "/" && "/"+rel != name {
			t.Fatalf("key(%q) = %q does not map back", name, k)
		}
	})
}

// FuzzEntryName: whatever keys a store lists, a directory shows only
// names a client can use, one path element each.
func FuzzEntryName(f *testing.F) {
	for _, seed := range [][2]string{{"d/", "d/a"}, {"d/", "d/"}, {"d/", "d/sub/"}, {"d/", "d//"}, {"d/", "d/./"},
		{"d/", "d/.."}, {"d/", "e/x"}, {"", "a"}, {"", "/"}, {"d/", "d/a/b"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, prefix, key string) {
		name, isDir, ok := entryName(prefix, key)
		if !ok {
			return
		}
		if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
			t.Fatalf("entryName(%q, %q) = %q", prefix, key, name)
		}
		want := prefix + name
		if isDir {
			want += "/"
		}
		if want != key {
			t.Fatalf("entryName(%q, %q) = %q, dir %v: does not map back", prefix, key, name, isDir)
		}
	})
}
