package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/config"
)

func init() { register(newServeCommand) }

type serveFlags struct {
	configFile   string
	listen       string
	root         string
	write        bool
	user         string
	password     string
	passivePorts string
	publicHost   string
	grace        time.Duration
	verbose      bool
}

func newServeCommand(env Env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the FTP server",
		Long: `Run the FTP server.

With no flags it serves the current directory on port 2121 to anonymous
users, read-only. --user/--password add one account whose home is the
root (and turn anonymous access off); --write lets that account (or
anonymous users, when there is no account) change files. A configuration
file (--config) sets everything else; flags override it.

SIGTERM or Ctrl-C stops accepting connections and lets running transfers
finish within the grace period; a second signal exits at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, env, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.configFile, "config", "", "configuration file (TOML)")
	fl.StringVar(&f.listen, "listen", "", `address to listen on (default ":2121")`)
	fl.StringVar(&f.root, "root", "", `directory to serve (default ".")`)
	fl.BoolVar(&f.write, "write", false, "allow uploads, deletes and renames")
	fl.StringVar(&f.user, "user", "", "name of a single account whose home is the root")
	fl.StringVar(&f.password, "password", "", "password of the --user account")
	fl.StringVar(&f.passivePorts, "passive-ports", "", `passive port range "LO-HI" (default "50000-50100")`)
	fl.StringVar(&f.publicHost, "public-host", "", "IPv4 address or host name announced in PASV replies (behind NAT)")
	fl.DurationVar(&f.grace, "grace", 30*time.Second, "how long running transfers may go on after a stop signal")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log each session's opening and closing too")
	return cmd
}

func runServe(cmd *cobra.Command, env Env, f *serveFlags) error {
	var cfg *config.Config
	if f.configFile != "" {
		var err error
		if cfg, err = config.Load(f.configFile); err != nil {
			return err
		}
	} else {
		cfg = config.Default()
	}
	flags := cmd.Flags()
	if flags.Changed("listen") {
		cfg.Listen = f.listen
	}
	if flags.Changed("root") {
		cfg.Root = f.root
	}
	if flags.Changed("passive-ports") {
		cfg.PassivePorts = f.passivePorts
	}
	if flags.Changed("public-host") {
		cfg.PublicHost = f.publicHost
	}
	if (f.user == "") != (f.password == "") {
		return errors.New("--user and --password go together")
	}
	if f.user != "" {
		cfg.Account = &config.Account{Name: f.user, Password: f.password, Write: f.write}
		if f.configFile == "" {
			cfg.Anonymous.Enabled = false
		}
	} else if flags.Changed("write") {
		cfg.Anonymous.Write = f.write
	}

	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	inst, err := cfg.Build(logger)
	if err != nil {
		return err
	}
	defer inst.Close()
	srv := inst.Server

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	printWelcome(env, cfg, ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ctx := cmd.Context()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down; waiting for running transfers", "grace", f.grace)
	sctx, cancel := context.WithTimeout(context.Background(), f.grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("grace period over; closed remaining sessions")
	}
	if err := <-errc; !errors.Is(err, ftpserver.ErrServerClosed) {
		return err
	}
	return nil
}

// printWelcome tells the operator where the server listens and how to log
// in, as pyftpdlib does.
func printWelcome(env Env, cfg *config.Config, addr net.Addr) {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "ftp://" + net.JoinHostPort(host, port)
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		root = cfg.Root
	}
	fmt.Fprintf(env.Stdout, "ferry: serving %s on %s\n", root, addr)
	if cfg.Account != nil {
		access := "read-only"
		if cfg.Account.Write {
			access = "read-write"
		}
		fmt.Fprintf(env.Stdout, "  log in as %q with the given password (%s): ftp://%s@%s/\n", cfg.Account.Name, access, cfg.Account.Name, net.JoinHostPort(host, port))
	}
	if cfg.Anonymous.Enabled {
		access := "read-only"
		if cfg.Anonymous.Write {
			access = "read-write"
		} else if cfg.Anonymous.UploadDir != "" {
			access = "read-only, uploads to " + cfg.Anonymous.UploadDir
		}
		fmt.Fprintf(env.Stdout, "  anonymous login (user \"anonymous\", any password; %s): %s/\n", access, url)
	}
	if cfg.UsersFile != "" {
		fmt.Fprintf(env.Stdout, "  accounts from %s\n", cfg.UsersFile)
	}
	fmt.Fprintf(env.Stdout, "  try: curl %s/   or   lftp %s\n", url, url)
}
