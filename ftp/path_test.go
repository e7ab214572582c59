package ftp

import (
	"path"
	"strings"
	"testing"
)

func TestJoinPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ cwd, name, want string }{
		{"/", "", "/"},
		{"/pub", "", "/pub"},
		{"/pub", "file", "/pub/file"},
		{"/pub", "/etc/passwd", "/etc/passwd"},
		{"/pub", "..", "/"},
		{"/pub", "../..", "/"},
		{"/pub", "../../../etc/passwd", "/etc/passwd"},
		{"/", "/../../x", "/x"},
		{"/a/b", "./c/../d", "/a/b/d"},
		{"/a", "b//c/", "/a/b/c"},
		{"", "x", "/x"},
		{"relative/cwd", "x", "/relative/cwd/x"},
		{"/a/../..", "", "/"},
		{"/pub", "...", "/pub/..."},
		{"/pub", "a b", "/pub/a b"},
		{"/pub", `..\..\x`, `/pub/..\..\x`},
		{"//", "//x//", "/x"},
	}
	for _, tt := range tests {
		if got := JoinPath(tt.cwd, tt.name); got != tt.want {
			t.Errorf("JoinPath(%q, %q) = %q, want %q", tt.cwd, tt.name, got, tt.want)
		}
	}
}

func TestValidPathName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"file":        true,
		"a b":         true,
		"\xff\xfe":    true,
		"":            true,
		"a\x00b":      false,
		"a\rb":        false,
		"a\nb":        false,
		"x\r\nDELE y": false,
	} {
		if got := ValidPathName(name); got != want {
			t.Errorf("ValidPathName(%q) = %v, want %v", name, got, want)
		}
	}
}

func FuzzJoinPath(f *testing.F) {
	for _, s := range [][2]string{
		{"/", "x"}, {"/pub", "../../etc/passwd"}, {"/a/b", "./c/../d"}, {"", ""},
		{"relative", "/abs"}, {"/a/../..", "../.."}, {"/", "..."}, {"/x", `..\..`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cwd, name string) {
		got := JoinPath(cwd, name)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("JoinPath(%q, %q) = %q: not absolute", cwd, name, got)
		}
		if path.Clean(got) != got {
			t.Fatalf("JoinPath(%q, %q) = %q: not clean", cwd, name, got)
		}
		for elem := range strings.SplitSeq(got, "/") {
			if elem == ".." {
				t.Fatalf("JoinPath(%q, %q) = %q: has a \"..\" element", cwd, name, got)
			}
		}
		// Resolving again from the root changes nothing: the result
		// is a fixed point, so nothing can climb above "/" later.
		if again := JoinPath("/", got); again != got {
			t.Fatalf("JoinPath(\"/\", %q) = %q", got, again)
		}
		if strings.HasPrefix(name, "/") {
			if other := JoinPath("/somewhere/else", name); other != got {
				t.Fatalf("absolute %q resolves to %q from %q but %q from elsewhere", name, got, cwd, other)
			}
		}
	})
}
