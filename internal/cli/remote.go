package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/ferry-ftp/ferry/ftpclient"
)

// remoteFlags are the connection flags every client command shares.
type remoteFlags struct {
	user     string
	active   bool
	insecure bool
	caFile   string
	netrc    string
	timeout  time.Duration
	debug    bool
	vhost    string
	compress bool // MODE Z when offered (compress.go)
	ssh      sshFlags
	withFTP  bool // an FTP server takes part too: its flags are no mistake
}

func (f *remoteFlags) register(fl *pflag.FlagSet) {
	fl.StringVarP(&f.user, "user", "u", "", `login as USER[:PASSWORD] (else from the URL, ~/.netrc, or anonymous)`)
	fl.BoolVar(&f.active, "active", false, "active mode: the server connects back (EPRT/PORT)")
	fl.BoolVarP(&f.insecure, "insecure", "k", false, "do not verify the server's TLS certificate")
	fl.StringVar(&f.caFile, "ca", "", "trust the CA certificates in this PEM file for TLS")
	fl.StringVar(&f.netrc, "netrc-file", "", "netrc file for credentials (default ~/.netrc)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "connect and reply timeout")
	fl.BoolVar(&f.debug, "debug", false, "print the FTP conversation (passwords masked), or for sftp:// the SSH connection and each SFTP operation, on stderr")
	fl.StringVar(&f.vhost, "vhost", "", "send HOST NAME before login: the virtual host (RFC 7151) of a server that serves several names, such as the URL's host")
	f.ssh.register(fl)
}

// remoteURL is a parsed ftp://, ftpes://, ftps:// or sftp:// URL.
type remoteURL struct {
	Scheme  string // "ftp", "ftpes" (explicit TLS), "ftps" (implicit TLS) or "sftp"
	Host    string // host without port
	Port    string
	User    string // "" when the URL names none
	Pass    string
	HasPass bool
	// Path is the URL's path, decoded, as the client takes it: relative
	// to the login directory ("" for it), or absolute. See
	// parseRemoteURL for how each scheme reads a URL's path.
	Path string
}

// isRemote reports whether arg is an FTP or SFTP URL rather than a local
// path.
func isRemote(arg string) bool {
	scheme, _, ok := strings.Cut(arg, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "ftp", "ftpes", "ftps", "sftp":
		return true
	}
	return false
}

// parseRemoteURL parses an FTP or SFTP URL. An FTP URL's path is taken
// relative to the login directory, as RFC 1738 says ("ftp://host/a" names
// "a" in the home; "ftp://host//srv/a" names the absolute "/srv/a"). An
// SFTP URL's path is absolute, as curl and the secsh URI draft read it,
// except below "/~/", the login directory (sftpPath).
func parseRemoteURL(raw string) (*remoteURL, error) {
	if !isRemote(raw) {
		return nil, fmt.Errorf("%q is not an ftp://, ftpes://, ftps:// or sftp:// URL", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %w", raw, err)
	}
	r := &remoteURL{Scheme: strings.ToLower(u.Scheme), Host: u.Hostname(), Port: u.Port()}
	if r.Host == "" {
		return nil, fmt.Errorf("URL %q has no host", raw)
	}
	if _, err := netip.ParseAddr(r.Host); err != nil && strings.Contains(r.Host, ":") {
		// url.Parse lets "sftp://::" through with the host ":".
		return nil, fmt.Errorf("URL %q has a malformed host %q", raw, r.Host)
	}
	if r.Port == "" {
		switch r.Scheme {
		case "ftps":
			r.Port = "990"
		case "sftp":
			r.Port = "22"
		default:
			r.Port = "21"
		}
	}
	if u.User != nil {
		r.User = u.User.Username()
		r.Pass, r.HasPass = u.User.Password()
	}
	r.Path = strings.TrimPrefix(u.Path, "/")
	if r.Scheme == "sftp" {
		r.Path = sftpPath(u.Path)
	}
	return r, nil
}

// Addr is host:port for dialing.
func (r *remoteURL) Addr() string { return net.JoinHostPort(r.Host, r.Port) }

// resolve turns the URL path into the path the client uses: relative paths
// are resolved by ftpclient against the login directory.
func (r *remoteURL) resolve() string {
	if r.Path == "" {
		return "."
	}
	return r.Path
}

// String is the URL without the password.
func (r *remoteURL) String() string {
	if r.Scheme == "sftp" {
		return r.sftpString()
	}
	u := url.URL{Scheme: r.Scheme, Host: r.Addr(), Path: "/" + r.Path}
	if r.User != "" {
		u.User = url.User(r.User)
	}
	return u.String()
}

// join returns a copy of r naming p below r's path.
func (r *remoteURL) join(p string) *remoteURL {
	c := *r
	if c.Path == "" {
		c.Path = p
	} else {
		c.Path = path.Join(c.Path, p)
	}
	return &c
}

// credentials picks the login: the URL, then --user, then netrc, else
// anonymous. A user without a password is prompted for one on a terminal.
func (f *remoteFlags) credentials(ctx context.Context, env Env, r *remoteURL) (user, pass string, err error) {
	user, pass = r.User, r.Pass
	hasPass := r.HasPass
	if user == "" && f.user != "" {
		user, pass, hasPass = strings.Cut(f.user, ":")
	}
	if user == "" || !hasPass {
		if m, ok := f.lookupNetrc(r.Host, user); ok {
			if user == "" {
				user = m.login
			}
			if user == m.login {
				pass, hasPass = m.password, true
			}
		}
	}
	switch {
	case user == "":
		return "anonymous", "ferry@", nil
	case hasPass:
		return user, pass, nil
	case strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp"):
		return user, "ferry@", nil
	}
	tty, ok := env.Stdin.(interface{ Fd() uintptr })
	if !ok || !term.IsTerminal(int(tty.Fd())) {
		return "", "", fmt.Errorf("no password for %s: give it in the URL, --user %s:PASSWORD or ~/.netrc", user, user)
	}
	p, err := promptPassword(ctx, env, int(tty.Fd()), fmt.Sprintf("Password for %s@%s: ", user, r.Host))
	return user, p, err
}

func (f *remoteFlags) lookupNetrc(host, user string) (netrcMachine, bool) {
	file := f.netrc
	if file == "" {
		if v := os.Getenv("NETRC"); v != "" {
			file = v
		} else if home, err := os.UserHomeDir(); err == nil {
			file = filepath.Join(home, ".netrc")
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return netrcMachine{}, false
	}
	return findNetrc(parseNetrc(string(data)), host, user)
}

// tlsConfig builds the client TLS configuration from the flags.
func (f *remoteFlags) tlsConfig(host string) (*tls.Config, error) {
	conf := &tls.Config{ServerName: host, InsecureSkipVerify: f.insecure, MinVersion: tls.VersionTLS12}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", f.caFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// dial connects and logs in to the server r names, with a pool of up to
// poolSize control connections.
func (f *remoteFlags) dial(ctx context.Context, env Env, r *remoteURL, poolSize int) (*ftpclient.Client, error) {
	if r.Scheme == "sftp" {
		return nil, fmt.Errorf("%s: this command speaks FTP only, not SFTP", r)
	}
	user, pass, err := f.credentials(ctx, env, r)
	if err != nil {
		return nil, err
	}
	opts := []ftpclient.Option{
		ftpclient.WithLogin(user, pass),
		ftpclient.WithActive(f.active),
		ftpclient.WithTimeout(f.timeout),
		ftpclient.WithPoolSize(max(poolSize, 1)),
		ftpclient.WithKeepAlive(30 * time.Second),
		ftpclient.WithCompression(f.compress),
	}
	if f.debug {
		opts = append(opts, ftpclient.WithDebug(env.Stderr))
	}
	tlsName := r.Host
	if f.vhost != "" {
		opts = append(opts, ftpclient.WithHost(f.vhost))
		tlsName = "" // the virtual host's name: its certificate is presented
	}
	switch r.Scheme {
	case "ftpes", "ftps":
		conf, err := f.tlsConfig(tlsName)
		if err != nil {
			return nil, err
		}
		if r.Scheme == "ftps" {
			opts = append(opts, ftpclient.WithImplicitTLS(conf))
		} else {
			opts = append(opts, ftpclient.WithTLS(conf))
		}
	}
	dctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	// ftpclient's errors already name the address.
	return ftpclient.Dial(dctx, r.Addr(), opts...)
}

// netrcMachine is one "machine" (or "default") entry of a netrc file.
type netrcMachine struct {
	name, login, password string
	isDefault             bool
}

// parseNetrc reads the netrc format (ftp(1), curl): whitespace-separated
// tokens "machine NAME login USER password PASS", "default", and
// "macdef NAME" whose body runs to an empty line and is skipped.
func parseNetrc(text string) []netrcMachine {
	var out []netrcMachine
	var cur *netrcMachine
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		fields := strings.Fields(lines[i])
		for j := 0; j < len(fields); j++ {
			next := func() string {
				if j+1 < len(fields) {
					j++
					return fields[j]
				}
				return ""
			}
			switch fields[j] {
			case "machine":
				out = append(out, netrcMachine{name: next()})
				cur = &out[len(out)-1]
			case "default":
				out = append(out, netrcMachine{isDefault: true})
				cur = &out[len(out)-1]
			case "login":
				if cur != nil {
					cur.login = next()
				}
			case "password", "passwd":
				if cur != nil {
					cur.password = next()
				}
			case "account":
				next()
			case "macdef":
				// Skip the macro body: up to the next empty line.
				for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
					i++
				}
				j = len(fields)
			}
		}
	}
	return out
}

// findNetrc returns the entry for host (and user, when given), falling back
// to "default".
func findNetrc(entries []netrcMachine, host, user string) (netrcMachine, bool) {
	var def *netrcMachine
	for i, m := range entries {
		if m.isDefault {
			if def == nil {
				def = &entries[i]
			}
			continue
		}
		if strings.EqualFold(m.name, host) && (user == "" || m.login == user) {
			return m, true
		}
	}
	if def != nil && (user == "" || def.login == user) {
		return *def, true
	}
	return netrcMachine{}, false
}
