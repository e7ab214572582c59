package config

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/ferry-ftp/ferry/auth/postgres"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

// Host is a [[host]] table: a virtual host that clients choose with the
// HOST command (RFC 7151) before they log in. A session that sends no
// HOST gets the top-level settings.
type Host struct {
	// Name is what HOST must say: a domain name (compared without
	// regard to case; IDNA names in their xn-- form), an IPv4 address
	// or a bracketed IPv6 address.
	Name string `toml:"name"`
	// Root is the home of the --user account and of anonymous users
	// on this host: a directory or an s3:// location.
	Root string `toml:"root"`
	// UsersFile and UsersDB are this host's own accounts; with neither,
	// the top-level users_file or users_db serves this host too.
	UsersFile string `toml:"users_file"`
	UsersDB   string `toml:"users_db"`
	// CertFile and KeyFile are this host's TLS certificate, presented
	// after HOST and to clients whose SNI names the host; without them,
	// the top-level [tls] certificate.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// Banner is the text of the 220 reply to HOST.
	Banner string `toml:"banner"`
	// Anonymous turns anonymous logins on or off for this host (with
	// the [anonymous] table's other settings, in Root). Unset: as the
	// [anonymous] table says, except that a host with its own users
	// store is closed to anonymous users unless it says otherwise.
	Anonymous *bool `toml:"anonymous"`
}

// key names the host in messages: its place among the tables (from 1),
// and its name.
func (h *Host) key(i int) string {
	if h.Name == "" {
		return fmt.Sprintf("host[%d]", i+1)
	}
	return fmt.Sprintf("host[%d] (%s)", i+1, h.Name)
}

// hostPaths are the hosts' file paths, which Load makes absolute.
func (c *Config) hostPaths() []*string {
	var paths []*string
	for i := range c.Hosts {
		h := &c.Hosts[i]
		paths = append(paths, &h.Root, &h.UsersFile, &h.CertFile, &h.KeyFile)
	}
	return paths
}

// hostAnonymous reports whether h lets anonymous users in.
func (c *Config) hostAnonymous(h *Host) bool {
	if h.Anonymous != nil {
		return *h.Anonymous
	}
	return c.Anonymous.Enabled && h.UsersFile == "" && h.UsersDB == ""
}

// hostLogins reports whether some host lets someone log in.
func (c *Config) hostLogins() bool {
	for i := range c.Hosts {
		h := &c.Hosts[i]
		if c.hostAnonymous(h) || h.UsersFile != "" || h.UsersDB != "" || c.Account != nil {
			return true
		}
	}
	return false
}

func (c *Config) validateHosts(bad func(key, format string, args ...any)) {
	seen := map[string]string{}
	for i := range c.Hosts {
		h := &c.Hosts[i]
		key := h.key(i)
		if name, err := ftpserver.CanonicalHostName(h.Name); err != nil {
			bad(key+".name", "want a host name such as \"ftp.example.com\", an IPv4 address or a bracketed IPv6 address, got %q", h.Name)
		} else if other, dup := seen[name]; dup {
			bad(key+".name", "%s names the same host as %s", name, other)
		} else {
			seen[name] = key
		}
		if h.Root == "" {
			bad(key+".root", "missing: each [[host]] needs the directory (or s3:// location) it serves")
		} else if err := checkRoot(h.Root); err != nil {
			bad(key+".root", "%v", err)
		} else if dir := c.Anonymous.UploadDir; dir != "" && c.hostAnonymous(h) && !s3fs.IsURL(h.Root) {
			// As for the top-level anonymous root; a bucket is checked
			// when Build opens it.
			if err := checkDir(filepath.Join(h.Root, filepath.FromSlash(dir))); err != nil {
				bad(key+".root", "anonymous.upload_dir %s under it: %v", dir, err)
			}
		}
		if h.UsersFile != "" && h.UsersDB != "" {
			bad(key+".users_db", "set users_file or users_db, not both")
		}
		if h.UsersFile != "" {
			if err := checkRegularFile(h.UsersFile); err != nil {
				bad(key+".users_file", "%v", err)
			}
		}
		if h.UsersDB != "" && !postgres.IsURL(h.UsersDB) && !strings.Contains(h.UsersDB, "=") {
			bad(key+".users_db", "want a postgres:// URL or key=value connection string")
		}
		switch {
		case (h.CertFile == "") != (h.KeyFile == ""):
			bad(key, "cert_file and key_file must be set together")
		case h.CertFile != "" && c.TLS.CertFile == "":
			bad(key+".cert_file", "needs the top-level tls.cert_file and tls.key_file too: AUTH TLS is offered by the whole server, and clients that name no host get that certificate")
		}
		if strings.ContainsFunc(h.Banner, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
			bad(key+".banner", "contains a control character")
		}
	}
}

func checkRegularFile(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// hostInstance is what a built host holds that SIGHUP reloads and Close
// releases.
type hostInstance struct {
	name  string
	certs *certHolder  // nil: the server's certificate
	file  *fileStore   // the host's own users file, nil if none
	owned accountStore // the host's own users store, closed with it
}

// buildHosts gives inst's server the [[host]] tables as virtual hosts.
// Each host's logins go through an authenticator like the top-level one
// (base), with the host's root for anonymous users and the --user
// account, and the host's users store if it has one.
func (c *Config) buildHosts(inst *Instance, base *authenticator, logger *slog.Logger) error {
	if len(c.Hosts) == 0 {
		return nil
	}
	hosts := make(map[string]*ftpserver.VirtualHost, len(c.Hosts))
	for i := range c.Hosts {
		vh, err := c.buildHost(inst, i, base, logger)
		if err != nil {
			inst.closeHosts()
			return err
		}
		hosts[vh.Name] = vh
	}
	inst.Server.Hosts = func(name string) (*ftpserver.VirtualHost, bool) {
		vh, ok := hosts[name]
		return vh, ok
	}
	return nil
}

func (c *Config) buildHost(inst *Instance, i int, base *authenticator, logger *slog.Logger) (*ftpserver.VirtualHost, error) {
	h := &c.Hosts[i]
	key := h.key(i)
	name, _ := ftpserver.CanonicalHostName(h.Name) // validated
	logger = logger.With("host", name)
	hi := &hostInstance{name: name}
	inst.hosts = append(inst.hosts, hi)
	fsys, err := base.homes.get(context.Background(), h.Root)
	if err != nil {
		return nil, fmt.Errorf("%s.root: %w", key, err)
	}
	a := &authenticator{logger: logger, homes: base.homes, certLogin: base.certLogin, users: base.users}
	if c.hostAnonymous(h) {
		a.anonymous = c.anonymousAccount(fsys)
	}
	if base.account != nil {
		a.account, a.accountFS = base.account, fsys
	}
	switch {
	case h.UsersFile != "":
		store, err := loadUsersFile(h.UsersFile, logger, a.account)
		if err != nil {
			return nil, fmt.Errorf("%s.users_file: %w", key, err)
		}
		a.users, hi.file, hi.owned = store, store, store
	case h.UsersDB != "":
		store, err := openUsersDBAt(key+".users_db", h.UsersDB, c.UsersDBMaxConns)
		if err != nil {
			return nil, err
		}
		a.users, hi.owned = store, store
	}
	vh := &ftpserver.VirtualHost{Name: name, Auth: a, Banner: h.Banner}
	if h.CertFile != "" {
		hi.certs = &certHolder{certFile: h.CertFile, keyFile: h.KeyFile}
		if _, err := hi.certs.load(); err != nil {
			return nil, fmt.Errorf("%s: tls: %w", key, err)
		}
		vh.GetCertificate = hi.certs.get
	}
	return vh, nil
}

// anonymousAccount is the anonymous account of the [anonymous] table,
// in fsys.
func (c *Config) anonymousAccount(fsys ftpserver.FileSystem) *ftpserver.Account {
	return &ftpserver.Account{
		User:              "anonymous",
		Anonymous:         true,
		FS:                fsys,
		Write:             c.Anonymous.Write,
		UploadDir:         c.Anonymous.UploadDir,
		WorldReadableOnly: c.Anonymous.WorldReadableOnly,
	}
}

// ReloadHosts reads each virtual host's certificate and users file
// again (SIGHUP). What fails keeps what was loaded before; the error
// says which host and why. It returns what it reloaded, for the log.
func (in *Instance) ReloadHosts() (reloaded []string, err error) {
	var errs []error
	for _, hi := range in.hosts {
		if hi.certs != nil {
			if _, err := hi.certs.load(); err != nil {
				errs = append(errs, fmt.Errorf("host %s: tls: %w", hi.name, err))
			} else {
				reloaded = append(reloaded, "certificate of host "+hi.name)
			}
		}
		if hi.file != nil {
			if err := hi.file.users.Reload(); err != nil {
				errs = append(errs, fmt.Errorf("host %s: users file: %w", hi.name, err))
			} else {
				reloaded = append(reloaded, "users file of host "+hi.name)
			}
		}
	}
	return reloaded, errors.Join(errs...)
}

// HostCertificate returns the certificate new handshakes for the named
// host present, or nil when it has none of its own.
func (in *Instance) HostCertificate(name string) *tls.Certificate {
	for _, hi := range in.hosts {
		if hi.name == name && hi.certs != nil {
			return hi.certs.current.Load()
		}
	}
	return nil
}

func (in *Instance) closeHosts() {
	for _, hi := range in.hosts {
		if hi.owned != nil {
			hi.owned.Close()
		}
	}
	in.hosts = nil
}
