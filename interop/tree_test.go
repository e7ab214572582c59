package interop

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// treeDigest maps every regular file below dir (slash-separated, relative)
// to the SHA-256 of its content, and every directory to "dir".
func treeDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			out[rel] = "dir"
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = sum(b)
		default:
			out[rel] = "other: " + d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareTrees fails the test unless the trees hold the same names with
// the same content.
func compareTrees(t *testing.T, want, got map[string]string) {
	t.Helper()
	bad := 0
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("missing: %q", name)
		case g != w:
			t.Errorf("%q differs: got %s, want %s", name, g, w)
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Fatal("too many differences")
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected: %q", name)
		}
	}
}

// makeTree writes a tree of n files in nested directories whose names have
// spaces and non-ASCII letters, and returns its digest.
func makeTree(t *testing.T, dir string, n int) map[string]string {
	t.Helper()
	dirs := []string{
		"",
		"with space",
		"ünïcødé",
		"ünïcødé/名前",
		"deep/a/b/c/d",
		"deep/a/b/other dir",
		"émoji 🚀",
		"empty/leaf",
	}
	names := []string{"plain-%d.bin", "with space %d.txt", "ünïcødé-%d", "名前-%d.txt", "dots.%d.tar.gz"}
	for i := 0; i < n; i++ {
		d := dirs[i%(len(dirs)-1)] // the last directory stays empty
		name := strings.Replace(names[i%len(names)], "%d", strconv.Itoa(i), 1)
		size := (i * 7919) % 70000
		if i%50 == 0 {
			size = 0
		}
		if i == 7 {
			size = 3<<20 + 17 // one file larger than a socket buffer
		}
		writeFile(t, filepath.Join(dir, filepath.FromSlash(d), name), testData(uint64(i), size))
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty", "leaf"), 0o755); err != nil {
		t.Fatal(err)
	}
	return treeDigest(t, dir)
}
