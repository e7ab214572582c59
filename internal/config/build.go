package config

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

// Instance is a server built from a Config, with what belongs to it
// beside the ftpserver.Server: the certificate it can reload and the
// accounts' open directories.
type Instance struct {
	// Server is ready to serve: Serve on a listener for Config.Listen
	// and, when Config.TLS.ImplicitListen is set, ServeTLS on one for
	// it. Its TLS field holds the [tls] policy, which both use.
	Server *ftpserver.Server

	certs *certHolder // nil without TLS
	homes *homeCache
	users accountStore // nil without a users store
	hosts []*hostInstance
}

// Build validates c and returns a server configured by it, not yet
// serving. Call the Instance's Close after the server has stopped.
func (c *Config) Build(logger *slog.Logger) (*Instance, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	ports, _ := parsePortRange(c.PassivePorts) // validated
	if n := ports.Max - ports.Min + 1; ports.Min > 0 && (c.MaxPassivePerIP == 0 || c.MaxPassivePerIP > n/2) {
		logger.Warn("one client address may hold more than half of the passive ports; lower max_passive_per_ip",
			"passive_ports", c.PassivePorts, "max_passive_per_ip", c.MaxPassivePerIP)
	}
	upload, _ := ftpserver.ParseUploadMode(c.UploadMode) // validated

	homes := &homeCache{
		open:    map[string]ftpserver.FileSystem{},
		sweeper: newTempSweeper(logger),
		s3:      &s3Homes{cfg: c, logger: logger},
	}
	a := &authenticator{logger: logger, homes: homes}
	fail := func(err error) (*Instance, error) {
		homes.Close()
		if a.users != nil {
			a.users.Close()
		}
		return nil, err
	}
	if c.Anonymous.Enabled {
		fsys, err := homes.get(context.Background(), c.anonymousRoot())
		if err != nil {
			// Name the key the operator wrote: without an
			// [anonymous] root, that is the top-level root.
			key := "anonymous root"
			if c.Anonymous.Root == "" {
				key = "root"
			}
			return fail(fmt.Errorf("%s: %w", key, err))
		}
		if dir := c.Anonymous.UploadDir; dir != "" && s3fs.IsURL(c.anonymousRoot()) {
			// Validate checked a host directory; a bucket is only
			// reachable now.
			if err := checkUploadDir(fsys, dir); err != nil {
				return fail(fmt.Errorf("anonymous.upload_dir: %s under the anonymous root %s: %w", dir, c.anonymousRoot(), err))
			}
		}
		a.anonymous = c.anonymousAccount(fsys)
		if c.Anonymous.Write && c.Anonymous.UploadDir != "" {
			logger.Warn("anonymous.upload_dir has no effect when anonymous.write is true")
		}
	}
	if c.Account != nil {
		fsys, err := homes.get(context.Background(), c.Root)
		if err != nil {
			return fail(fmt.Errorf("root: %w", err))
		}
		acct := *c.Account
		a.account = &acct
		a.accountFS = fsys
	}
	if c.UsersFile != "" {
		store, err := loadUsersFile(c.UsersFile, logger, a.account)
		if err != nil {
			return fail(err)
		}
		a.users = store
	}
	if c.UsersDB != "" {
		store, err := c.openUsersDB()
		if err != nil {
			return fail(err)
		}
		// Homes are not checked here: the accounts are read at each
		// login, and a cluster's may be many.
		a.users = store
	}

	srv := &ftpserver.Server{
		Addr:             c.Listen,
		Auth:             a,
		PassivePorts:     ports,
		PublicHost:       c.PublicHost,
		AllowFXP:         c.AllowFXP,
		DisableModeZ:     !c.ModeZ,
		Upload:           upload,
		Banner:           c.Banner,
		IdleTimeout:      c.IdleTimeout.Duration,
		LoginTimeout:     c.LoginTimeout.Duration,
		DataTimeout:      c.DataTimeout.Duration,
		LoginFailDelay:   disableIfZero(c.LoginFailDelay.Duration),
		MaxSessions:      c.MaxSessions,
		MaxSessionsPerIP: disableIfZero(c.MaxSessionsPerIP),
		MaxPassivePerIP:  disableIfZero(c.MaxPassivePerIP),
		MaxBadCommands:   disableIfZero(c.MaxBadCommands),
		MaxHashSize:      disableIfZero(c.MaxHashSize),
		Logger:           logger,
		ProxyProtocol:    c.proxyProtocol(),
		Defender:         c.defender(),
	}
	srv.MaxLoginChecks = c.MaxLoginChecks
	srv.MaxLoginChecksPerIP = disableIfZero(c.MaxLoginChecksPerIP)
	inst := &Instance{Server: srv, homes: homes, users: a.users}
	if c.TLS.CertFile != "" {
		inst.certs = &certHolder{certFile: c.TLS.CertFile, keyFile: c.TLS.KeyFile}
		cert, err := inst.certs.load()
		if err != nil {
			return fail(fmt.Errorf("tls: %w", err))
		}
		if now := time.Now(); cert.Leaf != nil && (now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore)) {
			logger.Warn("the TLS certificate is not valid now; clients will refuse it",
				"cert_file", c.TLS.CertFile, "not_before", cert.Leaf.NotBefore, "not_after", cert.Leaf.NotAfter)
		}
		// GetCertificate rather than Certificates, so that a reload
		// reaches every new handshake, including those of sessions
		// already open (their configs are clones of this one).
		srv.TLSConfig = &tls.Config{
			GetCertificate: inst.certs.get,
			MinVersion:     tlsVersions[c.TLS.MinVersion], // validated
		}
		if c.TLS.ClientCA != "" {
			pool, err := loadCertPool(c.TLS.ClientCA)
			if err != nil {
				return fail(fmt.Errorf("tls.client_ca: %w", err))
			}
			srv.TLSConfig.ClientCAs = pool
			// Optional: clients without a certificate log in with a
			// password as before; one that sends a certificate must send
			// a valid one.
			srv.TLSConfig.ClientAuth = tls.VerifyClientCertIfGiven
			a.certLogin = true
		}
		srv.TLS = c.TLS.Policy()
	}
	if err := c.buildHosts(inst, a, logger); err != nil {
		return fail(err)
	}
	return inst, nil
}

// loadUsersFile reads a users file as an accountStore and warns of the
// accounts that cannot log in yet. account is the --user account, if any,
// which hides the file's account of the same name.
func loadUsersFile(path string, logger *slog.Logger, account *Account) (*fileStore, error) {
	users, err := auth.LoadUsers(path)
	if err != nil {
		return nil, err
	}
	// Hash the checks for unknown names now rather than at the first
	// login.
	if err := users.PrepareVerify(); err != nil {
		return nil, err
	}
	if account != nil {
		if _, ok := users.Lookup(account.Name); ok {
			logger.Warn("the --user account hides the users file's account of the same name", "user", account.Name)
		}
	}
	for _, u := range users.List() {
		if s3fs.IsURL(u.Home) {
			// Not checked against the store now: a thousand accounts
			// must not mean a thousand requests at start. The first
			// login opens and checks it, and logs it.
			if _, _, err := s3fs.ParseURL(u.Home); err != nil {
				logger.Warn("user cannot log in: the home is not a valid s3:// URL", "user", u.Name, "err", err)
			}
			continue
		}
		if err := checkDir(u.Home); err != nil {
			logger.Warn("user cannot log in until the home directory exists", "user", u.Name, "err", err)
		}
	}
	return &fileStore{users: users, logger: logger}, nil
}

// ReloadCertificate reads the certificate and key files again; new TLS
// handshakes use the new pair, and established connections go on with the
// one they started with. If the files do not load, the previous
// certificate stays in use and the error says why. Without TLS it does
// nothing.
func (in *Instance) ReloadCertificate() error {
	if in.certs == nil {
		return nil
	}
	if _, err := in.certs.load(); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}

// Certificate returns the certificate new handshakes present (with Leaf
// parsed), or nil without TLS.
func (in *Instance) Certificate() *tls.Certificate {
	if in.certs == nil {
		return nil
	}
	return in.certs.current.Load()
}

// Close releases what the accounts hold open (directory handles). Call it
// after the server has stopped.
func (in *Instance) Close() error {
	if in.users != nil {
		in.users.Close()
	}
	in.closeHosts()
	return in.homes.Close()
}

// certHolder holds the current certificate for GetCertificate, which
// handshakes call concurrently with reloads.
type certHolder struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

// load reads the pair and, if it is good, makes it current.
func (h *certHolder) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(h.certFile, h.keyFile)
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	h.current.Store(&cert)
	return &cert, nil
}

func (h *certHolder) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return h.current.Load(), nil
}

// loadCertPool reads the PEM certificates of a CA file.
func loadCertPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("no PEM certificate in %s", path)
	}
	return pool, nil
}

// disableIfZero maps the file's "0 means none" to ftpserver's "negative
// disables" (where zero means the default).
func disableIfZero[T ~int | ~int64](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// homeCache opens one file system per home (a localfs per host
// directory, an s3fs per bucket and prefix, all on one S3 Store) and
// shares it among the sessions of every account with that home; both are
// safe for concurrent use, and rights live in the Account, not the file
// system.
type homeCache struct {
	mu      sync.Mutex
	open    map[string]ftpserver.FileSystem
	closed  bool
	sweeper *tempSweeper // crashed uploads' leftovers, per home opened
	s3      *s3Homes
}

func (h *homeCache) get(ctx context.Context, root string) (ftpserver.FileSystem, error) {
	if s3fs.IsURL(root) {
		return h.getS3(ctx, root)
	}
	dir, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if fsys, ok, err := h.lookup(dir); ok || err != nil {
		return fsys, err
	}
	fsys, err := localfs.New(dir)
	if err != nil {
		return nil, err
	}
	h.open[dir] = fsys
	h.sweeper.start(dir, fsys)
	return fsys, nil
}

var errClosed = errors.New("server configuration already cleaned up")

// lookup returns the file system already open for key; h.mu must be held.
func (h *homeCache) lookup(key string) (ftpserver.FileSystem, bool, error) {
	if h.closed {
		return nil, false, errClosed
	}
	fsys, ok := h.open[key]
	return fsys, ok, nil
}

// getS3 opens an s3:// root once. The check that the bucket answers runs
// without the lock, so a slow store holds up only the logins to it; two
// first logins racing both check, and the first to finish is kept.
func (h *homeCache) getS3(ctx context.Context, root string) (ftpserver.FileSystem, error) {
	key := canonicalS3(root)
	h.mu.Lock()
	fsys, ok, err := h.lookup(key)
	h.mu.Unlock()
	if ok || err != nil {
		return fsys, err
	}
	fsys, store, bucket, prefix, err := h.s3.open(ctx, root)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if kept, ok, err := h.lookup(key); ok || err != nil {
		return kept, err
	}
	h.open[key] = fsys
	h.s3.logger.Info("opened S3 root", "root", key, "endpoint", store.Endpoint())
	if after := h.s3.abandonedAfter; after > 0 {
		if prefix != "" {
			prefix += "/" // not the uploads of "prefix2/..."
		}
		h.sweeper.startS3(key, store, bucket, prefix, after)
	}
	return fsys, nil
}

// Close closes every file system opened that holds something open.
func (h *homeCache) Close() error {
	h.sweeper.stop()
	defer h.sweeper.wait() // once no get can start another
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for root, fsys := range h.open {
		if c, ok := fsys.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", root, err))
			}
		}
	}
	h.open, h.closed = nil, true
	return errors.Join(errs...)
}

// checkUploadDir checks that dir is a directory of fsys.
func checkUploadDir(fsys ftpserver.FileSystem, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s3CheckTimeout)
	defer cancel()
	info, err := fsys.Stat(ctx, dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

// authenticator logs in, in this order: anonymous ("anonymous" or "ftp"
// in any case, any password), the command-line account, the users store
// (users file or database).
type authenticator struct {
	logger    *slog.Logger
	anonymous *ftpserver.Account // nil when disabled
	account   *Account           // nil when none
	accountFS ftpserver.FileSystem
	users     accountStore // nil when none
	homes     *homeCache
	certLogin bool // tls.client_ca is set
	rates     userRates
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
	u, err := a.users.Verify(ctx, user, pass)
	if err != nil {
		return nil, serverError(err)
	}
	return a.userAccount(ctx, u)
}

// serverError maps auth's sentinel to the server's: auth does not know
// the server, so a wrong password from the users file becomes the
// ftpserver.ErrAuthFailed that the server answers with 530 (anything
// else is a server-side failure, 421).
func serverError(err error) error {
	if errors.Is(err, auth.ErrAuthFailed) && !errors.Is(err, ftpserver.ErrAuthFailed) {
		return authFailed{err}
	}
	return err
}

// authFailed is an auth.ErrAuthFailed that is also ftpserver's, with
// auth's text alone: both sentinels say "authentication failed", and the
// log should say it once.
type authFailed struct{ err error }

func (e authFailed) Error() string   { return e.err.Error() }
func (e authFailed) Unwrap() []error { return []error{ftpserver.ErrAuthFailed, e.err} }

// AuthenticateCert logs user in without a password when the control
// connection presented a client certificate verified against tls.client_ca
// whose Subject CommonName is exactly user. Anonymous names never log in
// this way: the anonymous account needs no proof, and a certificate
// naming "ftp" should not silently downgrade to it.
func (a *authenticator) AuthenticateCert(ctx context.Context, conn ftpserver.ConnInfo, user string) (*ftpserver.Account, error) {
	if !a.certLogin || conn.TLS == nil || len(conn.TLS.VerifiedChains) == 0 || len(conn.TLS.VerifiedChains[0]) == 0 {
		return nil, fmt.Errorf("%w: no verified client certificate", ftpserver.ErrAuthFailed)
	}
	if strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp") {
		return nil, fmt.Errorf("%w: no certificate login for anonymous", ftpserver.ErrAuthFailed)
	}
	// The chain was verified by the handshake against client_ca with
	// the client-authentication key usage; its first element is the
	// client's own certificate.
	if cn := conn.TLS.VerifiedChains[0][0].Subject.CommonName; cn == "" || cn != user {
		return nil, fmt.Errorf("%w: certificate is for %q", ftpserver.ErrAuthFailed, cn)
	}
	if a.account != nil && user == a.account.Name {
		return &ftpserver.Account{User: a.account.Name, FS: a.accountFS, Write: a.account.Write}, nil
	}
	u, err := a.lookupEnabled(ctx, user)
	if err != nil {
		return nil, err
	}
	return a.userAccount(ctx, u)
}

// lookupEnabled is the users store's account user, for a login that has
// proven itself otherwise than by password (a certificate, a key):
// unknown and disabled accounts fail as a wrong password does.
func (a *authenticator) lookupEnabled(ctx context.Context, user string) (*auth.User, error) {
	if a.users == nil {
		return nil, fmt.Errorf("%w: unknown user", ftpserver.ErrAuthFailed)
	}
	u, err := a.users.Lookup(ctx, user)
	if errors.Is(err, auth.ErrNoSuchUser) {
		return nil, fmt.Errorf("%w: unknown user", ftpserver.ErrAuthFailed)
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, fmt.Errorf("%w: account disabled", ftpserver.ErrAuthFailed)
	}
	return u, nil
}

func (a *authenticator) userAccount(ctx context.Context, u *auth.User) (*ftpserver.Account, error) {
	fsys, err := a.homes.get(ctx, u.Home)
	if err != nil {
		return nil, fmt.Errorf("home of user %q: %w", u.Name, err)
	}
	if fsys, err = a.withQuota(ctx, u, fsys); err != nil {
		return nil, fmt.Errorf("quota of user %q: %w", u.Name, err)
	}
	acct := &ftpserver.Account{User: u.Name, FS: fsys, Write: u.Write}
	if err := a.applyLimits(acct, u); err != nil {
		return nil, err
	}
	return acct, nil
}

// equalSecret compares in time independent of where the strings differ
// and of their lengths.
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
