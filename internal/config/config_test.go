package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	want := &Config{
		Listen:         ":2121",
		Root:           ".",
		PassivePorts:   "50000-50100",
		ModeZ:          true,
		UploadMode:     "atomic-resume",
		Banner:         "ferry FTP server ready.",
		IdleTimeout:    Duration{5 * time.Minute},
		LoginTimeout:   Duration{time.Minute},
		DataTimeout:    Duration{time.Minute},
		LoginFailDelay: Duration{time.Second},
		// One address cannot take every session, nor more than half
		// of the passive ports.
		MaxSessionsPerIP: 64,
		MaxPassivePerIP:  50,
		MaxBadCommands:   20,
		MaxHashSize:      4 << 30,
		Anonymous:        Anonymous{Enabled: true, WorldReadableOnly: true},
		TLS:              TLS{MinVersion: "1.2"},
		S3:               S3{PartSize: 16 << 20, Concurrency: 4, AbandonedAfter: Duration{24 * time.Hour}, MaxRenameObjects: 10000},
		ProxyProtocol:    ProxyProtocol{Trusted: []string{}, HeaderTimeout: Duration{5 * time.Second}},
		Defender:         defaultDefender,
		SFTP:             SFTP{Ciphers: []string{}},
	}
	want.MaxLoginChecksPerIP = 2
	want.UsersDBMaxConns = 8
	want.LogFormat = "text"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the default configuration does not validate: %v", err)
	}
	if Default() == c {
		t.Error("Default returns a shared value")
	}
}

// Every key of Config is documented in default.toml, and nothing else is:
// the defaults a user reads are the ones the code uses.
func TestDefaultFileDocumentsEveryKey(t *testing.T) {
	fromCode, err := toml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	var codeKeys, fileKeys map[string]any
	if err := toml.Unmarshal(fromCode, &codeKeys); err != nil {
		t.Fatal(err)
	}
	if err := toml.Unmarshal(DefaultTOML(), &fileKeys); err != nil {
		t.Fatal(err)
	}
	if got, want := flatKeys("", fileKeys), flatKeys("", codeKeys); !slices.Equal(got, want) {
		t.Errorf("default.toml keys %v\nConfig keys       %v", got, want)
	}
}

func flatKeys(prefix string, m map[string]any) []string {
	var keys []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			keys = append(keys, flatKeys(prefix+k+".", sub)...)
			continue
		}
		keys = append(keys, prefix+k)
	}
	slices.Sort(keys)
	return keys
}

const fullExample = `
listen = "127.0.0.1:2100"
root = "pub"
passive_ports = "40000-40010"
public_host = "ftp.example.com"
allow_fxp = true
upload_mode = "direct"
banner = "Welcome\nto the archive"
idle_timeout = "10m"
login_timeout = "30s"
data_timeout = "2m"
login_fail_delay = "0s"
max_sessions = 100
max_sessions_per_ip = 4
max_passive_per_ip = 5
max_bad_commands = 0
max_hash_size = 1048576
users_file = "users.toml"
max_login_checks = 8
max_login_checks_per_ip = 3

[anonymous]
enabled = true
write = false
upload_dir = "/incoming"
root = "/srv/anon"
world_readable_only = false

[tls]
cert_file = "tls/cert.pem"
key_file = "/etc/ferry/key.pem"
implicit_listen = ":990"
required = true
require_data = true
allow_unresumed_data = true
allow_ccc = true
min_version = "1.3"
client_ca = "tls/clients.pem"

[s3]
endpoint = "http://127.0.0.1:9000"
region = "eu-west-1"
path_style = true
access_key = "AKIAEXAMPLE"
secret_key_file = "s3.secret"
part_size = "8 MiB"
concurrency = 2
abandoned_after = "48h"
max_rename_objects = 500

[proxy_protocol]
enabled = true
trusted = ["10.0.0.0/24", "2001:db8::5"]
header_timeout = "2s"
`

func TestLoadFullExample(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.toml")
	writeFile(t, path, fullExample)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Listen:           "127.0.0.1:2100",
		Root:             filepath.Join(dir, "pub"),
		PassivePorts:     "40000-40010",
		PublicHost:       "ftp.example.com",
		AllowFXP:         true,
		ModeZ:            true,
		UploadMode:       "direct",
		Banner:           "Welcome\nto the archive",
		IdleTimeout:      Duration{10 * time.Minute},
		LoginTimeout:     Duration{30 * time.Second},
		DataTimeout:      Duration{2 * time.Minute},
		LoginFailDelay:   Duration{0},
		MaxSessions:      100,
		MaxSessionsPerIP: 4,
		MaxPassivePerIP:  5,
		MaxBadCommands:   0,
		MaxHashSize:      1 << 20,
		UsersFile:        filepath.Join(dir, "users.toml"),
		Anonymous:        Anonymous{Enabled: true, UploadDir: "/incoming", Root: "/srv/anon", WorldReadableOnly: false},
		TLS: TLS{
			CertFile:           filepath.Join(dir, "tls", "cert.pem"),
			KeyFile:            "/etc/ferry/key.pem",
			ImplicitListen:     ":990",
			Required:           true,
			RequireData:        true,
			AllowUnresumedData: true,
			AllowCCC:           true,
			MinVersion:         "1.3",
			ClientCA:           filepath.Join(dir, "tls", "clients.pem"),
		},
		S3: S3{
			Endpoint:         "http://127.0.0.1:9000",
			Region:           "eu-west-1",
			PathStyle:        true,
			AccessKey:        "AKIAEXAMPLE",
			SecretKeyFile:    filepath.Join(dir, "s3.secret"),
			PartSize:         8 << 20,
			Concurrency:      2,
			AbandonedAfter:   Duration{48 * time.Hour},
			MaxRenameObjects: 500,
		},
		ProxyProtocol: ProxyProtocol{Enabled: true, Trusted: []string{"10.0.0.0/24", "2001:db8::5"}, HeaderTimeout: Duration{2 * time.Second}},
		Defender:      defaultDefender,
		SFTP:          SFTP{Ciphers: []string{}},
	}
	want.MaxLoginChecks, want.MaxLoginChecksPerIP = 8, 3
	want.UsersDBMaxConns = 8
	want.LogFormat = "text"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", c, want)
	}
}

// A file sets only what it names; the rest keeps the defaults, and the
// default root "." stays the working directory, not the file's directory.
func TestLoadLayersOnDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "ferry.toml")
	writeFile(t, path, "[anonymous]\nwrite = true\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	if c.Root != cwd {
		t.Errorf("root = %q, want the working directory %q", c.Root, cwd)
	}
	if !c.Anonymous.Enabled || !c.Anonymous.Write {
		t.Errorf("anonymous = %+v, want enabled (default) and write (file)", c.Anonymous)
	}
	if c.Listen != ":2121" || c.IdleTimeout.Duration != 5*time.Minute || c.MaxBadCommands != 20 {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, c := range []struct {
		name, content string
		want          []string
	}{
		{"unknown key", "listen = \":21\"\nlisten_addr = \":21\"\n", []string{"ferry.toml:2:1", `unknown key "listen_addr"`}},
		{"unknown nested key", "[anonymous]\nenable = true\n", []string{"ferry.toml:2:1", `"anonymous.enable"`}},
		{"several unknown keys", "a = 1\nb = 2\n", []string{`"a"`, `"b"`, "ferry.toml:2:1"}},
		{"unknown table", "[server]\nlisten = \":21\"\n", []string{`unknown key "server"`}},
		{"account not from a file", "[account]\nname = \"x\"\npassword = \"y\"\n", []string{`unknown key "account"`}},
		{"plaintext user table", "[[user]]\nname = \"x\"\npassword = \"y\"\n", []string{`unknown key "user"`}},
		{"syntax", "listen = \n", []string{"ferry.toml:1:"}},
		{"type", "max_sessions = \"ten\"\n", []string{"ferry.toml:1:16: max_sessions: want an integer, got a TOML string"}},
		{"bool type", "[anonymous]\nenabled = 1\n", []string{"ferry.toml:2:11: anonymous.enabled: want true or false, got a TOML integer"}},
		{"duration type", "data_timeout = 1.5\n", []string{`ferry.toml:1: data_timeout: invalid duration "1.5"`}},
		{"bad duration", "idle_timeout = \"5 minutes\"\n", []string{"ferry.toml:1:", "idle_timeout", `"5 minutes"`, `"5m"`}},
		{"duration without unit", "listen = \":21\"\nidle_timeout = 300 # seconds\n", []string{`ferry.toml:2: idle_timeout: invalid duration "300"`, `"5m"`}},
		{"redefined key", "listen = \":1\"\nlisten = \":2\"\n", []string{"ferry.toml:2:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ferry.toml")
			writeFile(t, path, c.content)
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing.toml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing file: %v", err)
	}
}

// validConfig is a configuration that validates, rooted in temporary
// directories.
func validConfig(t *testing.T) *Config {
	c := Default()
	c.Root = t.TempDir()
	return c
}

func TestValidateErrors(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	writeFile(t, notDir, "x")
	missing := filepath.Join(t.TempDir(), "missing")

	for _, c := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"listen without port", func(c *Config) { c.Listen = "localhost" }, `listen: want HOST:PORT such as ":2121" or "127.0.0.1:21", got "localhost"`},
		{"listen bad port", func(c *Config) { c.Listen = ":99999" }, `listen: want HOST:PORT`},
		{"listen named port", func(c *Config) { c.Listen = ":ftp" }, `listen: want HOST:PORT`},
		{"root missing", func(c *Config) { c.Root = missing }, "root: " + missing + " does not exist"},
		{"root not a dir", func(c *Config) { c.Root = notDir }, "root: " + notDir + " is not a directory"},
		{"root empty", func(c *Config) { c.Root = "" }, "root: empty path"},
		{"ports reversed", func(c *Config) { c.PassivePorts = "50100-50000" }, `passive_ports: want LO-HI with 1024 <= LO <= HI <= 65535, got "50100-50000"`},
		{"ports privileged", func(c *Config) { c.PassivePorts = "80-90" }, "passive_ports: want LO-HI with 1024 <= LO <= HI <= 65535"},
		{"ports too high", func(c *Config) { c.PassivePorts = "60000-70000" }, "passive_ports: want LO-HI"},
		{"ports single", func(c *Config) { c.PassivePorts = "50000" }, "passive_ports: want LO-HI"},
		{"ports words", func(c *Config) { c.PassivePorts = "lo-hi" }, "passive_ports: want LO-HI"},
		{"public host IPv6", func(c *Config) { c.PublicHost = "2001:db8::1" }, `public_host: PASV can only announce an IPv4 address, got "2001:db8::1"`},
		{"public host junk", func(c *Config) { c.PublicHost = "ftp example.com" }, `public_host: want an IPv4 address or a host name, got "ftp example.com"`},
		{"upload mode", func(c *Config) { c.UploadMode = "safe" }, `upload_mode: upload mode must be "atomic-resume", "atomic" or "direct", got "safe"`},
		{"banner control", func(c *Config) { c.Banner = "hi\r\n220 fake" }, "banner: contains a control character"},
		{"idle timeout zero", func(c *Config) { c.IdleTimeout.Duration = 0 }, `idle_timeout: must be positive, got "0s"`},
		{"login timeout negative", func(c *Config) { c.LoginTimeout.Duration = -time.Second }, `login_timeout: must be positive, got "-1s"`},
		{"data timeout negative", func(c *Config) { c.DataTimeout.Duration = -time.Minute }, `data_timeout: must be positive, got "-1m0s"`},
		{"fail delay negative", func(c *Config) { c.LoginFailDelay.Duration = -time.Second }, `login_fail_delay: must not be negative, got "-1s"`},
		{"max sessions", func(c *Config) { c.MaxSessions = -1 }, "max_sessions: must not be negative (0 means no limit), got -1"},
		{"max sessions per ip", func(c *Config) { c.MaxSessionsPerIP = -2 }, "max_sessions_per_ip: must not be negative"},
		{"max passive per ip", func(c *Config) { c.MaxPassivePerIP = -1 }, "max_passive_per_ip: must not be negative"},
		{"max bad commands", func(c *Config) { c.MaxBadCommands = -3 }, "max_bad_commands: must not be negative"},
		{"max hash size", func(c *Config) { c.MaxHashSize = -1 }, "max_hash_size: must not be negative"},
		{"users file missing", func(c *Config) { c.UsersFile = missing }, "users_file: stat " + missing + ": no such file or directory"},
		{"users file a dir", func(c *Config) { c.UsersFile = t.TempDir() }, "is not a regular file"},
		{"upload dir relative", func(c *Config) { c.Anonymous.UploadDir = "incoming" }, `anonymous.upload_dir: want a clean absolute virtual path such as "/incoming", got "incoming"`},
		{"upload dir unclean", func(c *Config) { c.Anonymous.UploadDir = "/a/../b" }, "anonymous.upload_dir: want a clean absolute virtual path"},
		{"upload dir missing", func(c *Config) { c.Anonymous.UploadDir = "/incoming" }, "anonymous.upload_dir: /incoming under the anonymous root"},
		{"anonymous root missing", func(c *Config) { c.Anonymous.Root = missing }, "anonymous.root: " + missing + " does not exist"},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "c.pem" }, "tls: cert_file and key_file must be set together"},
		{"key without cert", func(c *Config) { c.TLS.KeyFile = "k.pem" }, "tls: cert_file and key_file must be set together"},
		{"required without cert", func(c *Config) { c.TLS.Required = true }, "tls.required: needs tls.cert_file and tls.key_file"},
		{"implicit without cert", func(c *Config) { c.TLS.ImplicitListen = ":990" }, "tls.implicit_listen: needs tls.cert_file and tls.key_file"},
		{"implicit bad address", func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ImplicitListen = "c", "k", "990" }, "tls.implicit_listen: want HOST:PORT"},
		{"implicit on listen", func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ImplicitListen = "c", "k", c.Listen }, `tls.implicit_listen: is the same address as listen (":2121")`},
		{"require_data without cert", func(c *Config) { c.TLS.RequireData = true }, "tls.require_data: needs tls.cert_file and tls.key_file"},
		{"client_ca without cert", func(c *Config) { c.TLS.ClientCA = notDir }, "tls.client_ca: needs tls.cert_file and tls.key_file"},
		{"client_ca missing", func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ClientCA = "c", "k", missing }, "tls.client_ca: stat " + missing + ": no such file or directory"},
		{"client_ca a dir", func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ClientCA = "c", "k", t.TempDir() }, "tls.client_ca: "},
		{"min version old", func(c *Config) { c.TLS.MinVersion = "1.1" }, `tls.min_version: want "1.2" or "1.3", got "1.1"`},
		{"min version empty", func(c *Config) { c.TLS.MinVersion = "" }, `tls.min_version: want "1.2" or "1.3", got ""`},
		{"account reserved name", func(c *Config) { c.Account = &Account{Name: "ftp", Password: "x"} }, `--user: invalid user name "ftp": reserved`},
		{"account empty name", func(c *Config) { c.Account = &Account{Password: "x"} }, "--user: invalid user name: empty"},
		{"account empty password", func(c *Config) { c.Account = &Account{Name: "bob"} }, `--password: empty password for user "bob"`},
		{"nobody can log in", func(c *Config) { c.Anonymous.Enabled = false }, "nobody can log in"},
		{"sftp cipher unknown", func(c *Config) { c.SFTP.Ciphers = []string{"aes128-ctr", "rot13"} }, `sftp.ciphers: cipher "rot13" is not supported (supported: [aes128-gcm@openssh.com`},
		{"sftp cipher insecure", func(c *Config) { c.SFTP.Ciphers = []string{"arcfour"} }, `sftp.ciphers: cipher "arcfour" is not supported`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig(t)
			c.change(cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v\nwant an error containing %q", err, c.want)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, caFile, "checked when the server is built")
	for _, c := range []struct {
		name   string
		change func(*Config)
	}{
		{"any passive port", func(c *Config) { c.PassivePorts = "" }},
		{"one passive port", func(c *Config) { c.PassivePorts = "50000-50000" }},
		{"full passive range", func(c *Config) { c.PassivePorts = "1024-65535" }},
		{"public IPv4", func(c *Config) { c.PublicHost = "203.0.113.7" }},
		{"public host name", func(c *Config) { c.PublicHost = "ftp.example.com" }},
		{"multi-line banner", func(c *Config) { c.Banner = "line one\nline two" }},
		{"no fail delay", func(c *Config) { c.LoginFailDelay.Duration = 0 }},
		{"upload dir exists", func(c *Config) {
			os.Mkdir(filepath.Join(c.Root, "incoming"), 0o755)
			c.Anonymous.UploadDir = "/incoming"
		}},
		{"upload dir not checked when anonymous is off", func(c *Config) {
			c.Anonymous.Enabled = false
			c.Anonymous.UploadDir = "/incoming"
			c.Account = &Account{Name: "bob", Password: "pw"}
		}},
		{"only the cli account", func(c *Config) {
			c.Anonymous.Enabled = false
			c.Account = &Account{Name: "bob", Password: "pw"}
		}},
		{"IPv6 listen", func(c *Config) { c.Listen = "[::1]:2121" }},
		{"sftp ciphers", func(c *Config) { c.SFTP.Ciphers = []string{"chacha20-poly1305@openssh.com", "aes256-ctr"} }},
		{"TLS everything", func(c *Config) {
			c.TLS = TLS{CertFile: "c.pem", KeyFile: "k.pem", ImplicitListen: ":990", Required: true, RequireData: true,
				AllowUnresumedData: true, AllowCCC: true, MinVersion: "1.3", ClientCA: caFile}
		}},
		{"relaxations without a certificate", func(c *Config) { c.TLS.AllowCCC, c.TLS.AllowUnresumedData = true, true }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig(t)
			c.change(cfg)
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

// All problems are reported at once, one per line.
func TestValidateReportsEverything(t *testing.T) {
	c := validConfig(t)
	c.PassivePorts = "1-2"
	c.UploadMode = "x"
	c.MaxSessions = -1
	err := c.Validate()
	if err == nil {
		t.Fatal("validated")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 3 {
		t.Errorf("want 3 lines, got %q", lines)
	}
}
