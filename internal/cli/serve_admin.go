package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/auth/postgres"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/admin"
	"github.com/ferry-ftp/ferry/internal/config"
)

// adminFlags are "ferry serve"'s flags for the admin HTTP server.
type adminFlags struct {
	listen    string
	tokenFile string
}

func (a *adminFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&a.listen, "admin-listen", "", `address of the admin HTTP server (metrics, API, dashboard), such as "127.0.0.1:8021"`)
	fl.StringVar(&a.tokenFile, "admin-token-file", "", `file holding the admin API token, as [admin] token_file; "ferry admin token" makes one`)
}

func (a *adminFlags) apply(flags *pflag.FlagSet, cfg *config.Config) error {
	if flags.Changed("admin-listen") {
		cfg.Admin.Listen = a.listen
	}
	if flags.Changed("admin-token-file") {
		abs, err := filepath.Abs(a.tokenFile)
		if err != nil {
			return err
		}
		cfg.Admin.TokenFile = abs
	}
	return nil
}

// adminServer is the running admin HTTP server and what feeds it; a nil
// *adminServer is no admin server, and its methods do nothing.
type adminServer struct {
	http  *admin.Server
	stats *admin.Stats
	users *adminUsers
}

// startAdmin starts the admin server the configuration asks for, and adds
// its observers to observers: set the FTP server's Observer from them
// before it serves. Its session list shows the sessions of srv and of
// sftp (nil when SFTP is off).
func startAdmin(ctx context.Context, cfg *config.Config, srv *ftpserver.Server, sftp *sftpService, logger *slog.Logger, observers *[]ftpserver.Observer) (*adminServer, error) {
	if cfg.Admin.Listen == "" {
		return nil, nil
	}
	token, err := admin.LoadToken(cfg.Admin.TokenFile)
	if err != nil {
		return nil, err
	}
	users, err := openAdminUsers(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sessions := []admin.SessionSource{srv}
	if sftp != nil {
		sessions = append(sessions, sftp.srv)
	}
	a := &adminServer{stats: admin.NewStats(context.WithoutCancel(ctx), sessions...), users: users}
	metrics := admin.NewMetrics(srv, "", sessions[1:]...)
	opts := admin.Options{
		Server:      srv,
		Sessions:    sessions,
		Token:       token,
		Metrics:     metrics,
		MetricsAuth: cfg.Admin.MetricsAuth,
		Stats:       a.stats,
		Logger:      logger.With("component", "admin"),
	}
	if users != nil {
		opts.Users = users
	}
	if a.http, err = admin.Listen(cfg.Admin.Listen, admin.Handler(opts), logger); err != nil {
		a.close()
		return nil, err
	}
	*observers = append(*observers, metrics, a.stats)
	return a, nil
}

// printWelcome tells the operator where the dashboard is.
func (a *adminServer) printWelcome(env Env) {
	if a == nil {
		return
	}
	host, port, _ := net.SplitHostPort(a.http.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	fmt.Fprintf(env.Stdout, "ferry: admin dashboard, API and metrics at http://%s/\n", net.JoinHostPort(host, port))
}

// close stops the admin server, giving requests in progress a moment.
func (a *adminServer) close() {
	if a == nil {
		return
	}
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		a.http.Shutdown(ctx)
		cancel()
	}
	a.stats.Close()
	if a.users != nil {
		a.users.store.Close()
	}
}

// adminPasswordAlgorithm hashes the passwords the admin API sets, as
// "ferry user" does by default; tests choose the quicker bcrypt.
var adminPasswordAlgorithm = auth.Argon2id

// adminUsers is the configured users file or database as the admin API's
// account store.
type adminUsers struct {
	store userStore
	// file is the users file, nil for the database. It is read again
	// before each call, so that edits made meanwhile by "ferry user" are
	// kept, and mu makes the API's own edits one at a time.
	file *auth.UsersFile
	mu   sync.Mutex
}

// openAdminUsers opens the store the server's accounts come from; nil
// when there is none (only --user, or anonymous).
func openAdminUsers(ctx context.Context, cfg *config.Config) (*adminUsers, error) {
	switch {
	case cfg.UsersDB != "":
		store, err := postgres.Open(ctx, cfg.UsersDB, postgres.Options{MaxConns: 2, Algorithm: adminPasswordAlgorithm})
		if err != nil {
			return nil, err
		}
		return &adminUsers{store: dbStore{store}}, nil
	case cfg.UsersFile != "":
		file, err := auth.LoadUsers(cfg.UsersFile)
		if err != nil {
			return nil, err
		}
		file.Algorithm = adminPasswordAlgorithm
		return &adminUsers{store: fileUsers{file}, file: file}, nil
	}
	return nil, nil
}

// fresh locks the store and, for a users file, reads it again.
func (u *adminUsers) fresh() (unlock func(), err error) {
	u.mu.Lock()
	if u.file != nil {
		if err := u.file.Reload(); err != nil {
			u.mu.Unlock()
			return nil, err
		}
	}
	return u.mu.Unlock, nil
}

func (u *adminUsers) List(ctx context.Context) ([]admin.User, error) {
	unlock, err := u.fresh()
	if err != nil {
		return nil, err
	}
	defer unlock()
	list, err := u.store.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.User, len(list))
	for i, a := range list {
		out[i] = admin.User{Name: a.Name, Home: a.Home, Write: a.Write, Disabled: a.Disabled, QuotaBytes: a.QuotaBytes, QuotaFiles: a.QuotaFiles}
	}
	return out, nil
}

func (u *adminUsers) Add(ctx context.Context, nu admin.NewUser) error {
	unlock, err := u.fresh()
	if err != nil {
		return err
	}
	defer unlock()
	return u.store.AddUser(ctx, auth.User{Name: nu.Name, Home: nu.Home, Write: nu.Write}, nu.Password)
}

func (u *adminUsers) SetPassword(ctx context.Context, name, password string) error {
	unlock, err := u.fresh()
	if err != nil {
		return err
	}
	defer unlock()
	return u.store.SetPassword(ctx, name, password)
}

func (u *adminUsers) Delete(ctx context.Context, name string) error {
	unlock, err := u.fresh()
	if err != nil {
		return err
	}
	defer unlock()
	return u.store.Delete(ctx, name)
}
