package auth_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// auth is a store of accounts that servers (and "ferry user") use; it
// must not depend on the server package, or every user of auth links the
// whole server and the server could never use auth in its own tests.
func TestDoesNotImportServer(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/ferry-ftp/ferry/auth").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "golang.org/x/crypto/bcrypt") {
		t.Fatalf("go list -deps does not show auth's own dependencies: %q", deps)
	}
	for _, forbidden := range []string{"github.com/ferry-ftp/ferry/ftpserver", "github.com/ferry-ftp/ferry/ftpclient"} {
		if slices.Contains(deps, forbidden) {
			t.Errorf("auth depends on %s", forbidden)
		}
	}
}
