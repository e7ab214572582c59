// Package testtool finds the programs that interop tests drive (OpenSSH,
// curl, lftp, rclone, ...). A missing program skips the test on a
// developer machine, but fails it in CI (CI set, as GitHub Actions and
// scripts/test set it), where scripts/test installs every one: a test
// that silently skips there would pass without testing anything.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of the program name, found on PATH.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	missing(t, name)
	return ""
}

// NeedAny returns the path of the first of names found on PATH, for a
// program packaged under several names (chromium, chromium-browser).
func NeedAny(t testing.TB, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, names[0])
	return ""
}

// NeedPython returns a python3 that can import module: the one on PATH,
// else Debian's /usr/bin/python3 (a python3 of pyenv or of a virtualenv
// earlier on PATH does not see Debian's python3-* packages).
func NeedPython(t testing.TB, module string) string {
	t.Helper()
	var candidates []string
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3")
	for _, p := range candidates {
		if exec.Command(p, "-c", "import "+module).Run() == nil {
			return p
		}
	}
	missing(t, "python3 with "+module)
	return ""
}

func missing(t testing.TB, name string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is not installed; CI must have it (scripts/test installs it)", name)
	}
	t.Skipf("%s is not installed; run scripts/test to install it", name)
}

// InCI reports whether the tests run in CI, where every tool must be
// there.
func InCI() bool { return os.Getenv("CI") != "" }
