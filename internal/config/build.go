package config

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// Build validates c and returns a server configured by it, not yet
// serving, and a cleanup function that releases what the server's
// accounts hold open (directory handles); call it after the server has
// stopped.
func (c *Config) Build(logger *slog.Logger) (*ftpserver.Server, func() error, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	ports, _ := parsePortRange(c.PassivePorts)           // validated
	upload, _ := ftpserver.ParseUploadMode(c.UploadMode) // validated

	homes := &homeCache{open: map[string]*localfs.FS{}}
	fail := func(err error) (*ftpserver.Server, func() error, error) {
		homes.Close()
		return nil, nil, err
	}
	a := &authenticator{logger: logger, homes: homes}
	if c.Anonymous.Enabled {
		fsys, err := homes.get(c.anonymousRoot())
		if err != nil {
			return fail(fmt.Errorf("anonymous root: %w", err))
		}
		a.anonymous = &ftpserver.Account{
			User:      "anonymous",
			Anonymous: true,
			FS:        fsys,
			Write:     c.Anonymous.Write,
			UploadDir: c.Anonymous.UploadDir,
		}
		if c.Anonymous.Write && c.Anonymous.UploadDir != "" {
			logger.Warn("anonymous.upload_dir has no effect when anonymous.write is true")
		}
	}
	if c.Account != nil {
		fsys, err := homes.get(c.Root)
		if err != nil {
			return fail(fmt.Errorf("root: %w", err))
		}
		acct := *c.Account
		a.account = &acct
		a.accountFS = fsys
	}
	if c.UsersFile != "" {
		users, err := auth.LoadUsers(c.UsersFile)
		if err != nil {
			return fail(err)
		}
		if a.account != nil {
			if _, ok := users.Lookup(a.account.Name); ok {
				logger.Warn("the --user account hides the users file's account of the same name", "user", a.account.Name)
			}
		}
		for _, u := range users.List() {
			if err := checkDir(u.Home); err != nil {
				logger.Warn("user cannot log in until the home directory exists", "user", u.Name, "err", err)
			}
		}
		a.users = users
	}

	srv := &ftpserver.Server{
		Addr:             c.Listen,
		Auth:             a,
		PassivePorts:     ports,
		PublicHost:       c.PublicHost,
		AllowFXP:         c.AllowFXP,
		Upload:           upload,
		Banner:           c.Banner,
		IdleTimeout:      c.IdleTimeout.Duration,
		LoginTimeout:     c.LoginTimeout.Duration,
		DataTimeout:      c.DataTimeout.Duration,
		LoginFailDelay:   disableIfZero(c.LoginFailDelay.Duration),
		MaxSessions:      c.MaxSessions,
		MaxSessionsPerIP: c.MaxSessionsPerIP,
		MaxBadCommands:   disableIfZero(c.MaxBadCommands),
		Logger:           logger,
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return fail(fmt.Errorf("tls: %w", err))
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// Refuse rather than silently serve without the protection asked for.
	if c.TLS.Required {
		return fail(errors.New("tls.required: not supported by this version of ferry yet"))
	}
	if c.TLS.ImplicitListen != "" {
		return fail(errors.New("tls.implicit_listen: not supported by this version of ferry yet"))
	}
	return srv, homes.Close, nil
}

// disableIfZero maps the file's "0 means none" to ftpserver's "negative
// disables" (where zero means the default).
func disableIfZero[T ~int | ~int64](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// homeCache opens one localfs per home directory and shares it among the
// sessions of every account with that home; an os.Root is safe for
// concurrent use, and rights live in the Account, not the file system.
type homeCache struct {
	mu     sync.Mutex
	open   map[string]*localfs.FS
	closed bool
}

func (h *homeCache) get(dir string) (*localfs.FS, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("server configuration already cleaned up")
	}
	if fsys, ok := h.open[dir]; ok {
		return fsys, nil
	}
	fsys, err := localfs.New(dir)
	if err != nil {
		return nil, err
	}
	h.open[dir] = fsys
	return fsys, nil
}

// Close closes every file system opened.
func (h *homeCache) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for dir, fsys := range h.open {
		if err := fsys.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dir, err))
		}
	}
	h.open, h.closed = nil, true
	return errors.Join(errs...)
}

// authenticator logs in, in this order: anonymous ("anonymous" or "ftp"
// in any case, any password), the command-line account, the users file.
type authenticator struct {
	logger    *slog.Logger
	anonymous *ftpserver.Account // nil when disabled
	account   *Account           // nil when none
	accountFS ftpserver.FileSystem
	users     *auth.UsersFile // nil when none
	homes     *homeCache
}

func (a *authenticator) Authenticate(ctx context.Context, conn ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
	if strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp") {
		if a.anonymous == nil {
			return nil, fmt.Errorf("%w: anonymous login is disabled", ftpserver.ErrAuthFailed)
		}
		acct := *a.anonymous
		return &acct, nil
	}
	if a.account != nil && equalSecret(user, a.account.Name) {
		if !equalSecret(pass, a.account.Password) {
			return nil, fmt.Errorf("%w: wrong password", ftpserver.ErrAuthFailed)
		}
		return &ftpserver.Account{User: a.account.Name, FS: a.accountFS, Write: a.account.Write}, nil
	}
	if a.users == nil {
		return nil, fmt.Errorf("%w: unknown user", ftpserver.ErrAuthFailed)
	}
	// Pick up "ferry user" edits without a restart; a broken edit keeps
	// the accounts loaded before it.
	if reloaded, err := a.users.ReloadIfChanged(); err != nil {
		a.logger.Warn("users file not reloaded; keeping the accounts loaded before", "err", err)
	} else if reloaded {
		a.logger.Info("users file reloaded", "path", a.users.Path())
	}
	u, err := a.users.Verify(ctx, user, pass)
	if err != nil {
		return nil, err
	}
	fsys, err := a.homes.get(u.Home)
	if err != nil {
		return nil, fmt.Errorf("home of user %q: %w", u.Name, err)
	}
	return &ftpserver.Account{User: u.Name, FS: fsys, Write: u.Write}, nil
}

// equalSecret compares in time independent of where the strings differ
// and of their lengths.
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
