package config

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestHostsValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "users.toml"), "")
	writeFile(t, filepath.Join(dir, "ferry.toml"), `
[anonymous]
enabled = true
upload_dir = "/incoming"

[[host]]
name = "A.example"
root = "."

[[host]]
name = "a.example."
root = "."

[[host]]
name = "b.example"

[[host]]
name = "c.example:21"
root = "missing-dir"

[[host]]
name = "d.example"
root = "."
users_file = "users.toml"
users_db = "postgres://db/x"
cert_file = "d.pem"
key_file = "d-key.pem"
banner = "bad\u0001banner"
`)
	c, err := Load(filepath.Join(dir, "ferry.toml"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("Validate accepted broken [[host]] tables")
	}
	for _, want := range []string{
		`host[2] (a.example.).name: a.example names the same host as host[1] (A.example)`,
		`host[3] (b.example).root: missing`,
		`host[4] (c.example:21).name: want a host name`,
		`host[4] (c.example:21).root: ` + filepath.Join(dir, "missing-dir") + ` does not exist`,
		`host[5] (d.example).users_db: set users_file or users_db, not both`,
		`host[5] (d.example).cert_file: needs the top-level tls.cert_file`,
		`host[5] (d.example).banner: contains a control character`,
		`host[1] (A.example).root: anonymous.upload_dir /incoming under it: ` + filepath.Join(dir, "incoming") + ` does not exist`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate's errors lack %q:\n%v", want, err)
		}
	}
}

// hostsConfig is a server with two virtual hosts: a.example (anonymous,
// its own root) and b.example (its own users file, with carol), and the
// --user account dave everywhere.
func hostsConfig(t *testing.T) (*Config, string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "top", "top.txt"), "top")
	writeFile(t, filepath.Join(dir, "a", "a.txt"), "a")
	writeFile(t, filepath.Join(dir, "b", "b.txt"), "b")
	writeFile(t, filepath.Join(dir, "carol", "carol.txt"), "c")
	writeFile(t, filepath.Join(dir, "b-users.toml"), fmt.Sprintf(`
[[user]]
name = "carol"
password = %q
home = "carol"
`, passwordHash))
	writeFile(t, filepath.Join(dir, "ferry.toml"), `
root = "top"
[anonymous]
enabled = true

[[host]]
name = "a.example"
root = "a"
banner = "This is A."

[[host]]
name = "B.Example"
root = "b"
users_file = "b-users.toml"
`)
	c, err := Load(filepath.Join(dir, "ferry.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c.Account = &Account{Name: "dave", Password: "dpw", Write: true}
	return c, dir
}

func hostLogin(t *testing.T, srv *ftpserver.Server, host, user, pass string) (*ftpserver.Account, error) {
	t.Helper()
	vh, ok := srv.Hosts(host)
	if !ok {
		t.Fatalf("no virtual host %q", host)
	}
	if vh.Name != host {
		t.Errorf("host %q is named %q", host, vh.Name)
	}
	return vh.Auth.Authenticate(context.Background(), ftpserver.ConnInfo{}, user, pass)
}

func TestHostsBuild(t *testing.T) {
	t.Parallel()
	c, dir := hostsConfig(t)
	inst := buildInstance(t, c)
	srv := inst.Server

	if _, ok := srv.Hosts("c.example"); ok {
		t.Error("an unconfigured name is a host")
	}
	if vh, _ := srv.Hosts("a.example"); vh.Banner != "This is A." {
		t.Errorf("a.example's banner %q", vh.Banner)
	}

	// Without HOST: the top-level root.
	acct, err := login(srv, "anonymous", "x")
	if err != nil {
		t.Fatal(err)
	}
	mustSee(t, acct, "top.txt")

	// a.example: anonymous and the --user account in its root; no
	// users file of its own, and the top level has none either.
	acct, err = hostLogin(t, srv, "a.example", "anonymous", "x")
	if err != nil {
		t.Fatal(err)
	}
	mustSee(t, acct, "a.txt")
	acct, err = hostLogin(t, srv, "a.example", "dave", "dpw")
	if err != nil {
		t.Fatal(err)
	}
	mustSee(t, acct, "a.txt")
	if _, err := hostLogin(t, srv, "a.example", "carol", "password"); !errors.Is(err, ftpserver.ErrAuthFailed) {
		t.Errorf("carol on a.example: %v, want ErrAuthFailed", err)
	}

	// b.example: its users file; anonymous off (a host with its own
	// accounts is closed unless it says otherwise); dave in its root.
	acct, err = hostLogin(t, srv, "b.example", "carol", "password")
	if err != nil {
		t.Fatal(err)
	}
	mustSee(t, acct, "carol.txt")
	if _, err := hostLogin(t, srv, "b.example", "anonymous", "x"); !errors.Is(err, ftpserver.ErrAuthFailed) {
		t.Errorf("anonymous on b.example: %v, want ErrAuthFailed", err)
	}
	acct, err = hostLogin(t, srv, "b.example", "dave", "dpw")
	if err != nil {
		t.Fatal(err)
	}
	mustSee(t, acct, "b.txt")
	if _, err := login(srv, "carol", "password"); !errors.Is(err, ftpserver.ErrAuthFailed) {
		t.Errorf("carol without HOST: %v, want ErrAuthFailed", err)
	}

	// SIGHUP reloads b.example's users file.
	writeFile(t, filepath.Join(dir, "b-users.toml"), fmt.Sprintf(`
[[user]]
name = "erin"
password = %q
home = "b"
`, passwordHash))
	reloaded, err := inst.ReloadHosts()
	if err != nil || strings.Join(reloaded, ",") != "users file of host b.example" {
		t.Fatalf("ReloadHosts = %q, %v", reloaded, err)
	}
	if _, err := hostLogin(t, srv, "b.example", "erin", "password"); err != nil {
		t.Errorf("erin after reload: %v", err)
	}
	writeFile(t, filepath.Join(dir, "b-users.toml"), "[[user]\nbroken")
	if _, err := inst.ReloadHosts(); err == nil || !strings.Contains(err.Error(), "host b.example: users file") {
		t.Errorf("ReloadHosts of a broken file: %v", err)
	}
	if _, err := hostLogin(t, srv, "b.example", "erin", "password"); err != nil {
		t.Errorf("erin after a failed reload: %v", err)
	}
}

func TestHostsCertificateReload(t *testing.T) {
	t.Parallel()
	c, ca := tlsConfig(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "b.pem"), filepath.Join(dir, "b-key.pem")
	first := ca.serverCert(t, "b.example", certFile, keyFile)
	c.Hosts = []Host{{Name: "b.example", Root: c.Root, CertFile: certFile, KeyFile: keyFile}}
	inst := buildInstance(t, c)
	if got := inst.HostCertificate("b.example"); got == nil || !got.Leaf.Equal(first) {
		t.Fatalf("b.example's certificate: %v", got)
	}
	renewed := ca.serverCert(t, "b.example renewed", certFile, keyFile)
	if reloaded, err := inst.ReloadHosts(); err != nil || strings.Join(reloaded, ",") != "certificate of host b.example" {
		t.Fatalf("ReloadHosts = %q, %v", reloaded, err)
	}
	if got := inst.HostCertificate("b.example"); !got.Leaf.Equal(renewed) {
		t.Errorf("after reload, b.example's certificate is %q", got.Leaf.Subject.CommonName)
	}
	vh, _ := inst.Server.Hosts("b.example")
	if got, err := vh.GetCertificate(nil); err != nil || !got.Leaf.Equal(renewed) {
		t.Errorf("GetCertificate after reload: %v, %v", got, err)
	}
	writeFile(t, keyFile, "not a key")
	if _, err := inst.ReloadHosts(); err == nil || !strings.Contains(err.Error(), "host b.example: tls") {
		t.Errorf("reload of a broken key: %v", err)
	}
	if got := inst.HostCertificate("b.example"); !got.Leaf.Equal(renewed) {
		t.Errorf("after a failed reload, b.example's certificate is %q", got.Leaf.Subject.CommonName)
	}
}
