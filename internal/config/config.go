// Package config reads ferry's server configuration file (TOML) and turns
// it into a ready *ftpserver.Server.
//
// The built-in defaults are themselves a TOML file, default.toml, which
// documents every key; Default parses it and Load lays a user's file on top
// of it, so the documentation and the code cannot disagree.
package config

import (
	"bytes"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pelletier/go-toml/v2"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

//go:embed default.toml
var defaultTOML []byte

// DefaultTOML returns the text of the built-in default configuration, with
// a comment on every key: a starting point for a configuration file.
func DefaultTOML() []byte { return bytes.Clone(defaultTOML) }

// Config is the server configuration. The toml tags are the keys of the
// file; see default.toml for what each means.
type Config struct {
	Listen           string   `toml:"listen"`
	Root             string   `toml:"root"`
	PassivePorts     string   `toml:"passive_ports"`
	PublicHost       string   `toml:"public_host"`
	AllowFXP         bool     `toml:"allow_fxp"`
	ModeZ            bool     `toml:"mode_z"`
	UploadMode       string   `toml:"upload_mode"`
	Banner           string   `toml:"banner"`
	IdleTimeout      Duration `toml:"idle_timeout"`
	LoginTimeout     Duration `toml:"login_timeout"`
	DataTimeout      Duration `toml:"data_timeout"`
	LoginFailDelay   Duration `toml:"login_fail_delay"`
	MaxSessions      int      `toml:"max_sessions"`
	MaxSessionsPerIP int      `toml:"max_sessions_per_ip"`
	MaxPassivePerIP  int      `toml:"max_passive_per_ip"`
	MaxBadCommands   int      `toml:"max_bad_commands"`
	MaxHashSize      int64    `toml:"max_hash_size"`
	// UsersFile is a users file (see package auth); empty for none.
	UsersFile string `toml:"users_file"`
	// UsersDB is a PostgreSQL account store (see usersdb.go); empty for
	// none. UsersDBMaxConns bounds its connection pool.
	UsersDB         string `toml:"users_db"`
	UsersDBMaxConns int    `toml:"users_db_max_conns"`

	// MaxLoginChecks and MaxLoginChecksPerIP bound the password checks
	// running at once; see default.toml.
	MaxLoginChecks      int `toml:"max_login_checks"`
	MaxLoginChecksPerIP int `toml:"max_login_checks_per_ip"`

	Anonymous Anonymous `toml:"anonymous"`
	TLS       TLS       `toml:"tls"`
	S3        S3        `toml:"s3"`

	ProxyProtocol ProxyProtocol `toml:"proxy_protocol"`
	Defender      Defender      `toml:"defender"`
	Admin         Admin         `toml:"admin"`
	SFTP          SFTP          `toml:"sftp"`

	// XferlogFile and LogFormat: see xferlog.go.
	XferlogFile string `toml:"xferlog_file"`
	LogFormat   string `toml:"log_format"`

	// Hosts are the [[host]] tables: virtual hosts chosen by the HOST
	// command (RFC 7151); see host.go.
	Hosts []Host `toml:"host,omitempty"`

	// Account is one more login, whose home is Root. It is set by code
	// ("ferry serve --user NAME --password PASS"), never read from a file,
	// which holds no plaintext passwords.
	Account *Account `toml:"-"`

	// Getenv reads the environment (AWS_* for s3:// roots); nil means
	// os.Getenv. Tests set it so that they can run in parallel.
	Getenv func(string) string `toml:"-"`
}

// Anonymous is the [anonymous] table: logins as "anonymous" or "ftp" with
// any password.
type Anonymous struct {
	Enabled bool `toml:"enabled"`
	Write   bool `toml:"write"`
	// UploadDir is a virtual path ("/incoming") where new files may be
	// created even though Write is false.
	UploadDir string `toml:"upload_dir"`
	// Root is the host directory or s3:// location anonymous users see;
	// empty means Config.Root.
	Root string `toml:"root"`
	// WorldReadableOnly lets anonymous users download only files that
	// everyone may read (o+r); on by default.
	WorldReadableOnly bool `toml:"world_readable_only"`
}

// TLS is the [tls] table: FTPS. Its policy applies to both listeners.
type TLS struct {
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// ImplicitListen is the address of a second listener that speaks TLS
	// from the first byte; empty for none.
	ImplicitListen string `toml:"implicit_listen"`
	// Required refuses logins and data connections without TLS.
	Required bool `toml:"required"`
	// RequireData refuses data connections without TLS (PROT P).
	RequireData bool `toml:"require_data"`
	// AllowUnresumedData accepts TLS data connections that do not resume
	// the control connection's session.
	AllowUnresumedData bool `toml:"allow_unresumed_data"`
	// AllowCCC lets clients drop TLS from the control connection after
	// login.
	AllowCCC bool `toml:"allow_ccc"`
	// MinVersion is "1.2" or "1.3".
	MinVersion string `toml:"min_version"`
	// ClientCA is a PEM file of CA certificates: clients may present a
	// certificate signed by one, and one whose Subject CommonName is the
	// USER name logs that user in without a password.
	ClientCA string `toml:"client_ca"`
}

// tlsVersions maps min_version to crypto/tls versions. TLS 1.0 and 1.1
// are left out on purpose: they are deprecated (RFC 8996).
var tlsVersions = map[string]uint16{
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// Policy is the listener TLS policy the table asks for.
func (t *TLS) Policy() ftpserver.TLSPolicy {
	return ftpserver.TLSPolicy{
		RequireLogin:       t.Required,
		RequireData:        t.Required || t.RequireData,
		AllowUnresumedData: t.AllowUnresumedData,
		AllowCCC:           t.AllowCCC,
	}
}

// Account is a single account given on the command line.
type Account struct {
	Name     string
	Password string
	Write    bool
}

// Duration is a time.Duration written in the file as a string with a unit,
// such as "90s" or "5m".
type Duration struct{ time.Duration }

// MarshalText writes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a time.ParseDuration string.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return &durationError{text: string(text)}
	}
	d.Duration = v
	return nil
}

type durationError struct{ text string }

func (e *durationError) Error() string {
	return fmt.Sprintf("invalid duration %q: want a quoted number with a unit, such as \"30s\" or \"5m\"", e.text)
}

// Default returns the built-in configuration: serve the current directory
// on :2121 to anonymous users, read-only.
func Default() *Config {
	c := new(Config)
	if err := decode("default.toml", defaultTOML, c); err != nil {
		panic("config: built-in default.toml: " + err.Error())
	}
	return c
}

// Load reads the configuration file at path on top of the defaults. A
// key the file does not know is an error. Relative paths in the file are
// made absolute against the file's directory. Load does not Validate, so
// that a caller can apply command-line overrides first; Build validates.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := Default()
	// The default paths ("." for root) mean the working directory; make
	// them absolute now so that whatever is still relative after decoding
	// came from the file.
	if err := c.resolvePaths(""); err != nil {
		return nil, err
	}
	if err := decode(path, data, c); err != nil {
		return nil, err
	}
	c.anonymousByDefault(data)
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	if err := c.resolvePaths(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// resolvePaths makes every relative path absolute against dir (the working
// directory when dir is empty).
func (c *Config) resolvePaths(dir string) error {
	for _, p := range append([]*string{&c.Root, &c.UsersFile, &c.Anonymous.Root, &c.TLS.CertFile, &c.TLS.KeyFile, &c.TLS.ClientCA, &c.S3.SecretKeyFile, &c.XferlogFile, &c.Admin.TokenFile, &c.SFTP.HostKeyFile}, c.hostPaths()...) {
		if *p == "" || filepath.IsAbs(*p) || s3fs.IsURL(*p) {
			continue
		}
		if dir == "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return err
			}
			*p = abs
			continue
		}
		*p = filepath.Join(dir, *p)
	}
	return nil
}

func decode(name string, data []byte, c *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return decodeError(name, data, err)
	}
	return nil
}

// decodeError names the file, line, column and key of a decoding error.
func decodeError(name string, data []byte, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, len(strict.Errors))
		for i, e := range strict.Errors {
			line, col := e.Position()
			errs[i] = fmt.Errorf("%s:%d:%d: unknown key %q", name, line, col, strings.Join(e.Key(), "."))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if m := typeMismatch.FindStringSubmatch(msg); m != nil {
			want, ok := goTypeNames[m[2]]
			if !ok {
				want = m[2]
			}
			msg = fmt.Sprintf("want %s, got a TOML %s", want, m[1])
		}
		if key := de.Key(); len(key) > 0 {
			msg = strings.Join(key, ".") + ": " + msg
		}
		return fmt.Errorf("%s:%d:%d: %s", name, line, col, msg)
	}
	var dur *durationError
	if errors.As(err, &dur) {
		// go-toml gives no position when a number (not a string) fails
		// to decode into a Duration; find the line ourselves.
		if line, key := findNumberValue(data, dur.text); line > 0 {
			return fmt.Errorf("%s:%d: %s: %v", name, line, key, err)
		}
	}
	return fmt.Errorf("%s: %w", name, err)
}

// findNumberValue returns the line and key of the first "key = value"
// line with that bare value.
func findNumberValue(data []byte, value string) (int, string) {
	for i, line := range strings.Split(string(data), "\n") {
		key, rest, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, "#")
		if strings.TrimSpace(rest) == value {
			return i + 1, strings.TrimSpace(key)
		}
	}
	return 0, ""
}

// typeMismatch matches go-toml's message for a value of the wrong type,
// which speaks of Go struct fields; the user wrote TOML.
var typeMismatch = regexp.MustCompile(`^cannot decode TOML (\w+) into .* of type (\S+)$`)

var goTypeNames = map[string]string{
	"int":             "an integer",
	"bool":            "true or false",
	"string":          "a string",
	"config.Duration": `a duration string such as "5m"`,
	"config.Size":     `a size such as "16MiB"`,
	"float64":         "a number",
}

// Validate checks the configuration and reports every problem found, one
// per line, each starting with the key at fault.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	if err := checkListenAddr(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if err := checkRoot(c.Root); err != nil {
		bad("root", "%v", err)
	}
	if _, err := parsePortRange(c.PassivePorts); err != nil {
		bad("passive_ports", "%v", err)
	}
	if err := checkPublicHost(c.PublicHost); err != nil {
		bad("public_host", "%v", err)
	}
	if _, err := ftpserver.ParseUploadMode(c.UploadMode); err != nil {
		bad("upload_mode", "%v, got %q", err, c.UploadMode)
	}
	if strings.ContainsFunc(c.Banner, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		bad("banner", "contains a control character")
	}
	for _, d := range []struct {
		key   string
		value Duration
	}{
		{"idle_timeout", c.IdleTimeout},
		{"login_timeout", c.LoginTimeout},
		{"data_timeout", c.DataTimeout},
	} {
		if d.value.Duration <= 0 {
			bad(d.key, "must be positive, got %q", d.value.String())
		}
	}
	if c.LoginFailDelay.Duration < 0 {
		bad("login_fail_delay", "must not be negative, got %q", c.LoginFailDelay.String())
	}
	if c.MaxLoginChecks < 0 {
		bad("max_login_checks", "must not be negative (0 means twice the CPUs), got %d", c.MaxLoginChecks)
	}
	if c.MaxLoginChecksPerIP < 0 {
		bad("max_login_checks_per_ip", "must not be negative (0 means no limit), got %d", c.MaxLoginChecksPerIP)
	}
	for _, n := range []struct {
		key   string
		value int
	}{
		{"max_sessions", c.MaxSessions},
		{"max_sessions_per_ip", c.MaxSessionsPerIP},
		{"max_passive_per_ip", c.MaxPassivePerIP},
		{"max_bad_commands", c.MaxBadCommands},
	} {
		if n.value < 0 {
			bad(n.key, "must not be negative (0 means no limit), got %d", n.value)
		}
	}
	if c.MaxHashSize < 0 {
		bad("max_hash_size", "must not be negative (0 means no limit), got %d", c.MaxHashSize)
	}
	if c.UsersFile != "" {
		if info, err := os.Stat(c.UsersFile); err != nil {
			bad("users_file", "%v", err)
		} else if !info.Mode().IsRegular() {
			bad("users_file", "%s is not a regular file", c.UsersFile)
		}
	}

	if c.Anonymous.UploadDir != "" {
		dir := c.Anonymous.UploadDir
		switch {
		case !strings.HasPrefix(dir, "/") || path.Clean(dir) != dir || strings.ContainsAny(dir, "\x00\r\n"):
			bad("anonymous.upload_dir", "want a clean absolute virtual path such as \"/incoming\", got %q", dir)
		case c.Anonymous.Enabled && !s3fs.IsURL(c.anonymousRoot()):
			// An S3 root's upload_dir is checked when Build opens it.
			root := c.anonymousRoot()
			if err := checkDir(filepath.Join(root, filepath.FromSlash(dir))); err != nil {
				bad("anonymous.upload_dir", "%s under the anonymous root %s: %v", dir, root, err)
			}
		}
	}
	if c.Anonymous.Enabled && c.Anonymous.Root != "" {
		if err := checkRoot(c.Anonymous.Root); err != nil {
			bad("anonymous.root", "%v", err)
		}
	}

	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file must be set together")
	} else if c.TLS.CertFile == "" {
		// Settings that ask for protection cannot be honoured without a
		// certificate; refuse rather than serve in the clear.
		for _, k := range []struct {
			key string
			set bool
		}{
			{"tls.implicit_listen", c.TLS.ImplicitListen != ""},
			{"tls.required", c.TLS.Required},
			{"tls.require_data", c.TLS.RequireData},
			{"tls.client_ca", c.TLS.ClientCA != ""},
		} {
			if k.set {
				bad(k.key, "needs tls.cert_file and tls.key_file")
			}
		}
	}
	if c.TLS.ImplicitListen != "" {
		if err := checkListenAddr(c.TLS.ImplicitListen); err != nil {
			bad("tls.implicit_listen", "%v", err)
		} else if _, port, _ := net.SplitHostPort(c.Listen); c.TLS.ImplicitListen == c.Listen && port != "0" {
			bad("tls.implicit_listen", "is the same address as listen (%q); implicit FTPS needs a port of its own, such as \":990\"", c.Listen)
		}
	}
	if _, ok := tlsVersions[c.TLS.MinVersion]; !ok {
		bad("tls.min_version", "want \"1.2\" or \"1.3\", got %q", c.TLS.MinVersion)
	}
	if c.TLS.ClientCA != "" {
		if info, err := os.Stat(c.TLS.ClientCA); err != nil {
			bad("tls.client_ca", "%v", err)
		} else if !info.Mode().IsRegular() {
			bad("tls.client_ca", "%s is not a regular file", c.TLS.ClientCA)
		}
	}

	c.validateS3(bad)
	c.validateProxy(bad)
	c.validateLogging(bad)
	c.validateDefender(bad)
	c.validateSFTP(bad)
	c.validateAdmin(bad)
	c.validateHosts(bad)

	if a := c.Account; a != nil {
		if err := auth.ValidateName(a.Name); err != nil {
			bad("--user", "%v", err)
		}
		if a.Password == "" {
			bad("--password", "empty password for user %q", a.Name)
		}
	}
	c.validateUsersDB(bad)
	if !c.Anonymous.Enabled && c.UsersFile == "" && c.UsersDB == "" && c.Account == nil && !c.hostLogins() {
		errs = append(errs, errors.New("nobody can log in: enable [anonymous], set users_file or users_db, or give an account with --user"))
	}
	return errors.Join(errs...)
}

func (c *Config) anonymousRoot() string {
	if c.Anonymous.Root != "" {
		return c.Anonymous.Root
	}
	return c.Root
}

func checkDir(dir string) error {
	if dir == "" {
		return errors.New("empty path")
	}
	info, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist", dir)
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = errors.New("port out of range")
		}
	}
	if err != nil {
		return fmt.Errorf("want HOST:PORT such as \":2121\" or \"127.0.0.1:21\", got %q", addr)
	}
	return nil
}

const portRangeWant = "want LO-HI with 1024 <= LO <= HI <= 65535"

// parsePortRange parses "LO-HI"; empty means any port.
func parsePortRange(s string) (ftpserver.PortRange, error) {
	if s == "" {
		return ftpserver.PortRange{}, nil
	}
	loText, hiText, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(loText))
	hi, err2 := strconv.Atoi(strings.TrimSpace(hiText))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || lo > hi || hi > 65535 {
		return ftpserver.PortRange{}, fmt.Errorf("%s, got %q", portRangeWant, s)
	}
	return ftpserver.PortRange{Min: lo, Max: hi}, nil
}

// checkPublicHost accepts an IPv4 address or a host name (resolved by the
// server at each PASV).
func checkPublicHost(host string) error {
	if host == "" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().Is4() {
			return fmt.Errorf("PASV can only announce an IPv4 address, got %q", host)
		}
		return nil
	}
	if len(host) > 253 {
		return fmt.Errorf("host name too long")
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.ContainsFunc(label, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
			}) {
			return fmt.Errorf("want an IPv4 address or a host name, got %q", host)
		}
	}
	return nil
}
