package config

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
)

// A hash of "password" made by the Argon2 reference implementation at a
// small cost, so the tests need not spend real hashing time.
const passwordHash = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func build(t *testing.T, c *Config) *ftpserver.Server {
	t.Helper()
	return buildInstance(t, c).Server
}

func buildInstance(t *testing.T, c *Config) *Instance {
	t.Helper()
	inst, err := c.Build(quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := inst.Close(); err != nil {
			t.Error(err)
		}
	})
	return inst
}

func login(srv *ftpserver.Server, user, pass string) (*ftpserver.Account, error) {
	return srv.Auth.Authenticate(context.Background(), ftpserver.ConnInfo{}, user, pass)
}

// mustSee checks that acct's file system is rooted where marker lives.
func mustSee(t *testing.T, acct *ftpserver.Account, marker string) {
	t.Helper()
	if _, err := acct.FS.Stat(context.Background(), "/"+marker); err != nil {
		t.Errorf("%s's file system does not show /%s: %v", acct.User, marker, err)
	}
}

func TestBuildServerFields(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.toml")
	writeFile(t, path, `
listen = "127.0.0.1:2100"
passive_ports = "40000-40010"
public_host = "203.0.113.7"
allow_fxp = true
upload_mode = "atomic"
banner = "hello"
idle_timeout = "10m"
login_timeout = "30s"
data_timeout = "2m"
login_fail_delay = "0s"
max_sessions = 100
max_sessions_per_ip = 4
max_passive_per_ip = 5
max_bad_commands = 0
max_hash_size = 0
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := build(t, c)
	want := ftpserver.Server{
		Addr:             "127.0.0.1:2100",
		PassivePorts:     ftpserver.PortRange{Min: 40000, Max: 40010},
		PublicHost:       "203.0.113.7",
		AllowFXP:         true,
		Upload:           ftpserver.UploadAtomic,
		Banner:           "hello",
		IdleTimeout:      10 * time.Minute,
		LoginTimeout:     30 * time.Second,
		DataTimeout:      2 * time.Minute,
		LoginFailDelay:   -1, // "0s" in the file: no delay
		MaxSessions:      100,
		MaxSessionsPerIP: 4,
		MaxPassivePerIP:  5,
		MaxBadCommands:   -1, // 0 in the file: no limit
		MaxHashSize:      -1, // 0 in the file: no limit
	}
	got := fmt.Sprintf("%s %+v %s %v %v %q %v %v %v %v %d %d %d %d %d",
		srv.Addr, srv.PassivePorts, srv.PublicHost, srv.AllowFXP, srv.Upload, srv.Banner,
		srv.IdleTimeout, srv.LoginTimeout, srv.DataTimeout, srv.LoginFailDelay,
		srv.MaxSessions, srv.MaxSessionsPerIP, srv.MaxPassivePerIP, srv.MaxBadCommands, srv.MaxHashSize)
	wantText := fmt.Sprintf("%s %+v %s %v %v %q %v %v %v %v %d %d %d %d %d",
		want.Addr, want.PassivePorts, want.PublicHost, want.AllowFXP, want.Upload, want.Banner,
		want.IdleTimeout, want.LoginTimeout, want.DataTimeout, want.LoginFailDelay,
		want.MaxSessions, want.MaxSessionsPerIP, want.MaxPassivePerIP, want.MaxBadCommands, want.MaxHashSize)
	if got != wantText {
		t.Errorf("server\n got %s\nwant %s", got, wantText)
	}
	if srv.Auth == nil || srv.Logger != quiet || srv.TLSConfig != nil {
		t.Errorf("Auth %v, Logger %v, TLSConfig %v", srv.Auth, srv.Logger, srv.TLSConfig)
	}
}

func TestBuildZeroLimitsMeanNone(t *testing.T) {
	c := validConfig(t)
	c.MaxSessionsPerIP, c.MaxPassivePerIP = 0, 0
	srv := build(t, c)
	if srv.MaxSessionsPerIP != -1 || srv.MaxPassivePerIP != -1 {
		t.Errorf("0 in the file: MaxSessionsPerIP %d, MaxPassivePerIP %d; want -1 (no limit)", srv.MaxSessionsPerIP, srv.MaxPassivePerIP)
	}
}

func TestBuildDefaultsMapToServerDefaults(t *testing.T) {
	srv := build(t, validConfig(t))
	if srv.Addr != ":2121" || srv.PassivePorts != (ftpserver.PortRange{Min: 50000, Max: 50100}) ||
		srv.Upload != ftpserver.UploadAtomicResume || srv.LoginFailDelay != time.Second || srv.MaxBadCommands != 20 ||
		srv.MaxHashSize != 4<<30 || srv.MaxSessionsPerIP != 64 || srv.MaxPassivePerIP != 50 {
		t.Errorf("default server: %+v", srv)
	}
}

func TestAnonymous(t *testing.T) {
	c := validConfig(t)
	writeFile(t, filepath.Join(c.Root, "readme.txt"), "hi")
	os.Mkdir(filepath.Join(c.Root, "incoming"), 0o755)
	c.Anonymous.UploadDir = "/incoming"
	srv := build(t, c)

	for _, user := range []string{"anonymous", "ANONYMOUS", "Anonymous", "ftp", "FTP"} {
		for _, pass := range []string{"", "guest@example.com", "anything at all"} {
			acct, err := login(srv, user, pass)
			if err != nil {
				t.Fatalf("%s/%q: %v", user, pass, err)
			}
			if acct.User != "anonymous" || !acct.Anonymous || acct.Write || acct.UploadDir != "/incoming" {
				t.Errorf("%s: account %+v", user, acct)
			}
			mustSee(t, acct, "readme.txt")
		}
	}
	// Each login gets its own Account, so a session cannot change another's.
	a1, _ := login(srv, "ftp", "")
	a2, _ := login(srv, "ftp", "")
	if a1 == a2 {
		t.Error("two logins share one *Account")
	}
	if _, err := login(srv, "anonymous1", ""); !errors.Is(err, ftpserver.ErrAuthFailed) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestAnonymousOwnRootAndWrite(t *testing.T) {
	c := validConfig(t)
	c.Anonymous.Root = t.TempDir()
	c.Anonymous.Write = true
	writeFile(t, filepath.Join(c.Anonymous.Root, "anon-only"), "x")
	srv := build(t, c)
	acct, err := login(srv, "anonymous", "x")
	if err != nil {
		t.Fatal(err)
	}
	if !acct.Write {
		t.Error("anonymous.write = true, but the account cannot write")
	}
	mustSee(t, acct, "anon-only")
}

func TestAnonymousDisabled(t *testing.T) {
	c := validConfig(t)
	c.Anonymous.Enabled = false
	c.Account = &Account{Name: "bob", Password: "pw"}
	srv := build(t, c)
	for _, user := range []string{"anonymous", "ftp", "Ftp"} {
		acct, err := login(srv, user, "guest@")
		if acct != nil || !errors.Is(err, ftpserver.ErrAuthFailed) {
			t.Errorf("%s with anonymous disabled: %v, %v", user, acct, err)
		}
	}
}

func TestUsersFile(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "homes", "alice")
	writeFile(t, filepath.Join(home, "alice.txt"), "a")
	// The users file and the home inside it are relative to the
	// configuration file.
	writeFile(t, filepath.Join(dir, "users.toml"), fmt.Sprintf(`
[[user]]
name = "alice"
password = %q
home = "homes/alice"
write = true

[[user]]
name = "bob"
password = %q
home = "homes/bob-missing"
`, passwordHash, passwordHash))
	writeFile(t, filepath.Join(dir, "ferry.toml"), "root = \".\"\nusers_file = \"users.toml\"\n")
	c, err := Load(filepath.Join(dir, "ferry.toml"))
	if err != nil {
		t.Fatal(err)
	}
	srv := build(t, c)

	acct, err := login(srv, "alice", "password")
	if err != nil {
		t.Fatalf("alice with the right password: %v", err)
	}
	if acct.User != "alice" || !acct.Write || acct.Anonymous || acct.UploadDir != "" {
		t.Errorf("alice's account: %+v", acct)
	}
	mustSee(t, acct, "alice.txt")
	again, _ := login(srv, "alice", "password")
	if again.FS != acct.FS {
		t.Error("a second login opened another file system for the same home")
	}

	for _, c := range []struct{ user, pass string }{
		{"alice", "wrong"}, {"alice", ""}, {"ALICE", "password"}, {"carol", "password"},
	} {
		acct, err := login(srv, c.user, c.pass)
		if acct != nil || !errors.Is(err, ftpserver.ErrAuthFailed) {
			t.Errorf("%s/%s: %v, %v; want ErrAuthFailed", c.user, c.pass, acct, err)
		}
	}

	// A home that does not exist is a server-side problem, not a wrong
	// password: the error is not ErrAuthFailed (the client gets 421 and
	// the log says why).
	_, err = login(srv, "bob", "password")
	if err == nil || errors.Is(err, ftpserver.ErrAuthFailed) || !strings.Contains(err.Error(), "bob") {
		t.Errorf("bob with a missing home: %v", err)
	}
}

// "ferry user add" on a running server's users file takes effect at the
// next login.
func TestUsersFileReload(t *testing.T) {
	dir := t.TempDir()
	usersPath := filepath.Join(dir, "users.toml")
	users, _ := auth.LoadOrCreateUsers(usersPath)
	if err := users.Save(); err != nil {
		t.Fatal(err)
	}
	c := validConfig(t)
	c.UsersFile = usersPath
	srv := build(t, c)
	if _, err := login(srv, "dave", "pw"); !errors.Is(err, ftpserver.ErrAuthFailed) {
		t.Fatalf("dave before being added: %v", err)
	}
	if err := users.Add("dave", "pw", dir, false); err != nil {
		t.Fatal(err)
	}
	if err := users.Save(); err != nil {
		t.Fatal(err)
	}
	acct, err := login(srv, "dave", "pw")
	if err != nil {
		t.Fatalf("dave after being added: %v", err)
	}
	if acct.Write {
		t.Error("dave can write")
	}
}

func TestCommandLineAccount(t *testing.T) {
	c := validConfig(t)
	writeFile(t, filepath.Join(c.Root, "root.txt"), "r")
	c.Account = &Account{Name: "admin", Password: "s3cret", Write: true}
	srv := build(t, c)

	acct, err := login(srv, "admin", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if acct.User != "admin" || !acct.Write || acct.Anonymous {
		t.Errorf("account %+v", acct)
	}
	mustSee(t, acct, "root.txt")
	for _, c := range []struct{ user, pass string }{
		{"admin", "s3cre"}, {"admin", "s3cret "}, {"admin", ""}, {"Admin", "s3cret"}, {"admi", "s3cret"},
	} {
		acct, err := login(srv, c.user, c.pass)
		if acct != nil || !errors.Is(err, ftpserver.ErrAuthFailed) {
			t.Errorf("%q/%q: %v, %v; want ErrAuthFailed", c.user, c.pass, acct, err)
		}
	}
	// Anonymous login still works beside it.
	if _, err := login(srv, "anonymous", ""); err != nil {
		t.Errorf("anonymous beside --user: %v", err)
	}
}

func TestBuildRefusesInvalid(t *testing.T) {
	c := validConfig(t)
	c.PassivePorts = "1-2"
	if inst, err := c.Build(quiet); err == nil || inst != nil {
		t.Fatalf("Build of an invalid configuration = %v, %v", inst, err)
	}
	c = validConfig(t)
	c.UsersFile = filepath.Join(t.TempDir(), "users.toml")
	writeFile(t, c.UsersFile, "[[user]]\nname = \"x\"\npassword = \"plain\"\nhome = \"/\"\n")
	if _, err := c.Build(quiet); err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Fatalf("Build with a plaintext users file: %v", err)
	}
}

func TestBuildTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, certFile, keyFile)

	c := validConfig(t)
	c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
	c.TLS.MinVersion = "1.3"
	c.TLS.AllowCCC = true
	inst := buildInstance(t, c)
	srv := inst.Server
	if srv.TLSConfig == nil || srv.TLSConfig.GetCertificate == nil || srv.TLSConfig.MinVersion != tls.VersionTLS13 {
		t.Fatalf("TLSConfig = %+v", srv.TLSConfig)
	}
	if srv.TLSConfig.ClientAuth != tls.NoClientCert {
		t.Errorf("client certificates requested without client_ca: %v", srv.TLSConfig.ClientAuth)
	}
	if want := (ftpserver.TLSPolicy{AllowCCC: true}); srv.TLS != want {
		t.Errorf("policy %+v, want %+v", srv.TLS, want)
	}
	if cert := inst.Certificate(); cert == nil || cert.Leaf == nil || cert.Leaf.Subject.CommonName != "localhost" {
		t.Errorf("Certificate() = %+v", cert)
	}

	c.TLS.KeyFile = certFile // not a key
	if _, err := c.Build(quiet); err == nil || !strings.HasPrefix(err.Error(), "tls: ") {
		t.Errorf("Build with a bad key: %v", err)
	}

	c.TLS.KeyFile = keyFile
	c.TLS.ClientCA = certFile + ".missing"
	writeFile(t, c.TLS.ClientCA, "not PEM")
	if _, err := c.Build(quiet); err == nil || !strings.HasPrefix(err.Error(), "tls.client_ca: no PEM certificate") {
		t.Errorf("Build with a bad client_ca: %v", err)
	}
}

func TestTLSPolicy(t *testing.T) {
	for _, c := range []struct {
		tls  TLS
		want ftpserver.TLSPolicy
	}{
		{TLS{}, ftpserver.TLSPolicy{}},
		{TLS{Required: true}, ftpserver.TLSPolicy{RequireLogin: true, RequireData: true}},
		{TLS{RequireData: true}, ftpserver.TLSPolicy{RequireData: true}},
		{TLS{AllowUnresumedData: true}, ftpserver.TLSPolicy{AllowUnresumedData: true}},
		{TLS{AllowCCC: true, Required: true}, ftpserver.TLSPolicy{RequireLogin: true, RequireData: true, AllowCCC: true}},
	} {
		if got := c.tls.Policy(); got != c.want {
			t.Errorf("%+v: policy %+v, want %+v", c.tls, got, c.want)
		}
	}
}

func writeSelfSigned(t *testing.T, certFile, keyFile string) {
	t.Helper()
	pair := testcert.New(t)
	writeFile(t, certFile, string(pair.CertPEM))
	writeFile(t, keyFile, string(pair.KeyPEM))
}

// An account whose home is missing is reported when the server starts,
// not only when that user first tries to log in.
func TestBuildWarnsAboutMissingHomes(t *testing.T) {
	dir := t.TempDir()
	c := validConfig(t)
	c.UsersFile = filepath.Join(dir, "users.toml")
	writeFile(t, c.UsersFile, fmt.Sprintf("[[user]]\nname = \"erin\"\npassword = %q\nhome = \"gone\"\n", passwordHash))
	var logs strings.Builder
	inst, err := c.Build(slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	inst.Close()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "user=erin") ||
		!strings.Contains(logs.String(), filepath.Join(dir, "gone")) {
		t.Errorf("no warning about erin's missing home in the log:\n%s", logs.String())
	}
}
