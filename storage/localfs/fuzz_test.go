package localfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"
)

// FuzzNames feeds arbitrary names to every operation of a file system whose
// root has links leading out of it, and checks that nothing outside the
// root is ever reached, read, changed or created.
func FuzzNames(f *testing.F) {
	for _, seed := range []string{
		"", "/", "..", "/..", "../secret.txt", "/../secret.txt", "/../outside/only-outside.txt",
		"/out/only-outside.txt", "/out/../secret.txt", "/up/secret.txt", "/up/outside/only-outside.txt",
		"/sub/up2/secret.txt", "/sub/up2/outside", "/secret", "/sub/file", `..\secret.txt`,
		"/etc/passwd", "/proc/self/root/etc/passwd", "/.ferry-upload-x", "/sub/./../../secret.txt",
		"/\x00/../secret.txt", "//..//secret.txt", "/sub/file/../../..",
	} {
		f.Add(seed)
	}

	j := newJail(f)
	if err := os.Mkdir(filepath.Join(j.root, "sub"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(j.root, "sub", "file"), []byte("inside"), 0o644); err != nil {
		f.Fatal(err)
	}
	links := map[string]string{ // link → target
		"out":      j.outside,
		"up":       "..",
		"sub/up2":  "../..",
		"secret":   "../secret.txt",
		"sub/here": "file",
	}
	// plant (re)creates the links, which an earlier input may have removed
	// or renamed.
	plant := func(t testing.TB) {
		for link, target := range links {
			host := filepath.Join(j.root, filepath.FromSlash(link))
			if got, err := os.Readlink(host); err == nil && got == target {
				continue
			}
			os.MkdirAll(filepath.Dir(host), 0o755)
			if err := os.RemoveAll(host); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			if err := os.Symlink(target, host); err != nil {
				t.Fatal(err)
			}
		}
	}

	f.Fuzz(func(t *testing.T, name string) {
		plant(t)
		for _, n := range []string{name, "/" + name, path.Clean("/" + name), "/sub/" + name, "/out/" + name} {
			if j.try(t, n, false) {
				t.Fatalf("%q reached outside the root", n)
			}
		}
		j.checkOutside(t)
	})
}
