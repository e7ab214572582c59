package ftpserver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// An account limited to world-readable files (anonymous, by default in
// ferry's configuration) cannot download or hash a file without o+r; other
// accounts can, and world-readable files stay available to everyone.
func TestWorldReadableOnly(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(srv *ftpserver.Server) {
		inner := srv.Auth
		srv.Auth = ftpserver.AuthFunc(func(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			acct, err := inner.Authenticate(ctx, conn, user, pass)
			if err == nil && acct.Anonymous {
				acct.WorldReadableOnly = true
			}
			return acct, err
		})
	})
	alice := ts.login(t)
	for _, f := range []struct{ name, mode string }{
		{"public.txt", "644"}, {"group.txt", "640"}, {"owner.txt", "600"}, {"other-only.txt", "004"},
	} {
		alice.stor("STOR", f.name, []byte("content of "+f.name))
		alice.cmd(200, "SITE CHMOD %s %s", f.mode, f.name)
	}

	anon := ts.dial(t)
	anon.loginAs("anonymous", "guest@example.com")
	for _, name := range []string{"public.txt", "other-only.txt"} {
		if got := string(anon.retr(name)); got != "content of "+name {
			t.Errorf("anonymous RETR %s = %q", name, got)
		}
		anon.cmd(213, "HASH %s", name)
	}
	for _, name := range []string{"group.txt", "owner.txt"} {
		data := anon.pasv()
		if msg := anon.cmd(550, "RETR %s", name); !strings.Contains(msg, "Permission denied") {
			t.Errorf("anonymous RETR %s: 550 %q", name, msg)
		}
		data.Close()
		anon.cmd(550, "HASH %s", name)
		anon.cmd(213, "SIZE %s", name) // metadata stays visible, as with vsftpd
	}
	// The refusal does not stick to the session.
	if got := string(anon.retr("public.txt")); got != "content of public.txt" {
		t.Errorf("anonymous RETR public.txt after a refusal = %q", got)
	}

	for _, name := range []string{"group.txt", "owner.txt"} {
		if got := string(alice.retr(name)); got != "content of "+name {
			t.Errorf("alice RETR %s = %q", name, got)
		}
	}
}
