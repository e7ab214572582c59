package cli

import (
	"os"
	"strings"
	"testing"
)

func TestMkdirRmdirRmMvCat(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)

	mustFerry(t, "mkdir", ts.url("one"))
	if fi, err := os.Stat(ts.file("one")); err != nil || !fi.IsDir() {
		t.Fatalf("mkdir: %v", err)
	}
	if _, _, err := ferry(t, "mkdir", ts.url("one")); err == nil {
		t.Error("mkdir of an existing directory succeeded without -p")
	}
	if _, _, err := ferry(t, "mkdir", ts.url("a/b/c")); err == nil {
		t.Error("mkdir without -p created parents")
	}
	mustFerry(t, "mkdir", "-p", ts.url("a/b/c"))
	mustFerry(t, "mkdir", "-p", ts.url("a/b/c")) // exists: fine
	if fi, err := os.Stat(ts.file("a/b/c")); err != nil || !fi.IsDir() {
		t.Fatalf("mkdir -p: %v", err)
	}

	if _, _, err := ferry(t, "rmdir", ts.url("a")); err == nil {
		t.Error("rmdir of a non-empty directory succeeded")
	}
	mustFerry(t, "rmdir", ts.url("a/b/c"))
	if _, err := os.Stat(ts.file("a/b/c")); !os.IsNotExist(err) {
		t.Errorf("rmdir left the directory: %v", err)
	}

	ts.put(t, "a/f.txt", []byte("hello, ferry\n"))
	out, _ := mustFerry(t, "cat", ts.url("a/f.txt"))
	if out != "hello, ferry\n" {
		t.Errorf("cat printed %q", out)
	}

	// mv: relative to the URL's directory, into a directory, absolute.
	mustFerry(t, "mv", ts.url("a/f.txt"), "g.txt")
	sameContent(t, ts.file("a/g.txt"), []byte("hello, ferry\n"))
	mustFerry(t, "mv", ts.url("a/g.txt"), "b")
	sameContent(t, ts.file("a/b/g.txt"), []byte("hello, ferry\n"))
	mustFerry(t, "mv", ts.url("a/b/g.txt"), "/one/h.txt")
	sameContent(t, ts.file("one/h.txt"), []byte("hello, ferry\n"))
	mustFerry(t, "mv", ts.url("one/h.txt"), "../top.txt")
	sameContent(t, ts.file("top.txt"), []byte("hello, ferry\n"))
	if _, _, err := ferry(t, "mv", ts.url("missing"), "x"); err == nil {
		t.Error("mv of a missing file succeeded")
	}

	ts.put(t, "x1", []byte("1"))
	ts.put(t, "x2", []byte("2"))
	mustFerry(t, "rm", ts.url("x1"), "x2", ts.url("top.txt"))
	for _, name := range []string{"x1", "x2", "top.txt"} {
		if _, err := os.Stat(ts.file(name)); !os.IsNotExist(err) {
			t.Errorf("rm left %s: %v", name, err)
		}
	}
	ts.put(t, "x3", []byte("3"))
	_, stderr, err := ferry(t, "rm", ts.url("missing"), ts.url("x3"))
	if err == nil || !strings.Contains(stderr, "missing") {
		t.Errorf("rm of a missing file: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(ts.file("x3")); !os.IsNotExist(err) {
		t.Error("rm stopped at the first failure")
	}
	if _, _, err := ferry(t, "cat", ts.url("missing")); err == nil {
		t.Error("cat of a missing file succeeded")
	}
}

func TestPathPrefixes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"a":      "a",
		"a/b/c":  "a a/b a/b/c",
		"/srv/a": "/srv /srv/a",
		"a//b/":  "a a/b",
		"/":      "",
	} {
		if got := strings.Join(pathPrefixes(in), " "); got != want {
			t.Errorf("pathPrefixes(%q) = %q, want %q", in, got, want)
		}
	}
}
