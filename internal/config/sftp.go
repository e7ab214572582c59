package config

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/sftpserver"
)

// SFTP is the [sftp] table: SFTP over SSH on the same accounts, homes and
// limits as FTP.
type SFTP struct {
	// Listen is the SSH listener's address (":2022"); empty: no SFTP.
	Listen string `toml:"listen"`
	// HostKeyFile is the server's SSH private key. Empty: a key made at
	// the first start in the state directory (see HostKeyDefault).
	HostKeyFile string `toml:"host_key_file"`
	// AllowAnonymous lets the [anonymous] account log in over SFTP too.
	AllowAnonymous bool `toml:"allow_anonymous"`
	// Ciphers are the SSH ciphers offered, in preference order; empty:
	// sftpserver.DefaultCiphers().
	Ciphers []string `toml:"ciphers"`
}

// HostKeyName is the file name of a host key made at the first start.
const HostKeyName = "ssh_host_ed25519_key"

// validateSFTP checks the [sftp] table.
func (c *Config) validateSFTP(bad func(key, format string, args ...any)) {
	if len(c.SFTP.Ciphers) > 0 {
		if err := sftpserver.CheckCiphers(c.SFTP.Ciphers); err != nil {
			bad("sftp.ciphers", "%v", err)
		}
	}
	if c.SFTP.Listen == "" {
		return
	}
	if err := checkListenAddr(c.SFTP.Listen); err != nil {
		bad("sftp.listen", "%v", err)
	}
	if _, port, _ := net.SplitHostPort(c.SFTP.Listen); c.SFTP.Listen == c.Listen && port != "0" {
		bad("sftp.listen", "is the FTP listen address too (%s)", c.Listen)
	}
}

// HostKeyDefault is where a host key is kept when host_key_file is unset:
// the state directory systemd gives the service ($STATE_DIRECTORY),
// else the directory of the configuration file (configDir, when there is
// one), else the user's state directory ($XDG_STATE_HOME/ferry, or
// ~/.local/state/ferry).
func HostKeyDefault(getenv func(string) string, configDir string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if dir := getenv("STATE_DIRECTORY"); dir != "" {
		// systemd may list several, colon-separated: the first is ours.
		dir, _, _ = strings.Cut(dir, ":")
		return filepath.Join(dir, HostKeyName), nil
	}
	if configDir != "" {
		return filepath.Join(configDir, HostKeyName), nil
	}
	if dir := getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "ferry", HostKeyName), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no place for the SSH host key: set sftp.host_key_file (%w)", err)
	}
	return filepath.Join(home, ".local", "state", "ferry", HostKeyName), nil
}

// BuildSFTP returns the SFTP server of the [sftp] table, sharing inst's
// logins, Defender and limits; nil when sftp.listen is empty. Without
// host_key_file the key at defaultKey is used, made first if it does not
// exist yet (logged with its fingerprint). Set its Observer as the FTP
// server's.
func (c *Config) BuildSFTP(inst *Instance, logger *slog.Logger, defaultKey string) (*sftpserver.Server, error) {
	if c.SFTP.Listen == "" {
		return nil, nil
	}
	if logger == nil {
		logger = slog.Default()
	}
	ftp := inst.Server
	upload, _ := ftpserver.ParseUploadMode(c.UploadMode) // validated
	srv := &sftpserver.Server{
		Auth:                ftp.Auth,
		AllowAnonymous:      c.SFTP.AllowAnonymous,
		Upload:              upload,
		LoginTimeout:        c.LoginTimeout.Duration,
		IdleTimeout:         c.IdleTimeout.Duration,
		LoginFailDelay:      ftp.LoginFailDelay,
		MaxSessions:         c.MaxSessions,
		MaxSessionsPerIP:    ftp.MaxSessionsPerIP,
		MaxLoginChecksPerIP: ftp.MaxLoginChecksPerIP,
		MaxHashSize:         ftp.MaxHashSize,
		UploadHeapRoom:      sftpserver.DefaultUploadHeapRoom,
		Ciphers:             c.SFTP.Ciphers,
		Logger:              logger,
		Defender:            ftp.Defender,
	}
	if keyFile := c.SFTP.HostKeyFile; keyFile != "" {
		key, err := sftpserver.LoadHostKey(keyFile)
		if err != nil {
			return nil, fmt.Errorf("sftp.host_key_file: %w", err)
		}
		srv.HostKeys = append(srv.HostKeys, key)
		return srv, nil
	}
	key, made, err := sftpserver.LoadOrMakeHostKey(defaultKey)
	if err != nil {
		return nil, fmt.Errorf("sftp host key (set sftp.host_key_file to choose one): %w", err)
	}
	if made {
		logger.Info("made a new SSH host key", "file", defaultKey, "fingerprint", sftpserver.Fingerprint(key.PublicKey()))
	}
	srv.HostKeys = append(srv.HostKeys, key)
	return srv, nil
}

// AuthenticatePublicKey logs user in over SFTP by one of the users
// store's authorized_keys. Anonymous names and the --user account (which
// has no keys) never log in so.
func (a *authenticator) AuthenticatePublicKey(ctx context.Context, conn ftpserver.ConnInfo, user string, key []byte) (*ftpserver.Account, error) {
	if strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp") {
		return nil, fmt.Errorf("%w: no key login for anonymous", ftpserver.ErrAuthFailed)
	}
	u, err := a.lookupEnabled(ctx, user)
	if err != nil {
		return nil, err
	}
	if !u.HasAuthorizedKey(key) {
		return nil, fmt.Errorf("%w: key not authorized", ftpserver.ErrAuthFailed)
	}
	return a.userAccount(ctx, u)
}
