package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/config"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

func init() { register(newServeCommand) }

type serveFlags struct {
	configFile   string
	listen       string
	root         string
	write        bool
	user         string
	password     string
	passwordFile string
	passivePorts string
	publicHost   string
	grace        time.Duration
	verbose      bool
	usersDB      string

	tlsCert           string
	tlsKey            string
	tlsImplicitListen string
	tlsRequired       bool

	xferlog   string
	logFormat string
	admin     adminFlags
	sftp      sftpFlags
}

func newServeCommand(env Env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the FTP server",
		Long: `Run the FTP server.

With no flags it serves the current directory on port 2121 to anonymous
users, read-only. --user adds one account whose home is the root (and
turns anonymous access off); --write lets that account (or anonymous
users, when there is no account) change files. A configuration file
(--config) sets everything else; flags override it.

The --user account's password comes from exactly one of: --password-file
FILE (its first line), the FERRY_PASSWORD environment variable, or
--password. Prefer the first two: a command line, --password included, is
readable by every local user (ps, /proc).

--tls-cert and --tls-key enable FTPS: AUTH TLS on the listen address
(explicit), and with --tls-implicit-listen a second listener that speaks
TLS from the first byte (implicit, ftps:// URLs). "ferry cert" makes a
self-signed pair for testing.

SIGTERM or Ctrl-C stops accepting connections and lets running transfers
finish within the grace period; a second signal exits at once. SIGHUP
reloads the TLS certificate and key and the users file, and reopens the
--xferlog file (after logrotate), without dropping sessions.

--root s3://BUCKET/PREFIX serves the objects under PREFIX/ of an S3
bucket. The endpoint, region and credentials come from the [s3] table of
the configuration, else the AWS environment (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION),
else the AWS shared files of $AWS_PROFILE (~/.aws/credentials and
~/.aws/config). A wrong endpoint, bucket or key stops the start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, env, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.configFile, "config", "", "configuration file (TOML)")
	fl.StringVar(&f.usersDB, "users-db", "", `PostgreSQL accounts ("postgres://..."), as users_db; turns anonymous off unless the config enables it`)
	fl.StringVar(&f.listen, "listen", "", `address to listen on (default ":2121")`)
	fl.StringVar(&f.root, "root", "", `directory, or s3://BUCKET/PREFIX, to serve (default ".")`)
	fl.BoolVar(&f.write, "write", false, "allow uploads, deletes and renames")
	fl.StringVar(&f.user, "user", "", "name of a single account whose home is the root")
	fl.StringVar(&f.passwordFile, "password-file", "", "file whose first line is the --user account's password")
	fl.StringVar(&f.password, "password", "", "password of the --user account; visible to every local user, prefer --password-file or $"+passwordEnv)
	fl.StringVar(&f.passivePorts, "passive-ports", "", `passive port range "LO-HI" (default "50000-50100")`)
	fl.StringVar(&f.publicHost, "public-host", "", "IPv4 address or host name announced in PASV replies (behind NAT)")
	fl.DurationVar(&f.grace, "grace", 30*time.Second, "how long running transfers may go on after a stop signal")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log each session's opening and closing too")
	fl.StringVar(&f.tlsCert, "tls-cert", "", `certificate file (PEM) for FTPS; "ferry cert" makes one for testing`)
	fl.StringVar(&f.tlsKey, "tls-key", "", "private key file (PEM) of --tls-cert")
	fl.StringVar(&f.tlsImplicitListen, "tls-implicit-listen", "", `address for implicit FTPS as well, such as ":990"`)
	fl.BoolVar(&f.tlsRequired, "tls-required", false, "refuse logins and data connections without TLS")
	addLoggingFlags(fl, &f)
	f.admin.add(fl)
	f.sftp.add(fl)
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
	if flags.Changed("tls-cert") {
		cfg.TLS.CertFile = f.tlsCert
	}
	if flags.Changed("tls-key") {
		cfg.TLS.KeyFile = f.tlsKey
	}
	if flags.Changed("tls-implicit-listen") {
		cfg.TLS.ImplicitListen = f.tlsImplicitListen
	}
	if flags.Changed("tls-required") {
		cfg.TLS.Required = f.tlsRequired
	}
	if err := applyLoggingFlags(flags, f, cfg); err != nil {
		return err
	}
	if flags.Changed("users-db") {
		cfg.UsersDB = f.usersDB
		// As users_db in a file that leaves [anonymous] enabled unset.
		if f.configFile == "" {
			cfg.Anonymous.Enabled = false
		}
	}
	if err := f.admin.apply(flags, cfg); err != nil {
		return err
	}
	f.sftp.apply(flags, cfg)
	password, err := userPassword(env, flags, f)
	if err != nil {
		return err
	}
	if (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == "") && (flags.Changed("tls-cert") || flags.Changed("tls-key")) {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if cfg.TLS.CertFile == "" && (f.tlsRequired || f.tlsImplicitListen != "") {
		return errors.New("--tls-required and --tls-implicit-listen need a certificate: --tls-cert and --tls-key")
	}
	if f.user != "" {
		cfg.Account = &config.Account{Name: f.user, Password: password, Write: f.write}
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
	logOut := newLogWriter(env.Stderr, 100*time.Millisecond)
	defer logOut.Close()
	handler, err := config.NewLogHandler(cfg.LogFormat, logOut, &slog.HandlerOptions{Level: level})
	if err != nil {
		return err
	}
	logger := slog.New(handler)
	inst, err := cfg.Build(logger)
	if err != nil {
		return err
	}
	defer inst.Close()
	srv := inst.Server
	// Observers of the server's events, each part adding its own.
	var observers []ftpserver.Observer
	transferLog, err := cfg.OpenXferlog(logger)
	if err != nil {
		return err
	}
	if transferLog != nil {
		defer transferLog.Close() // after Shutdown: the last transfers' lines
		observers = append(observers, transferLog)
	}
	// Before the admin server, which lists the SFTP sessions too.
	sftpSvc, err := startSFTP(cfg, inst, logger, f.configFile)
	if err != nil {
		return err
	}
	defer sftpSvc.close()
	adm, err := startAdmin(cmd.Context(), cfg, srv, sftpSvc, logger, &observers)
	if err != nil {
		return err
	}
	defer adm.close()
	if len(observers) > 0 {
		srv.Observer = ftpserver.MultiObserver(observers...)
	}
	sftpSvc.observe(srv.Observer)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	var implicitLn net.Listener
	if cfg.TLS.ImplicitListen != "" {
		if implicitLn, err = net.Listen("tcp", cfg.TLS.ImplicitListen); err != nil {
			ln.Close()
			return fmt.Errorf("implicit FTPS listener: %w", err)
		}
	}
	// Before the welcome text, so that a SIGHUP sent once the server
	// says it is up reloads rather than kills it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	sftpSvc.printWelcome(env) // before the FTP text, whose last line is "try:"
	printWelcome(env, cfg, inst, ln.Addr(), implicitLn, adm)

	errc := make(chan error, 3)
	serving := 1
	go func() { errc <- srv.Serve(ln) }()
	if implicitLn != nil {
		serving++
		go func() { errc <- srv.ServeTLS(implicitLn) }()
	}
	if sftpSvc != nil {
		serving++
		go sftpSvc.serve(errc)
	}
	ctx := cmd.Context()
	var serveErr error
wait:
	for {
		select {
		case <-hup:
			reloadOnHangup(logger, inst, transferLog)
		case err := <-errc:
			// A listener failed: stop the other one too, gracefully.
			serving--
			serveErr = err
			logger.Error("listener failed; shutting down", "err", err)
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	logger.Info("shutting down; waiting for running transfers", "grace", f.grace)
	sctx, cancel := context.WithTimeout(context.Background(), f.grace)
	defer cancel()
	sftpDone := make(chan error, 1)
	go func() { sftpDone <- sftpSvc.shutdown(sctx) }()
	if err := srv.Shutdown(sctx); err != nil || <-sftpDone != nil {
		logger.Warn("grace period over; closed remaining sessions")
	}
	for ; serving > 0; serving-- {
		if err := <-errc; !errors.Is(err, ftpserver.ErrServerClosed) && serveErr == nil {
			serveErr = err
		}
	}
	return serveErr
}

// passwordEnv names the environment variable that may hold the --user
// account's password: unlike a command line, the environment of a process
// is readable only by its user (and root).
const passwordEnv = "FERRY_PASSWORD"

// maxPasswordFile bounds what --password-file reads: a password is one
// short line, and a wrong path (a log, a device) must not be read whole.
const maxPasswordFile = 64 << 10

// userPassword returns the --user account's password from the one place it
// was given: --password-file, $FERRY_PASSWORD or --password. Two places at
// once are an error rather than a silent choice, so that a stale variable
// never overrides what the operator meant.
func userPassword(env Env, flags *pflag.FlagSet, f *serveFlags) (string, error) {
	envPassword := os.Getenv(passwordEnv)
	var given []string
	if flags.Changed("password-file") {
		given = append(given, "--password-file")
	}
	if envPassword != "" && f.user != "" {
		given = append(given, "$"+passwordEnv)
	}
	if flags.Changed("password") {
		given = append(given, "--password")
	}
	switch {
	case f.user == "" && len(given) > 0:
		return "", fmt.Errorf("%s needs --user: it is the password of the --user account", given[0])
	case f.user == "":
		return "", nil
	case len(given) == 0:
		return "", fmt.Errorf("--user needs a password: --password-file FILE, $%s, or --password", passwordEnv)
	case len(given) > 1:
		return "", fmt.Errorf("the password is given by both %s and %s; give it one way", given[0], given[1])
	}
	var pass string
	switch given[0] {
	case "--password-file":
		var err error
		if pass, err = readPasswordFile(env, f.passwordFile); err != nil {
			return "", err
		}
	case "--password":
		pass = f.password
	default:
		pass = envPassword
	}
	if pass == "" {
		return "", fmt.Errorf("%s: empty password", given[0])
	}
	return pass, nil
}

// readPasswordFile returns the first line of path, without its line end.
func readPasswordFile(env Env, path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	defer file.Close()
	if info, err := file.Stat(); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(env.Stderr, "warning: password file %s is readable by other users (mode %v); chmod 600 it\n", path, info.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(file, maxPasswordFile))
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("--password-file %s: the first line is empty", path)
	}
	return line, nil
}

// printWelcome tells the operator where the server listens and how to log
// in, as pyftpdlib does. Its last line starts with "  try:".
func printWelcome(env Env, cfg *config.Config, inst *config.Instance, addr net.Addr, implicitLn net.Listener, adm *adminServer) {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "ftp://" + net.JoinHostPort(host, port)
	root := cfg.Root
	if !s3fs.IsURL(root) {
		if abs, err := filepath.Abs(root); err == nil {
			root = abs
		}
	}
	fmt.Fprintf(env.Stdout, "ferry: serving %s on %s\n", root, addr)
	if implicitLn != nil {
		fmt.Fprintf(env.Stdout, "ferry: implicit FTPS on %s\n", implicitLn.Addr())
	}
	adm.printWelcome(env)
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
	if cfg.UsersDB != "" {
		// Not the DSN itself: it may hold the database password.
		fmt.Fprintln(env.Stdout, "  accounts from the users database (users_db)")
	}
	try := fmt.Sprintf("curl %s/   or   lftp %s", url, url)
	if cert := inst.Certificate(); cert != nil {
		curl := "curl"
		tlsHost := host
		if leaf := cert.Leaf; leaf != nil {
			if selfSigned(leaf) {
				curl += " --cacert " + shellQuote(cfg.TLS.CertFile)
			}
			// Name the server as its certificate does, so the
			// command verifies.
			if leaf.VerifyHostname(tlsHost) != nil && leaf.VerifyHostname("localhost") == nil && net.ParseIP(tlsHost).IsLoopback() {
				tlsHost = "localhost"
			}
		}
		explicit := fmt.Sprintf("%s --ssl-reqd ftp://%s/", curl, net.JoinHostPort(tlsHost, port))
		fmt.Fprintf(env.Stdout, "  explicit FTPS (AUTH TLS): %s\n", explicit)
		if implicitLn != nil {
			_, implicitPort, _ := net.SplitHostPort(implicitLn.Addr().String())
			fmt.Fprintf(env.Stdout, "  implicit FTPS: %s ftps://%s/\n", curl, net.JoinHostPort(tlsHost, implicitPort))
		}
		if cfg.TLS.Required {
			fmt.Fprintf(env.Stdout, "  TLS required: logins and transfers without TLS are refused\n")
			try = explicit
		}
	}
	fmt.Fprintf(env.Stdout, "  try: %s\n", try)
}

// selfSigned reports whether cert signed itself, so that clients must be
// told to trust it explicitly.
func selfSigned(cert *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, cert.RawSubject) &&
		cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
}

// shellQuote quotes a path for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
