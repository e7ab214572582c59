// Package sftpserver serves SFTP (version 3, as OpenSSH speaks it) over
// SSH on the same accounts and storage as package ftpserver: an
// ftpserver.Authenticator logs users in, by password or (when it
// implements ftpserver.PublicKeyAuthenticator) by public key, and each
// account's ftpserver.FileSystem is served with its permissions, rate
// limits and upload mode. Transfers are reported to an ftpserver.Observer
// as TransferRecords, so xferlog and metrics count SFTP with FTP, and an
// ftpserver.Defender shared with the FTP server bans addresses that fail
// logins on either.
//
// Only the "sftp" subsystem of "session" channels is served: shells,
// commands, terminals, environment, agent and port forwarding and every
// other channel type or global request are refused.
//
// It is the only package of the module that imports
// golang.org/x/crypto/ssh and github.com/pkg/sftp, so that the FTP server
// and client do not link them.
package sftpserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Server is an SFTP server. Its exported fields are read when Serve starts
// and must not change afterwards. Auth and HostKeys are required.
type Server struct {
	// Auth checks logins: passwords through Authenticate, public keys
	// through AuthenticatePublicKey when it implements
	// ftpserver.PublicKeyAuthenticator. Required.
	Auth ftpserver.Authenticator
	// HostKeys are the server's host keys. At least one is required.
	HostKeys []ssh.Signer

	// AllowAnonymous lets accounts marked Anonymous log in. Off by
	// default: an FTP anonymous area is rarely meant for SSH too.
	AllowAnonymous bool
	// Upload chooses what an interrupted upload leaves behind, as
	// ftpserver.Server.Upload does.
	Upload ftpserver.UploadMode

	// LoginTimeout bounds the SSH handshake and authentication, counted
	// from the connection. Default 1 minute.
	LoginTimeout time.Duration
	// IdleTimeout closes a connection on which the client sends nothing
	// for this long. Default 5 minutes. SFTP clients send requests all
	// along a transfer, so a running transfer never looks idle.
	IdleTimeout time.Duration
	// LoginFailDelay is how long a refused password or key waits before
	// the client is told. Default 1 second; negative disables it.
	LoginFailDelay time.Duration

	// MaxSessions bounds concurrent connections; more are closed at
	// once. Zero means no limit.
	MaxSessions int
	// MaxSessionsPerIP bounds those of one client address (IPv4) or /64
	// (IPv6). Zero means ftpserver.DefaultMaxSessionsPerIP; negative, no
	// limit.
	MaxSessionsPerIP int
	// Counter, when set, counts the sessions that MaxSessions,
	// MaxSessionsPerIP and the accounts' MaxSessions bound; give the FTP
	// server's (ftpserver.Server.Counter) so that the limits count FTP
	// and SFTP sessions together. Nil: SFTP sessions are counted alone.
	Counter *ftpserver.SessionCounter
	// MaxLoginChecksPerIP bounds the credential checks running at once
	// for one client address; a failed check keeps its slot for
	// LoginFailDelay, so a guesser gets at most this many guesses per
	// delay. Zero means ftpserver.DefaultMaxLoginChecksPerIP; negative,
	// no limit.
	MaxLoginChecksPerIP int
	// MaxHashSize caps the bytes one check-file request may hash, as
	// ftpserver.Server.MaxHashSize caps HASH. Zero means
	// ftpserver.DefaultMaxHashSize.
	MaxHashSize int64
	// MaxAuthTries bounds the authentication attempts of one connection.
	// Default 6, as OpenSSH's.
	MaxAuthTries int
	// UploadHeapRoom, when positive, lets the heap hold this many bytes
	// of garbage beside its live size while uploads run: the garbage
	// collector's percent (process-wide) is raised to leave that room,
	// and restored when the last upload ends. Receiving makes garbage
	// in proportion to the bytes (x/crypto/ssh allocates per packet);
	// with a small live heap and GOGC=100 the collector would run every
	// few MiB, and the freed pages are faulted back in. Left alone when
	// GOGC is set in the environment or collection is off. ferry serve
	// sets DefaultUploadHeapRoom; zero leaves the collector alone.
	UploadHeapRoom int64
	// Ciphers are the SSH ciphers offered, in preference order (names
	// as x/crypto/ssh's Cipher constants). Empty: DefaultCiphers().
	Ciphers []string

	// Logger receives session and transfer logs. Default slog.Default().
	Logger *slog.Logger
	// Observer, when set, is told about sessions, logins and transfers,
	// with Protocol "sftp".
	Observer ftpserver.Observer
	// Defender, when set, scores failed logins as the FTP server does
	// (share the FTP server's) and refuses banned addresses at connect.
	Defender *ftpserver.Defender

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	counter   *ftpserver.SessionCounter // Counter, or the server's own
	refusing  chan struct{}             // a slot per refusal being written
	closed    bool
	drained   chan struct{} // closed when the last connection ends after Shutdown
	nextID    uint64
	watchOnce sync.Once
	logins    loginSlots
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("sftpserver: Server closed")

// Defaults for the zero values of Server's fields.
const (
	DefaultLoginTimeout = time.Minute
	DefaultIdleTimeout  = 5 * time.Minute
	DefaultMaxAuthTries = 6
	// DefaultUploadHeapRoom is the UploadHeapRoom ferry serve sets.
	DefaultUploadHeapRoom = 32 << 20
)

func (srv *Server) logger() *slog.Logger {
	if srv.Logger != nil {
		return srv.Logger
	}
	return slog.Default()
}

func durationOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (srv *Server) maxHashSize() int64 {
	if srv.MaxHashSize <= 0 {
		return ftpserver.DefaultMaxHashSize
	}
	return srv.MaxHashSize
}

func (srv *Server) failDelay() time.Duration {
	return max(durationOr(srv.LoginFailDelay, ftpserver.DefaultLoginFailDelay), 0)
}

// Serve accepts connections on ln and serves each in its own goroutine
// until Shutdown or Close; it then returns ErrServerClosed. Temporary
// accept errors are retried with a growing pause, as net/http does.
func (srv *Server) Serve(ln net.Listener) error {
	if srv.Auth == nil {
		return errors.New("sftpserver: Server.Auth is required")
	}
	if len(srv.HostKeys) == 0 {
		return errors.New("sftpserver: Server.HostKeys is required")
	}
	if len(srv.Ciphers) > 0 {
		if err := CheckCiphers(srv.Ciphers); err != nil {
			return fmt.Errorf("sftpserver: Server.Ciphers: %w", err)
		}
	}
	if !srv.track(ln) {
		ln.Close()
		return ErrServerClosed
	}
	defer srv.untrack(ln)
	if d := srv.Defender; d != nil {
		srv.watchOnce.Do(func() { d.Watch(srv.endBanned) })
	}
	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if srv.isClosed() {
				return ErrServerClosed
			}
			if temporary(err) {
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				time.Sleep(pause)
				continue
			}
			return err
		}
		pause = 0
		c := srv.admit(nc)
		if c == nil {
			continue
		}
		go c.serve()
	}
}

// temporary reports whether Accept may be retried after err (out of file
// descriptors and the like).
func temporary(err error) bool {
	var te interface{ Temporary() bool }
	var ne net.Error
	return errors.As(err, &te) && te.Temporary() || errors.As(err, &ne) && ne.Timeout()
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func (srv *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return srv.Serve(ln)
}

func (srv *Server) track(ln net.Listener) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closed {
		return false
	}
	if srv.listeners == nil {
		srv.listeners = map[net.Listener]struct{}{}
	}
	srv.listeners[ln] = struct{}{}
	return true
}

func (srv *Server) untrack(ln net.Listener) {
	srv.mu.Lock()
	delete(srv.listeners, ln)
	srv.mu.Unlock()
}

func (srv *Server) isClosed() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closed
}

func remoteAddr(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// admit makes a conn of nc, or closes nc when its address is banned or
// a session limit is reached, saying why first (refuse).
func (srv *Server) admit(nc net.Conn) *conn {
	remote := remoteAddr(nc.RemoteAddr())
	if srv.Defender.Banned(remote.Addr()) {
		srv.logger().Info("connection of a banned address refused", "remote", remote.String())
		nc.Close()
		return nil
	}
	perIPLimit := srv.MaxSessionsPerIP
	if perIPLimit == 0 {
		perIPLimit = ftpserver.DefaultMaxSessionsPerIP
	}
	src := ftpserver.ClientSource(remote.Addr())
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closed {
		nc.Close()
		return nil
	}
	if srv.conns == nil {
		srv.conns = map[*conn]struct{}{}
		srv.counter = srv.Counter
		if srv.counter == nil {
			srv.counter = &ftpserver.SessionCounter{}
		}
		srv.refusing = make(chan struct{}, maxRefusing)
	}
	if err := srv.counter.Admit(remote.Addr(), srv.MaxSessions, perIPLimit); err != nil {
		msg := "Too many connections from your address."
		if errors.Is(err, ftpserver.ErrTooManySessions) {
			msg = "Too many users, please try again later."
		}
		srv.logger().Warn("connection refused: "+msg, "remote", remote.String())
		srv.refuse(nc, msg)
		return nil
	}
	srv.nextID++
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		srv:     srv,
		nc:      &idleConn{Conn: nc},
		id:      sessionIDPrefix + strconv.FormatUint(srv.nextID, 36),
		remote:  remote,
		source:  src,
		started: time.Now(),
		ctx:     ctx,
		cancel:  cancel,
	}
	c.log = srv.logger().With("session", c.id, "remote", remote.String(), "protocol", "sftp")
	srv.conns[c] = struct{}{}
	return c
}

// maxRefusing bounds the refusals being written at once, and
// refuseTimeout the wait for each, as ftpserver's: past it a refused
// connection is closed without a word.
const (
	maxRefusing   = 256
	refuseTimeout = 2 * time.Second
)

// refuse tells a client turned away before its SSH handshake why, in a
// line sent before the version string (RFC 4253 section 4.2 lets a
// server send other lines first; OpenSSH's ssh shows them with -v,
// Go's x/crypto/ssh skips them), then closes nc. It runs on its own
// goroutine, so that the accept loop never waits on the peer.
func (srv *Server) refuse(nc net.Conn, msg string) {
	select {
	case srv.refusing <- struct{}{}:
	default:
		nc.Close()
		return
	}
	go func() {
		defer func() { <-srv.refusing }()
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(refuseTimeout))
		if _, err := nc.Write([]byte("ferry: " + msg + "\r\n")); err != nil {
			return
		}
		// Closing with the client's version string unread would reset
		// the connection, and the client could lose the line: end our
		// side, then read what it sent until it closes too (bounded).
		if tc, ok := nc.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
			io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
		}
	}()
}

// forget removes c from the server's books.
func (srv *Server) forget(c *conn) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.conns, c)
	srv.counter.Leave(c.remote.Addr())
	if len(srv.conns) == 0 && srv.drained != nil {
		close(srv.drained)
		srv.drained = nil
	}
}

// stopLocked closes the listeners; srv.mu is held.
func (srv *Server) stopLocked() []*conn {
	srv.closed = true
	for ln := range srv.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(srv.conns))
	for c := range srv.conns {
		conns = append(conns, c)
	}
	return conns
}

// Close stops accepting and closes every connection at once, transfers
// included (an upload cut so is aborted as an interrupted one). It does
// not wait for the connections' goroutines.
func (srv *Server) Close() error {
	srv.mu.Lock()
	conns := srv.stopLocked()
	srv.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return nil
}

// shutdownPoll is how often Shutdown looks for connections that have
// become idle.
const shutdownPoll = 50 * time.Millisecond

// Shutdown stops accepting, closes connections with no open file and no
// request being answered at once, the others as soon as they are so
// (polled), and returns
// when all are gone; when ctx ends first it closes the rest and returns
// ctx's error. SFTP has no way to ask a client to leave, so a connection
// holding no file is simply closed, as net/http closes idle ones.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.stopLocked()
	var drained chan struct{}
	if len(srv.conns) > 0 {
		if srv.drained == nil {
			srv.drained = make(chan struct{})
		}
		drained = srv.drained
	}
	srv.mu.Unlock()
	if drained == nil {
		return nil
	}
	tick := time.NewTicker(shutdownPoll)
	defer tick.Stop()
	for {
		srv.mu.Lock()
		var idle []*conn
		for c := range srv.conns {
			if c.idle() {
				idle = append(idle, c)
			}
		}
		srv.mu.Unlock()
		for _, c := range idle {
			c.close()
		}
		select {
		case <-drained:
			return nil
		case <-ctx.Done():
			srv.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// endBanned closes the connections from a newly banned address.
func (srv *Server) endBanned(b ftpserver.Ban) {
	srv.mu.Lock()
	var ending []*conn
	for c := range srv.conns {
		if b.Addr.Contains(c.remote.Addr()) {
			ending = append(ending, c)
		}
	}
	srv.mu.Unlock()
	for _, c := range ending {
		c.log.Info("session of a banned address ended")
		c.close()
	}
}

// conn is one SSH connection.
type conn struct {
	srv     *Server
	nc      *idleConn
	id      string
	remote  netip.AddrPort
	source  netip.Addr
	started time.Time
	log     *slog.Logger
	// ctx ends when the connection does; storage calls take it.
	ctx    context.Context
	cancel context.CancelFunc

	openFiles atomic.Int64 // files open now, for Shutdown
	// ioSeq orders the SFTP channel's reads and writes; lastRead and
	// lastWrite are the numbers of the latest of each (see idle).
	ioSeq, lastRead, lastWrite atomic.Uint64
	acct                       *ftpserver.Account
	heldUser                   bool // acct counted against its MaxSessions
	// shown is acct for info, which other goroutines call.
	shown atomic.Pointer[ftpserver.Account]
	// command is the request being served or last served, for info.
	command atomic.Pointer[noted]
	// transfers are the files open now, oldest first, for info.
	transfersMu sync.Mutex
	transfers   []*liveTransfer
	closeOnce   sync.Once

	// Set during authentication.
	loginMu       sync.Mutex
	accounts      map[string]*ftpserver.Account // by loginKey value
	keysRefused   bool
	passwordTried bool
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

// info describes the connection now; any goroutine may call it. Its
// Transfer is the oldest of the files open (an SFTP client may have
// several), so that it stays the same while that file moves.
func (c *conn) info() ftpserver.SessionInfo {
	info := ftpserver.SessionInfo{ID: c.id, Remote: c.remote, Started: c.started, Protocol: "sftp"}
	if acct := c.shown.Load(); acct != nil {
		info.User, info.Anonymous = acct.User, acct.Anonymous
	}
	if n := c.command.Load(); n != nil {
		info.Command, info.CommandAt = n.text, n.at
	}
	c.transfersMu.Lock()
	if len(c.transfers) > 0 {
		t := c.transfers[0]
		info.Transfer = &ftpserver.TransferInfo{Verb: t.verb, Path: t.path, Size: t.size, Bytes: t.bytes.Load(), Started: t.started}
	}
	c.transfersMu.Unlock()
	return info
}

// maxNoted bounds the text of a noted request, in bytes.
const maxNoted = 256

// noted is a request as Sessions shows it: "STAT /a", "RENAME /a /b".
type noted struct {
	text string
	at   time.Time
}

// note records a request (an SFTP method or extension name, upper-cased,
// and the paths it names) as the session's command.
func (c *conn) note(method string, paths ...string) {
	text := strings.ToUpper(method)
	for _, p := range paths {
		if p != "" {
			text += " " + p
		}
	}
	if len(text) > maxNoted {
		// Names come from the client: a session's listing stays small.
		text = strings.ToValidUTF8(text[:maxNoted], "") + "…"
	}
	c.command.Store(&noted{text: text, at: time.Now()})
}

// liveTransfer is an open file as Sessions shows it.
type liveTransfer struct {
	verb    string // RETR or STOR, as TransferRecord's
	path    string
	size    int64 // -1 when unknown (uploads)
	started time.Time
	bytes   atomic.Int64
}

// startTransfer notes a file opened for verb; endTransfer forgets it.
func (c *conn) startTransfer(verb, path string, size int64) *liveTransfer {
	t := &liveTransfer{verb: verb, path: path, size: size, started: time.Now()}
	c.transfersMu.Lock()
	c.transfers = append(c.transfers, t)
	c.transfersMu.Unlock()
	return t
}

func (c *conn) endTransfer(t *liveTransfer) {
	if t == nil {
		return
	}
	c.transfersMu.Lock()
	if i := slices.Index(c.transfers, t); i >= 0 {
		c.transfers = slices.Delete(c.transfers, i, i+1)
	}
	c.transfersMu.Unlock()
}

// sessionIDPrefix starts every SFTP session ID, so that none is the ID
// of an FTP session (a base-36 number) in the admin API's one list.
const sessionIDPrefix = "sftp-"

// Sessions describes the live connections, oldest first, with Protocol
// "sftp"; User is empty until login.
func (srv *Server) Sessions() []ftpserver.SessionInfo {
	srv.mu.Lock()
	conns := make([]*conn, 0, len(srv.conns))
	for c := range srv.conns {
		conns = append(conns, c)
	}
	srv.mu.Unlock()
	infos := make([]ftpserver.SessionInfo, len(conns))
	for i, c := range conns {
		infos[i] = c.info()
	}
	slices.SortFunc(infos, func(a, b ftpserver.SessionInfo) int {
		return cmp.Or(cmp.Compare(len(a.ID), len(b.ID)), cmp.Compare(a.ID, b.ID))
	})
	return infos
}

// SessionCount reports how many connections are open.
func (srv *Server) SessionCount() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// Disconnect closes the connection with the given ID, its transfers
// cut as by a lost connection (an upload is aborted as an interrupted
// one). SSH gives no way to tell the client why (msg is logged), so the
// client sees its connection closed. It returns
// ftpserver.ErrNoSuchSession for an ID that names no live connection.
func (srv *Server) Disconnect(id, msg string) error {
	srv.mu.Lock()
	var found *conn
	for c := range srv.conns {
		if c.id == id {
			found = c
			break
		}
	}
	srv.mu.Unlock()
	if found == nil {
		return ftpserver.ErrNoSuchSession
	}
	if msg == "" {
		msg = "Disconnected by the administrator."
	}
	found.log.Info("disconnected by the administrator", "message", msg)
	found.close()
	return nil
}

// serve runs the connection: handshake and login, then its channels.
func (c *conn) serve() {
	srv := c.srv
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic serving connection", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
		c.close()
		if c.heldUser {
			srv.counter.ReleaseUser(c.acct)
		}
		if o := srv.Observer; o != nil {
			o.SessionEnded(c.info())
		}
		srv.forget(c)
	}()
	if o := srv.Observer; o != nil {
		o.SessionStarted(c.info())
	}
	c.nc.SetDeadline(c.started.Add(durationOr(srv.LoginTimeout, DefaultLoginTimeout)))
	sconn, chans, reqs, err := ssh.NewServerConn(c.nc, c.config())
	if err != nil {
		c.handshakeFailed(err)
		return
	}
	defer sconn.Close()
	c.acct = c.loggedIn(sconn)
	if c.acct == nil {
		return
	}
	c.shown.Store(c.acct)
	c.nc.SetDeadline(time.Time{})
	c.nc.idle.Store(int64(durationOr(srv.IdleTimeout, DefaultIdleTimeout)))
	c.log = c.log.With("user", c.acct.User)
	c.log.Info("logged in", "client", string(sconn.ClientVersion()))
	go refuseRequests(reqs)
	var wg sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			c.log.Info("channel refused", "type", nch.ChannelType())
			nch.Reject(ssh.Prohibited, "only the sftp subsystem is served")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			c.log.Debug("channel accept failed", "err", err)
			continue
		}
		wg.Go(func() { c.session(ch, creqs) })
	}
	c.close()
	wg.Wait()
}

// refuseRequests answers every global request (tcpip-forward,
// keepalives) with a failure: nothing but SFTP is served. OpenSSH's
// keepalives expect exactly that reply.
func refuseRequests(reqs <-chan *ssh.Request) {
	for r := range reqs {
		if r.WantReply {
			r.Reply(false, nil)
		}
	}
}

// idleConn closes a connection whose peer is silent, or does not read,
// for idle: every read and write re-arms its deadline. Zero idle (during
// the handshake, bounded by one fixed deadline) leaves deadlines alone.
type idleConn struct {
	net.Conn
	idle atomic.Int64 // time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	if d := time.Duration(c.idle.Load()); d > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(d))
	}
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	if d := time.Duration(c.idle.Load()); d > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(d))
	}
	return c.Conn.Write(p)
}
