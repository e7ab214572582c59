package ftpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// aLongTimeAgo is a deadline in the past: setting it interrupts any read
// or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one logged-in control connection. A single goroutine uses it at
// a time (the caller that took it from the pool); only the keep-alive
// ticker writes beside it, under wmu.
type conn struct {
	c   *Client
	id  uint64
	raw net.Conn // the TCP connection
	nc  net.Conn // raw, or TLS over it
	br  *bufio.Reader

	tlsConf *tls.Config // this connection's own TLS config and session cache
	protP   bool        // data connections are protected

	typ  byte // current TYPE: 'A', 'I', or 0 when not yet sent
	mode byte // current MODE: 'S', 'B', 'Z', or 0 when not yet sent (stream)
	// marks records the 110 replies to the restart markers of the
	// block-mode upload running (modeb.go), nil otherwise.
	marks     *Marks
	hashAlgo  string // algorithm HASH uses on this connection
	lastUsed  time.Time
	committed bool // the current operation has sent a command that changes something
	// transferred is set once the current operation's data connection is
	// open: from then on its reader may have been consumed.
	transferred bool
	unbind      func() // ends the tie between the current call's context and this connection

	// broken is set when the connection cannot be trusted any more: an I/O
	// or protocol error, a 421, or a cancelled context. It is then closed
	// instead of going back to the pool.
	broken atomic.Bool

	wmu  sync.Mutex
	wbuf []byte

	// dmu guards the cancellation state and the data connection or
	// listener in use, which a cancelled context interrupts.
	dmu       sync.Mutex
	cancelled bool
	dataRaw   net.Conn
	dataLn    *net.TCPListener
}

// bind ties the connection to ctx: when ctx ends, every blocked read and
// write on the control and data connections fails at once. The returned
// function undoes the tie; if ctx ended meanwhile the connection is marked
// broken, since a command may have been cut in half.
func (cn *conn) bind(ctx context.Context) func() {
	cn.dmu.Lock()
	cn.cancelled = false
	cn.dmu.Unlock()
	if ctx.Done() == nil {
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() {
		cn.dmu.Lock()
		defer cn.dmu.Unlock()
		cn.cancelled = true
		cn.raw.SetDeadline(aLongTimeAgo)
		if cn.dataRaw != nil {
			cn.dataRaw.SetDeadline(aLongTimeAgo)
		}
		if cn.dataLn != nil {
			cn.dataLn.SetDeadline(aLongTimeAgo)
		}
	})
	return func() {
		if !stop() {
			cn.broken.Store(true)
		}
	}
}

const (
	armRead = 1 << iota
	armWrite
	armBoth = armRead | armWrite
)

// arm sets the deadline of the next read and/or write on c: the timeout
// from now, or the past when the call's context has ended. It holds dmu so
// that it cannot undo a cancellation that happens at the same moment.
func (cn *conn) arm(c net.Conn, which int) {
	cn.dmu.Lock()
	defer cn.dmu.Unlock()
	t := cn.deadlineLocked()
	switch which {
	case armRead:
		c.SetReadDeadline(t)
	case armWrite:
		c.SetWriteDeadline(t)
	default:
		c.SetDeadline(t)
	}
}

func (cn *conn) deadlineLocked() time.Time {
	if cn.cancelled {
		return aLongTimeAgo
	}
	if d := cn.c.cfg.timeout; d > 0 {
		return time.Now().Add(d)
	}
	return time.Time{}
}

// trackData registers the data connection so that cancellation reaches it.
func (cn *conn) trackData(c net.Conn) {
	cn.dmu.Lock()
	defer cn.dmu.Unlock()
	cn.dataRaw = c
	if c != nil && cn.cancelled {
		c.SetDeadline(aLongTimeAgo)
	}
}

func (cn *conn) trackListener(ln *net.TCPListener) {
	cn.dmu.Lock()
	defer cn.dmu.Unlock()
	cn.dataLn = ln
	if ln != nil {
		ln.SetDeadline(cn.deadlineLocked())
	}
}

// writeLine sends one command line. A 0xFF byte is doubled, as RFC 959
// asks of the Telnet stream (the server undoes it).
func (cn *conn) writeLine(line string) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.c.trace.command(cn.id, line)
	b := cn.wbuf[:0]
	for i := 0; i < len(line); i++ {
		b = append(b, line[i])
		if line[i] == 0xFF {
			b = append(b, 0xFF)
		}
	}
	b = append(b, '\r', '\n')
	cn.wbuf = b
	cn.arm(cn.raw, armWrite)
	if _, err := cn.nc.Write(b); err != nil {
		cn.broken.Store(true)
		verb, _, _ := strings.Cut(line, " ")
		return fmt.Errorf("ftpclient: sending %s: %w", verb, err)
	}
	return nil
}

// readReply reads the next reply, whatever its code.
func (cn *conn) readReply() (reply, error) {
	cn.arm(cn.raw, armRead)
	return cn.readArmed()
}

// readArmed is readReply with the read deadline already set.
func (cn *conn) readArmed() (reply, error) {
	r, err := readReply(cn.br)
	if err != nil {
		cn.broken.Store(true)
		return r, fmt.Errorf("ftpclient: reading reply: %w", err)
	}
	cn.c.trace.reply(cn.id, r)
	if r.code == ftp.CodeRestartMarker && cn.marks != nil {
		cn.marks.markReply(r.msg)
	}
	if r.code == ftp.CodeServiceNotAvailable {
		cn.broken.Store(true) // 421: the server is closing this connection
	}
	return r, nil
}

// finalReply reads replies until one that is not preliminary (1xx).
func (cn *conn) finalReply() (reply, error) {
	for {
		r, err := cn.readReply()
		if err != nil {
			return r, err
		}
		if r.code >= 200 {
			return r, r.err()
		}
	}
}

// cmd sends a command and reads its final reply; a negative reply is
// returned as the error too. With no args the format is sent as it is.
func (cn *conn) cmd(format string, args ...any) (reply, error) {
	line := format
	if len(args) > 0 {
		line = fmt.Sprintf(format, args...)
	}
	if err := cn.writeLine(line); err != nil {
		return reply{}, err
	}
	return cn.finalReply()
}

// ok is cmd for a command whose success is any 2xx reply.
func (cn *conn) ok(format string, args ...any) (reply, error) {
	r, err := cn.cmd(format, args...)
	if err == nil && r.code/100 != 2 {
		err = cn.unexpected(r)
	}
	return r, err
}

// unexpected reports a reply the client has no use for at this point; the
// connection's state is unknown after it, so it is not reused.
func (cn *conn) unexpected(r reply) error {
	cn.broken.Store(true)
	return fmt.Errorf("%w: unexpected reply %d %s", ErrProtocol, r.code, clip(r.msg))
}

// setType switches the representation type if needed.
func (cn *conn) setType(ascii bool) error {
	want := byte('I')
	if ascii {
		want = 'A'
	}
	if cn.typ == want {
		return nil
	}
	if _, err := cn.ok("TYPE %c", want); err != nil {
		return err
	}
	cn.typ = want
	return nil
}

func (cn *conn) peerIP() netip.Addr  { return addrIP(cn.raw.RemoteAddr()) }
func (cn *conn) localIP() netip.Addr { return addrIP(cn.raw.LocalAddr()) }

// addrIP is the IP address of a; an IPv4-mapped IPv6 address comes back
// as plain IPv4.
func addrIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap()
}

// close drops the connection. A data connection still open is reset, not
// closed, so that the server cannot take a cut-short upload for a
// complete one.
func (cn *conn) close() {
	cn.dmu.Lock()
	data, ln := cn.dataRaw, cn.dataLn
	cn.dmu.Unlock()
	if data != nil {
		resetConn(data)
	}
	if ln != nil {
		ln.Close()
	}
	cn.raw.Close()
}

// quit ends the session politely, within a short time.
func (cn *conn) quit() {
	cn.raw.SetDeadline(time.Now().Add(quitTimeout))
	if err := cn.writeLine("QUIT"); err == nil {
		readReply(cn.br)
	}
	cn.close()
}

const quitTimeout = 2 * time.Second

// resetConn closes a TCP connection with a reset rather than a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// dialConn opens, secures and logs in one control connection. first is
// set for the Client's first connection, which also learns the features
// and the login directory.
func (c *Client) dialConn(ctx context.Context, first bool) (_ *conn, err error) {
	dctx := ctx
	if c.cfg.timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, c.cfg.timeout)
		defer cancel()
	}
	raw, err := c.cfg.dial(dctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	cn := &conn{c: c, id: c.nextID.Add(1), raw: raw, nc: raw}
	c.log.Debug("connected", "conn", cn.id, "addr", c.addr)
	unbind := cn.bind(ctx)
	defer func() {
		unbind()
		if err == nil && cn.broken.Load() {
			err = fmt.Errorf("ftpclient: connection lost while logging in: %w", context.Cause(ctx))
		}
		if err != nil {
			cn.close()
		}
	}()
	if c.cfg.tlsMode != tlsNone {
		cn.tlsConf = c.connTLSConfig()
	}
	if c.cfg.tlsMode == tlsImplicit {
		if err := cn.startTLS(ctx); err != nil {
			return nil, err
		}
	} else {
		cn.br = bufio.NewReaderSize(raw, 4096)
	}
	if err := cn.greeting(); err != nil {
		return nil, err
	}
	if err := cn.sendHost(); err != nil {
		return nil, err
	}
	if c.cfg.tlsMode == tlsExplicit {
		if err := cn.authTLS(ctx); err != nil {
			return nil, err
		}
	}
	protectLater := false
	if cn.tlsConf != nil {
		if err := cn.protect(); err != nil {
			// curl's order, which most servers expect; a few want the
			// login first.
			if ftp.CodeOf(err) != ftp.CodeNotLoggedIn || cn.broken.Load() {
				return nil, err
			}
			protectLater = true
		}
	}
	if err := cn.login(); err != nil {
		return nil, err
	}
	if protectLater {
		if err := cn.protect(); err != nil {
			return nil, err
		}
	}
	if err := cn.setup(first); err != nil {
		return nil, err
	}
	return cn, nil
}

// connTLSConfig is the TLS config of one control connection and its data
// connections: the user's, with the server name set and a session cache
// of its own, so that data connections resume this control connection's
// session and not another's.
func (c *Client) connTLSConfig() *tls.Config {
	conf := c.cfg.tlsConfig.Clone()
	if conf == nil {
		conf = &tls.Config{}
	}
	if conf.ServerName == "" {
		// Also the session cache key: data connections go to other ports,
		// and without a name the key would be the address and differ.
		conf.ServerName = c.tlsServerName()
	}
	conf.ClientSessionCache = &sessionCache{}
	return conf
}

// sessionCache holds the TLS session of one control connection for its
// data connections (a single server name: a single entry). It ignores
// deletions: crypto/tls deletes the cached session when a resuming
// handshake fails, which also happens when the client abandons a data
// connection itself (after a refused RETR, say), and without the session
// every later data connection would be refused by servers that require
// session reuse. A session the server no longer accepts costs a full
// handshake, as a missing one would.
type sessionCache struct {
	mu      sync.Mutex
	session *tls.ClientSessionState
}

func (sc *sessionCache) Get(string) (*tls.ClientSessionState, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.session, sc.session != nil
}

func (sc *sessionCache) Put(_ string, cs *tls.ClientSessionState) {
	if cs == nil {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.session = cs
}

func (cn *conn) startTLS(ctx context.Context) error {
	tc := tls.Client(cn.raw, cn.tlsConf)
	cn.arm(cn.raw, armBoth)
	if err := tc.HandshakeContext(ctx); err != nil {
		cn.broken.Store(true)
		return fmt.Errorf("ftpclient: TLS handshake: %w", err)
	}
	cn.nc = tc
	cn.br = bufio.NewReaderSize(tc, 4096)
	return nil
}

func (cn *conn) greeting() error {
	for {
		r, err := cn.readReply()
		if err != nil {
			return err
		}
		switch {
		case r.code == ftp.CodeReadyMinutes: // "ready in n minutes": the 220 follows
			continue
		case r.code == ftp.CodeServiceReady:
			return nil
		case r.code >= 400:
			return r.err()
		}
		return cn.unexpected(r)
	}
}

// authTLS upgrades the control connection (RFC 4217 §4).
func (cn *conn) authTLS(ctx context.Context) error {
	r, err := cn.cmd("AUTH TLS")
	if isUnsupported(err) || ftp.CodeOf(err) == ftp.CodeArgumentError {
		// Some old servers know only the draft's name.
		r, err = cn.cmd("AUTH SSL")
	}
	if err != nil {
		return fmt.Errorf("ftpclient: server refused AUTH TLS: %w", err)
	}
	if r.code != ftp.CodeAuthOK && r.code != 334 {
		return cn.unexpected(r)
	}
	if cn.br.Buffered() > 0 {
		// Bytes sent behind the 234 in clear text would be read as if
		// they came over TLS.
		cn.broken.Store(true)
		return fmt.Errorf("%w: data after the reply to AUTH TLS", ErrProtocol)
	}
	return cn.startTLS(ctx)
}

// protect sends PBSZ 0 and PROT P. The reply to PBSZ also brings in the
// TLS 1.3 session ticket, which arrives after the handshake and which the
// data connections need to resume the session.
func (cn *conn) protect() error {
	implicit := cn.c.cfg.tlsMode == tlsImplicit
	if _, err := cn.ok("PBSZ 0"); err != nil && !(implicit && !cn.broken.Load()) {
		return fmt.Errorf("ftpclient: PBSZ: %w", err)
	}
	if _, err := cn.ok("PROT P"); err != nil && !(implicit && !cn.broken.Load()) {
		// Never fall back to clear data when the user asked for TLS.
		return fmt.Errorf("ftpclient: server refused to protect data connections: %w", err)
	}
	cn.protP = true
	return nil
}

func (cn *conn) login() error {
	user, pass := cn.c.cfg.user, cn.c.cfg.pass
	r, err := cn.cmd("USER %s", user)
	if err != nil {
		return fmt.Errorf("ftpclient: login: %w", err)
	}
	switch r.code {
	case ftp.CodeLoggedIn, ftp.CodeLoggedInSecurity, ftp.CodeNotImplementedOK:
		return nil
	case ftp.CodeNeedPassword:
	default:
		return cn.unexpected(r)
	}
	r, err = cn.cmd("PASS %s", pass)
	if err != nil {
		return fmt.Errorf("ftpclient: login: %w", err)
	}
	switch r.code {
	case ftp.CodeLoggedIn, ftp.CodeLoggedInSecurity, ftp.CodeNotImplementedOK:
		return nil
	case ftp.CodeNeedAccount:
		cn.broken.Store(true)
		return fmt.Errorf("%w: the server asks for an account (ACCT)", ErrUnsupported)
	}
	return cn.unexpected(r)
}

// wantedFacts are the MLSx facts the client asks for.
var wantedFacts = []string{"type", "size", "modify", "perm", "unix.mode", "unique"}

// setup prepares a logged-in connection. Failures of optional commands
// are ignored; only a broken connection is an error.
func (cn *conn) setup(first bool) error {
	c := cn.c
	if first {
		if r, err := cn.cmd("FEAT"); err == nil && r.code == ftp.CodeSystemStatus {
			c.feats = parseFeatures(r.msg)
		}
		if r, err := cn.cmd("PWD"); err == nil && r.code == ftp.CodePathCreated {
			c.home = parsePWD(r.msg)
		}
	}
	if c.feats.Has("UTF8") {
		cn.cmd("OPTS UTF8 ON")
	}
	if param, ok := c.feats.Param("MLST"); ok && c.cfg.useMLSx {
		supported, selected := factList(param)
		var facts []string
		missing := false
		for _, f := range wantedFacts {
			for _, s := range supported {
				if s == f {
					facts = append(facts, f)
					missing = missing || !selected[f]
				}
			}
		}
		if missing {
			cn.cmd("OPTS MLST %s;", strings.Join(facts, ";"))
		}
	}
	if param, ok := c.feats.Param("HASH"); ok {
		algos, selected := factList(param)
		for _, a := range algos {
			if selected[a] {
				cn.hashAlgo = canonicalHash(a)
			}
		}
	}
	if cn.broken.Load() {
		return fmt.Errorf("ftpclient: connection lost after login")
	}
	return nil
}

// parsePWD extracts the directory from a 257 reply: the text between the
// first double quote and the next one that is not doubled (RFC 959
// Appendix II), or a leading absolute path when there are no quotes.
func parsePWD(msg string) string {
	start := strings.IndexByte(msg, '"')
	if start < 0 {
		if f := strings.Fields(msg); len(f) > 0 && strings.HasPrefix(f[0], "/") {
			return f[0]
		}
		return ""
	}
	var b strings.Builder
	for i := start + 1; i < len(msg); i++ {
		if msg[i] != '"' {
			b.WriteByte(msg[i])
			continue
		}
		if i+1 < len(msg) && msg[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		return b.String()
	}
	return "" // no closing quote
}
