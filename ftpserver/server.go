package ftpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// PortRange is an inclusive range of TCP ports. The zero value means "any
// port the kernel picks".
type PortRange struct {
	Min, Max int
}

// Server is an FTP server. Its exported fields are read when Serve starts
// and must not change afterwards. The zero value serves nobody: Auth is
// required.
type Server struct {
	// Addr is the address ListenAndServe listens on (":21" when empty).
	Addr string

	// Auth checks logins. Required.
	Auth Authenticator

	// PassivePorts is the range PASV/EPSV listeners are opened in.
	PassivePorts PortRange

	// PublicHost is the IPv4 address announced in 227 replies, for a server
	// behind NAT. Empty: the control connection's local address.
	PublicHost string

	// AllowFXP lets PORT/EPRT name an address other than the client's and
	// lets passive data connections come from another address
	// (server-to-server transfers). Off by default, as RFC 2577 advises.
	AllowFXP bool

	// DisableModeZ refuses MODE Z (deflate) and leaves it out of FEAT.
	// A client that finds it in FEAT may compress every transfer (lftp
	// does by default), which spends server CPU to save bytes on the
	// wire: worth it on slow links, not for incompressible files on fast
	// ones.
	DisableModeZ bool

	// Upload chooses what an interrupted upload leaves behind.
	Upload UploadMode

	// Banner is the text of the 220 greeting.
	Banner string

	// Hosts, when set, enables the HOST command (RFC 7151): it returns
	// the virtual host a client names before login, given the name in
	// the form CanonicalHostName returns, or false for a name the server
	// does not serve (504). It is also asked, to choose a certificate,
	// for the name a TLS handshake's SNI gives, so it must be safe for
	// concurrent use. A session that sends no HOST uses the server's own
	// settings. Nil: the server has no virtual hosts and answers HOST 502.
	Hosts func(name string) (*VirtualHost, bool)

	// IdleTimeout closes a logged-in session that sends no command for this
	// long (never while a transfer runs). Default 5 minutes.
	IdleTimeout time.Duration
	// LoginTimeout is how long a client has to log in, counted from the
	// connection (or from REIN), whatever it sends meanwhile. Default 1
	// minute.
	LoginTimeout time.Duration
	// DataTimeout bounds the wait for a data connection to be made and any
	// single read or write on it. Default 1 minute.
	DataTimeout time.Duration
	// LoginFailDelay is how long a failed PASS waits before its 530.
	// Default 1 second; negative disables it.
	LoginFailDelay time.Duration

	// MaxSessions bounds concurrent sessions; further connections get 421
	// and are closed. Zero means no limit.
	MaxSessions int
	// MaxSessionsPerIP bounds the concurrent sessions of one client
	// address in the same way, so one address cannot take every session.
	// Zero means DefaultMaxSessionsPerIP; negative, no limit.
	MaxSessionsPerIP int
	// Counter, when set, counts the sessions that MaxSessions,
	// MaxSessionsPerIP and the accounts' MaxSessions bound, shared with
	// the other servers given it (an SFTP server of the same accounts),
	// so that the limits hold across protocols. Nil: the server counts
	// its own sessions alone.
	Counter *SessionCounter
	// MaxPassivePerIP bounds the passive listeners open at once for the
	// sessions of one client address; PASV/EPSV beyond it get 425 and
	// the session goes on. Zero means DefaultMaxPassivePerIP, and no more
	// than half of a configured PassivePorts range, so that one address
	// cannot hold every port of it; negative, no limit.
	MaxPassivePerIP int
	// MaxBadCommands closes a session after this many rejected commands
	// in a row (unknown verbs, syntax errors, overlong lines, commands
	// before login, failed logins); USER does not end a row, so password
	// guessing is caught. Default 20; negative disables.
	MaxBadCommands int
	// MaxLoginChecks bounds the password checks (Authenticate calls)
	// running at once, and MaxLoginChecksPerIP those for one client
	// address (IPv4) or /64 network (IPv6); further logins wait, and leave the queue if their client
	// hangs up. A failed check keeps its address's slot for
	// LoginFailDelay. Defaults: 2 per address, and twice GOMAXPROCS (at
	// least 4) in all; negative disables.
	MaxLoginChecks      int
	MaxLoginChecksPerIP int

	// MaxHashSize caps the bytes one HASH, XSHA256, XSHA1, XMD5 or XCRC
	// reads (the whole file, or the range asked for); a larger request
	// is refused with 504. Default 4 GiB; negative: no cap. Hashing runs
	// beside the control loop and stops on ABOR, QUIT or a hang-up.
	MaxHashSize int64

	// TLSConfig enables FTPS: AUTH TLS (explicit, RFC 4217) on every
	// listener, and ServeTLS (implicit TLS). It needs a certificate
	// (Certificates or GetCertificate). ferry adds its own session-ticket
	// handling to bind data connections to their control session, so
	// WrapSession and UnwrapSession must be left nil.
	TLSConfig *tls.Config

	// TLS is the default TLS policy of Serve and ServeTLS listeners;
	// ServeWith sets one per listener.
	TLS TLSPolicy

	// Logger receives session and transfer logs. Default slog.Default().
	Logger *slog.Logger

	// ProxyProtocol, when set, takes client addresses from the PROXY
	// headers of trusted load balancers. Nil: every connection's client
	// is its TCP peer.
	ProxyProtocol *ProxyProtocol

	// Observer, when set, is told about sessions, logins, replies and
	// transfers (metrics, xferlog, the admin API).
	Observer Observer

	// Defender, when set, bans addresses that fail logins, send
	// rejected commands or try to take others' data connections. Nil:
	// no bans.
	Defender *Defender

	stateOnce sync.Once
	st        *serverState
}

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = errors.New("ftpserver: Server closed")

// Defaults for the zero values of Server's fields.
const (
	DefaultIdleTimeout    = 5 * time.Minute
	DefaultLoginTimeout   = time.Minute
	DefaultDataTimeout    = time.Minute
	DefaultLoginFailDelay = time.Second
	DefaultMaxBadCommands = 20
	DefaultMaxHashSize    = 4 << 30
	// Well above what one user's clients open (lftp and FileZilla use a
	// handful of connections), low enough that one address cannot take a
	// server's sessions or passive ports; a NAT gateway in front of many
	// users may need more.
	DefaultMaxSessionsPerIP = 64
	DefaultMaxPassivePerIP  = 64
)

// serverState is the bookkeeping Serve needs: listeners and live sessions,
// so Shutdown can stop accepting and drain.
type serverState struct {
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	// pending are connections from trusted proxies still sending their
	// PROXY header, so Close and Shutdown can end them too.
	pending map[net.Conn]struct{}
	// counter counts the sessions for the limits: Server.Counter, or
	// one of the server's own.
	counter *SessionCounter
	// passiveIP counts open passive listeners per client address, under
	// its own lock: a listener is closed (and uncounted) while mu is held,
	// by Close aborting transfers.
	passiveMu sync.Mutex
	passiveIP map[netip.Addr]int
	closing   bool
	nextID    uint64
	drained   chan struct{} // closed when sessions becomes empty while closing
	logins    *loginLimiter
	// refusing holds a slot for each connection being sent its 421
	// refusal, so a flood of refused connections cannot start goroutines
	// without bound: past it they are closed without a word.
	refusing chan struct{}
}

func (srv *Server) logger() *slog.Logger {
	if srv.Logger != nil {
		return srv.Logger
	}
	return slog.Default()
}

func (srv *Server) maxHashSize() int64 {
	if srv.MaxHashSize == 0 {
		return DefaultMaxHashSize
	}
	return srv.MaxHashSize
}

func durationOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// ListenAndServe listens on srv.Addr and serves until Shutdown or Close.
func (srv *Server) ListenAndServe() error {
	addr := srv.Addr
	if addr == "" {
		addr = ":21"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return srv.Serve(ln)
}

// Serve accepts control connections on ln and serves each in its own
// goroutine, with the server's TLS policy (AUTH TLS available when
// TLSConfig is set). It always returns a non-nil error; after Shutdown or
// Close it is ErrServerClosed. Serve closes ln when it returns.
func (srv *Server) Serve(ln net.Listener) error {
	return srv.ServeWith(ln, ListenerOptions{TLS: srv.TLS})
}

// ServeTLS serves implicit FTPS on ln: every connection starts with a TLS
// handshake (traditionally port 990), and data connections are protected
// from the start.
func (srv *Server) ServeTLS(ln net.Listener) error {
	return srv.ServeWith(ln, ListenerOptions{ImplicitTLS: true, TLS: srv.TLS})
}

// ListenerOptions are the per-listener settings of ServeWith.
type ListenerOptions struct {
	// ImplicitTLS starts every connection with a TLS handshake.
	ImplicitTLS bool
	// TLS is this listener's TLS policy.
	TLS TLSPolicy
}

// ServeWith is Serve with per-listener options.
func (srv *Server) ServeWith(ln net.Listener, opts ListenerOptions) error {
	if srv.Auth == nil {
		ln.Close()
		return errors.New("ftpserver: Server.Auth is nil")
	}
	if (opts.ImplicitTLS || opts.TLS.RequireLogin || opts.TLS.RequireData) && srv.TLSConfig == nil {
		ln.Close()
		return errors.New("ftpserver: TLS required or implicit, but Server.TLSConfig is nil")
	}
	if srv.TLSConfig != nil && (srv.TLSConfig.WrapSession != nil || srv.TLSConfig.UnwrapSession != nil) {
		ln.Close()
		return errors.New("ftpserver: Server.TLSConfig must not set WrapSession or UnwrapSession")
	}
	st := srv.state()
	st.mu.Lock()
	if st.closing {
		st.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	st.listeners[ln] = struct{}{}
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.listeners, ln)
		st.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			st.mu.Lock()
			closing := st.closing
			st.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
				// Out of file descriptors or a transient failure: back off
				// rather than spin, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				srv.logger().Warn("accept failed; retrying", "err", err, "delay", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if pp := srv.ProxyProtocol; pp != nil && pp.trusts(addrIP(conn.RemoteAddr())) {
			go srv.acceptProxied(conn, opts)
			continue
		}
		srv.startSession(conn, opts)
	}
}

func (srv *Server) state() *serverState {
	srv.stateOnce.Do(func() {
		srv.st = &serverState{
			listeners: make(map[net.Listener]struct{}),
			sessions:  make(map[*session]struct{}),
			pending:   make(map[net.Conn]struct{}),
			counter:   srv.Counter,
			logins:    newLoginLimiter(srv.MaxLoginChecks, srv.MaxLoginChecksPerIP),
			passiveIP: make(map[netip.Addr]int),
			refusing:  make(chan struct{}, maxRefusing),
		}
		if srv.st.counter == nil {
			srv.st.counter = &SessionCounter{}
		}
		if srv.Defender != nil {
			srv.Defender.attach(srv)
		}
	})
	return srv.st
}

// startSession admits conn (or turns it away with 421 when a session limit
// is reached) and runs its session in a new goroutine.
func (srv *Server) startSession(conn net.Conn, opts ListenerOptions) {
	st := srv.state()
	remote := addrIP(conn.RemoteAddr())
	if srv.Defender.banned(remote) {
		srv.refuse(conn, banMessage)
		return
	}
	perIPLimit := limitOr(srv.MaxSessionsPerIP, DefaultMaxSessionsPerIP)
	st.mu.Lock()
	var refuse string
	if st.closing {
		refuse = "Server is shutting down."
	} else if err := st.counter.Admit(remote, srv.MaxSessions, perIPLimit); errors.Is(err, ErrTooManySessions) {
		refuse = "Too many users, please try again later."
	} else if err != nil {
		refuse = "Too many connections from your address."
	}
	if refuse != "" {
		st.mu.Unlock()
		srv.refuse(conn, refuse)
		return
	}
	st.nextID++
	s := newSession(srv, conn, st.nextID, opts)
	st.sessions[s] = struct{}{}
	st.mu.Unlock()

	go s.serve() // the session ends with srv.endSession
}

// maxRefusing bounds the connections being sent a refusal at once, and
// refuseTimeout the wait for each: a fresh connection's first reply
// goes straight into its socket buffer unless the peer does not take it.
const (
	maxRefusing   = 256
	refuseTimeout = 2 * time.Second
)

// refuse sends conn a 421 with msg and closes it, on a goroutine so that
// the accept loop never waits on a peer, or closes it at once when
// maxRefusing refusals are under way.
func (srv *Server) refuse(conn net.Conn, msg string) {
	st := srv.state()
	select {
	case st.refusing <- struct{}{}:
	default:
		conn.Close()
		return
	}
	go func() {
		defer func() { <-st.refusing }()
		conn.SetWriteDeadline(time.Now().Add(refuseTimeout))
		if _, err := conn.Write(ftp.AppendReply(nil, ftp.CodeServiceNotAvailable, msg)); err == nil {
			srv.replied(ftp.CodeServiceNotAvailable)
		}
		conn.Close()
	}()
}

func (srv *Server) endSession(s *session, ip netip.Addr) {
	st := srv.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.sessions, s)
	st.counter.Leave(ip)
	if st.closing && len(st.sessions) == 0 && st.drained != nil {
		close(st.drained)
		st.drained = nil
	}
}

// limitOr is a limit field's value: def for zero, and negative (no limit)
// as it is.
func limitOr(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// reservePassive counts a passive listener about to be opened for a
// session of ip, or reports false when ip holds its limit. release undoes
// it when the listener closes.
func (srv *Server) reservePassive(ip netip.Addr) (release func(), ok bool) {
	limit := srv.MaxPassivePerIP
	if limit == 0 {
		limit = DefaultMaxPassivePerIP
		if lo, hi := srv.PassivePorts.Min, srv.PassivePorts.Max; lo > 0 && hi >= lo {
			limit = min(limit, max(1, (hi-lo+1)/2))
		}
	}
	ip = clientSource(ip)
	st := srv.state()
	st.passiveMu.Lock()
	defer st.passiveMu.Unlock()
	if limit > 0 && st.passiveIP[ip] >= limit {
		return nil, false
	}
	st.passiveIP[ip]++
	return func() {
		st.passiveMu.Lock()
		defer st.passiveMu.Unlock()
		if st.passiveIP[ip]--; st.passiveIP[ip] <= 0 {
			delete(st.passiveIP, ip)
		}
	}, true
}

// Shutdown stops accepting connections, tells idle sessions the server is
// going away (421), lets running transfers finish, and returns when every
// session has ended or ctx is done; in the latter case it closes what is
// left and returns ctx's error. It never waits on a peer: sessions are
// signalled through their sockets, outside the server's lock.
func (srv *Server) Shutdown(ctx context.Context) error {
	st := srv.state()
	st.mu.Lock()
	st.stopLocked()
	sessions := st.sessionList()
	var drained chan struct{}
	if len(sessions) > 0 {
		if st.drained == nil {
			st.drained = make(chan struct{})
		}
		drained = st.drained
	}
	st.mu.Unlock()
	for _, s := range sessions {
		s.shutdown()
	}
	if drained == nil {
		return nil
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		srv.Close()
		return ctx.Err()
	}
}

// Close stops accepting and closes every session at once, transfers
// included. It returns without waiting for the sessions' goroutines.
func (srv *Server) Close() error {
	st := srv.state()
	st.mu.Lock()
	st.stopLocked()
	sessions := st.sessionList()
	st.mu.Unlock()
	for _, s := range sessions {
		s.kill()
	}
	return nil
}

// stopLocked marks the server closing and closes its listeners; st.mu is
// held.
func (st *serverState) stopLocked() {
	st.closing = true
	for ln := range st.listeners {
		ln.Close()
	}
	for conn := range st.pending {
		conn.Close()
	}
}

// sessionList copies the live sessions, so they can be signalled without
// st.mu: a session that ends meanwhile needs the lock to say so.
func (st *serverState) sessionList() []*session {
	list := make([]*session, 0, len(st.sessions))
	for s := range st.sessions {
		list = append(list, s)
	}
	return list
}

// SessionCount reports how many sessions are open.
func (srv *Server) SessionCount() int {
	st := srv.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.sessions)
}

func addrIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
