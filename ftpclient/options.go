package ftpclient

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"time"
)

// Defaults of the options.
const (
	DefaultTimeout  = time.Minute
	DefaultPoolSize = 4
)

// An Option configures a Client in Dial.
type Option func(*config)

type config struct {
	tlsConfig   *tls.Config
	tlsMode     tlsMode
	user, pass  string
	active      bool
	timeout     time.Duration
	poolSize    int
	logger      *slog.Logger
	debug       io.Writer
	keepAlive   time.Duration
	useMLSx     bool
	trustPASV   bool
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	disableEPSV bool
	vhost       string // WithHost
	compress    bool   // MODE Z when offered (compress.go)
}

type tlsMode int

const (
	tlsNone tlsMode = iota
	tlsExplicit
	tlsImplicit
)

func defaultConfig() config {
	return config{
		user:     "anonymous",
		pass:     "ferry@",
		timeout:  DefaultTimeout,
		poolSize: DefaultPoolSize,
		useMLSx:  true,
	}
}

// WithTLS asks for explicit FTPS (RFC 4217): AUTH TLS right after the
// greeting, then PBSZ 0 and PROT P, so that the login and every data
// connection are encrypted. conf may be nil for the system roots and the
// dialed host name.
//
// The client takes a copy of conf. ServerName defaults to the host of the
// address given to Dial and is used for data connections too. Its
// ClientSessionCache is replaced by a cache per control connection:
// servers that require TLS session reuse (ferry, vsftpd's
// require_ssl_reuse, ProFTPD's default) accept a data connection only if
// it resumes its own control connection's session.
func WithTLS(conf *tls.Config) Option {
	return func(c *config) { c.tlsConfig, c.tlsMode = conf, tlsExplicit }
}

// WithImplicitTLS asks for implicit FTPS: the TLS handshake starts as soon
// as the TCP connection is open (traditionally port 990, the default port
// in this mode). conf is used as by WithTLS.
func WithImplicitTLS(conf *tls.Config) Option {
	return func(c *config) { c.tlsConfig, c.tlsMode = conf, tlsImplicit }
}

// WithLogin sets the user name and password. The default is an anonymous
// login ("anonymous", password "ferry@").
func WithLogin(user, pass string) Option {
	return func(c *config) { c.user, c.pass = user, pass }
}

// WithActive selects active data connections: the client listens on the
// local address of the control connection and announces it with EPRT (or
// PORT when the server does not know EPRT). The default is passive.
func WithActive(active bool) Option {
	return func(c *config) { c.active = active }
}

// WithTimeout bounds connecting and every wait for the server: a reply, a
// TLS handshake, the accept of an active data connection, and each read or
// write of a transfer (an inactivity limit, not a limit on the whole
// transfer; use the context for that). Zero or negative means no limit.
// The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithPoolSize sets how many control connections the Client may open to
// the server at once (default DefaultPoolSize, minimum 1). Idle ones are
// kept for reuse. When the server refuses an extra connection (421, or 530
// to a login that works on the other connections) the Client makes do with
// the ones it has.
func WithPoolSize(n int) Option {
	return func(c *config) { c.poolSize = max(n, 1) }
}

// WithLogger sets the logger for connection events: dials, retries,
// fallbacks and discarded connections. The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithDebug writes a trace of the control connections to w: every command
// (passwords masked) and reply, prefixed with the connection's number.
func WithDebug(w io.Writer) Option {
	return func(c *config) { c.debug = w }
}

// WithKeepAlive sends NOOP on the control connection every d while a
// transfer runs, so that NAT devices and firewalls do not drop a control
// connection that is silent during a long transfer. Zero (the default)
// disables it. Servers answer the NOOPs after the transfer's final reply
// (or, some, during the transfer); the client reads them either way.
func WithKeepAlive(d time.Duration) Option {
	return func(c *config) { c.keepAlive = d }
}

// WithMLSx chooses whether List and Stat use MLSD and MLST (RFC 3659) when
// the server offers them, which is the default. With false they use LIST
// and SIZE/MDTM, as against servers whose MLSx output is broken.
func WithMLSx(use bool) Option {
	return func(c *config) { c.useMLSx = use }
}

// WithTrustPASV makes the client connect to the address a 227 reply names
// when it is plausible, as for server-to-server (FXP) setups or servers
// whose data connections come from another host. By default the address
// in a 227 reply is ignored and the control connection's peer is used with
// the announced port, as curl does: servers behind NAT often announce a
// private or unspecified address, and trusting it lets a hostile server
// aim the client at other hosts. Even when trusted, an unspecified
// address, or a private or loopback one while the server itself is public,
// is replaced by the control connection's peer.
func WithTrustPASV(trust bool) Option {
	return func(c *config) { c.trustPASV = trust }
}

// WithDialer sets the function that opens TCP connections, control and
// passive data ones alike (for proxies, or to bind a local address). The
// default is a net.Dialer.
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(c *config) { c.dial = dial }
}

// WithoutEPSV makes passive mode use PASV only, never EPSV. Without it,
// EPSV is tried first and PASV used when the server refuses EPSV or its
// data connection cannot be opened.
func WithoutEPSV() Option {
	return func(c *config) { c.disableEPSV = true }
}

// A TransferOption adjusts one transfer.
type TransferOption func(*transferConfig)

type transferConfig struct {
	ascii    bool
	compress bool   // MODE Z when offered (compress.go)
	block    bool   // MODE B (modeb.go); it wins over compress
	marks    *Marks // where MODE B records restart markers, or nil
}

// ASCII transfers in TYPE A: text whose line ends are CRLF on the wire.
// Retrieve and Open turn CRLF into LF (on every system: the result is
// what Unix tools expect); Store and Append turn LF into CRLF. A transfer
// in ASCII mode cannot start at an offset, since REST counts bytes on the
// wire.
func ASCII() TransferOption {
	return func(t *transferConfig) { t.ascii = true }
}

func (c *Client) transferOptions(opts []TransferOption) transferConfig {
	t := transferConfig{compress: c.cfg.compress}
	for _, o := range opts {
		o(&t)
	}
	return t
}
