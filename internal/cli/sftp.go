package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/user"
	"path"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/sftpclient"
)

// SFTP specifics of the client commands: sftp:// URLs, the SSH flags,
// dialing. The commands themselves work on remoteClient.

var _ remoteClient = (*sftpclient.Client)(nil)

// sshFlags are the SSH connection flags.
type sshFlags struct {
	knownHosts string
	acceptNew  bool
	identities []string
}

func (f *sshFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.knownHosts, "known-hosts", "", "sftp://: the known_hosts `FILE` checked and written (default ~/.ssh/known_hosts)")
	fl.BoolVar(&f.acceptNew, "accept-new-host-key", false, "sftp://: trust an unknown host's key and add it to known_hosts (OpenSSH's StrictHostKeyChecking=accept-new); a changed key is still refused")
	fl.StringArrayVarP(&f.identities, "identity", "i", nil, "sftp://: log in with the private key in `FILE` (repeatable; default ~/.ssh/id_ed25519, id_ecdsa, id_rsa and ssh-agent's keys)")
}

// sftpPath is the client path of an sftp:// URL's path, as curl and the
// secsh URI draft read it: absolute, except that "/~/x" is x in the
// login directory. No path at all is the login directory too.
func sftpPath(urlPath string) string {
	switch {
	case urlPath == "" || urlPath == "/~":
		return ""
	case strings.HasPrefix(urlPath, "/~/"):
		return urlPath[len("/~/"):]
	}
	return urlPath
}

// sftpURLPath is the inverse of sftpPath, for showing a URL.
func sftpURLPath(p string) string {
	if path.IsAbs(p) {
		return p
	}
	return "/~/" + p
}

// sftpUnsupported names the flags that mean nothing over SSH, unless
// they are for the FTP side of a copy (withFTP).
func (f *remoteFlags) sftpUnsupported() error {
	if f.withFTP {
		return nil
	}
	var bad []string
	if f.active {
		bad = append(bad, "--active")
	}
	if f.compress {
		bad = append(bad, "--compress")
	}
	if f.vhost != "" {
		bad = append(bad, "--vhost")
	}
	if f.caFile != "" {
		bad = append(bad, "--ca")
	}
	if f.insecure {
		bad = append(bad, "--insecure")
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s: FTP-only, no meaning for sftp:// (SSH checks the host key against known_hosts; see --known-hosts)", strings.Join(bad, ", "))
}

// dialAny connects to the server r names, FTP or SFTP.
func (f *remoteFlags) dialAny(ctx context.Context, env Env, r *remoteURL, poolSize int) (remoteClient, error) {
	if r.Scheme != "sftp" {
		c, err := f.dial(ctx, env, r, poolSize)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := f.dialSFTP(ctx, env, r)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// dialSFTP logs in to the SFTP server r names: with the password the URL,
// --user or netrc give, the identities (-i, else OpenSSH's defaults), the
// agent's keys, or a password typed at the terminal.
func (f *remoteFlags) dialSFTP(ctx context.Context, env Env, r *remoteURL) (*sftpclient.Client, error) {
	if err := f.sftpUnsupported(); err != nil {
		return nil, err
	}
	cfg := &sftpclient.Config{
		User:           r.User,
		KnownHostsFile: f.ssh.knownHosts,
		Agent:          true,
		Timeout:        f.timeout,
		HostKeyAdded: func(host string, key ssh.PublicKey, file string) {
			fmt.Fprintf(env.Stderr, "ferry: permanently added %s (%s) to %s\n", host, ssh.FingerprintSHA256(key), file)
		},
	}
	if f.ssh.acceptNew {
		cfg.HostKeyPolicy = sftpclient.AcceptNew
	}
	if f.debug {
		cfg.Debug = env.Stderr
	}
	pass, hasPass := r.Pass, r.HasPass
	if cfg.User == "" && f.user != "" {
		cfg.User, pass, hasPass = strings.Cut(f.user, ":")
	}
	if cfg.User == "" || !hasPass {
		if m, ok := f.lookupNetrc(r.Host, cfg.User); ok && !m.isDefault {
			if cfg.User == "" {
				cfg.User = m.login
			}
			if cfg.User == m.login {
				pass, hasPass = m.password, true
			}
		}
	}
	if cfg.User == "" {
		// As ssh: the local user's name.
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("no user to log in as: give one in the URL or with --user: %w", err)
		}
		cfg.User = u.Username
	}
	tty, onTerminal := env.Stdin.(interface{ Fd() uintptr })
	onTerminal = onTerminal && term.IsTerminal(int(tty.Fd()))
	switch {
	case hasPass:
		cfg.Password = pass
	case onTerminal:
		cfg.PasswordCallback = func() (string, error) {
			return promptPassword(ctx, env, int(tty.Fd()), fmt.Sprintf("%s@%s's password: ", cfg.User, r.Host))
		}
	}
	var passphrase sftpclient.PassphraseFunc
	if onTerminal {
		passphrase = func(file string) ([]byte, error) {
			p, err := promptPassword(ctx, env, int(tty.Fd()), fmt.Sprintf("Enter passphrase for key '%s': ", file))
			return []byte(p), err
		}
	}
	var skipped []error
	if len(f.ssh.identities) > 0 {
		for _, file := range f.ssh.identities {
			s, err := sftpclient.LoadIdentity(file, passphrase)
			if err != nil {
				return nil, fmt.Errorf("identity %w", err)
			}
			cfg.Signers = append(cfg.Signers, s)
		}
	} else {
		cfg.Signers, skipped = sftpclient.LoadDefaultIdentities(passphrase)
	}
	// cfg.Timeout bounds the login, without the time the prompts take.
	c, err := sftpclient.Dial(ctx, r.Addr(), cfg)
	if errors.Is(err, sftpclient.ErrUnknownHost) {
		err = fmt.Errorf("%w\n(with --accept-new-host-key ferry trusts it and adds it to known_hosts)", err)
	}
	if errors.Is(err, sftpclient.ErrAuthFailed) {
		// Tell why keys the user may count on were not offered.
		for _, s := range skipped {
			err = fmt.Errorf("%w; not offered: %w", err, s)
		}
		if !hasPass && !onTerminal {
			err = fmt.Errorf("%w; no password to offer: give it in the URL, --user %s:PASSWORD or ~/.netrc", err, cfg.User)
		}
	}
	return c, err
}

// sftpString is the sftp:// URL of r, without the password.
func (r *remoteURL) sftpString() string {
	u := url.URL{Scheme: r.Scheme, Host: r.Addr(), Path: sftpURLPath(r.Path)}
	if r.User != "" {
		u.User = url.User(r.User)
	}
	return u.String()
}

// sftpHas answers hasFeature for an SFTP server, in FTP's words: every
// SFTP server reads and writes at offsets (REST) and sets times (MFMT,
// through setstat).
func sftpHas(name string) bool {
	switch strings.ToUpper(name) {
	case "REST", "MFMT", "MDTM", "SIZE":
		return true
	}
	return false
}

// ftpOnly returns c as an FTP client, or nil when it speaks SFTP.
func ftpOnly(c remoteClient) *ftpclient.Client {
	fc, _ := c.(*ftpclient.Client)
	return fc
}
