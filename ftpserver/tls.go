package ftpserver

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// TLSPolicy says what a listener demands of TLS (RFC 4217).
type TLSPolicy struct {
	// RequireLogin refuses USER on a connection without TLS (530).
	RequireLogin bool
	// RequireData refuses PROT C and transfers without PROT P.
	RequireData bool
	// AllowUnresumedData accepts PROT P data connections that do not
	// resume the TLS session of their control connection. By default they
	// are refused (as vsftpd's require_ssl_reuse does), so a stolen data
	// port is useless; some clients cannot resume and need this.
	AllowUnresumedData bool
	// AllowCCC lets a client drop TLS from the control connection after
	// login (CCC, RFC 4217 §6), for NAT devices that must read PORT.
	AllowCCC bool
}

// tlsState is one session's FTPS state.
type tlsState struct {
	raw    net.Conn    // the TCP connection under the TLS control connection
	config *tls.Config // this session's config: tickets carry its token
	pbsz   bool
	protP  bool
	// sscn: the server takes the TLS client role on data connections
	// (SSCN ON; see sscn.go).
	sscn bool
	// handshakeFirst: the client has begun a passive data connection's
	// handshake before its transfer command (see awaitSecured).
	handshakeFirst bool
}

func (s *session) secure() bool { return s.tls.raw != nil }

// sessionConfig returns this session's TLS config, made on first use. Its
// tickets carry a random token of this control session, and only tickets
// with that token are resumed: a data connection can resume its own
// control connection's session and nobody else's.
func (s *session) sessionConfig() *tls.Config {
	if s.tls.config != nil {
		return s.tls.config
	}
	token := make([]byte, 16)
	rand.Read(token)
	conf := s.srv.TLSConfig.Clone()
	conf.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		ss.Extra = [][]byte{token}
		return conf.EncryptTicket(cs, ss)
	}
	conf.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := conf.DecryptTicket(identity, cs)
		if err != nil || ss == nil || len(ss.Extra) != 1 || !bytes.Equal(ss.Extra[0], token) {
			return nil, nil // not ours: a full handshake, which is then refused
		}
		return ss, nil
	}
	s.withHostCertificates(conf)
	s.tls.config = conf
	return conf
}

// startTLS runs the server side of a handshake on the control connection
// and switches the session's reader and writer to it.
func (s *session) startTLS() error {
	raw := s.conn
	tc := tls.Server(&recordConn{Conn: raw}, s.sessionConfig())
	tc.SetDeadline(time.Now().Add(durationOr(s.srv.LoginTimeout, DefaultLoginTimeout)))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	s.wmu.Lock()
	s.conn = tc
	s.wmu.Unlock()
	s.setInfoTLS(true)
	s.tls.raw = raw
	s.newLineReader()
	return nil
}

func cmdAUTH(s *session, arg string) error {
	if s.srv.TLSConfig == nil {
		return ftp.Errorf(ftp.CodeNotImplemented, "TLS is not configured on this server.")
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "TLS", "TLS-C", "SSL", "TLS-P":
	default:
		return ftp.Errorf(ftp.CodeParamNotImplemented, "Unsupported security mechanism; use AUTH TLS.")
	}
	if s.secure() {
		return ftp.Errorf(ftp.CodeBadSequence, "TLS is already active.")
	}
	if s.lr.Buffered() > 0 {
		// Commands sent behind AUTH before the handshake would be taken
		// as if they came over TLS (command injection): refuse.
		s.reply(ftp.CodeServiceNotAvailable, "Commands pipelined after AUTH; closing.")
		s.quitting = true
		return nil
	}
	s.reply(ftp.CodeAuthOK, "AUTH TLS ok, starting the handshake.")
	if err := s.startTLS(); err != nil {
		s.log.Info("TLS handshake failed", "err", err)
		s.quitting = true
		return nil
	}
	// RFC 4217 §4: a new security exchange resets the login.
	s.logout()
	if strings.EqualFold(strings.TrimSpace(arg), "TLS-P") {
		s.tls.pbsz, s.tls.protP = true, true
	}
	return nil
}

func cmdPBSZ(s *session, arg string) error {
	if !s.secure() {
		return ftp.Errorf(ftp.CodeBadSequence, "PBSZ needs AUTH TLS first.")
	}
	if strings.TrimSpace(arg) == "" {
		return ftp.Errorf(ftp.CodeArgumentError, "PBSZ needs an argument.")
	}
	// TLS is a stream: the buffer size is always 0 (RFC 4217 §8).
	s.tls.pbsz = true
	s.reply(ftp.CodeOK, "PBSZ=0")
	return nil
}

func cmdPROT(s *session, arg string) error {
	if !s.secure() || !s.tls.pbsz {
		return ftp.Errorf(ftp.CodeBadSequence, "PROT needs AUTH TLS and PBSZ first.")
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "P":
		s.tls.protP = true
		s.reply(ftp.CodeOK, "Protection level set to Private.")
	case "C":
		if s.requireDataTLS() {
			return ftp.Errorf(ftp.CodeDeniedPolicy, "Clear data connections are not allowed; use PROT P.")
		}
		s.tls.protP = false
		s.reply(ftp.CodeOK, "Protection level set to Clear.")
	case "S", "E":
		return ftp.Errorf(ftp.CodeProtLevelDenied, "PROT %s is not supported with TLS; use P or C.", strings.ToUpper(strings.TrimSpace(arg)))
	default:
		return ftp.Errorf(ftp.CodeParamNotImplemented, "Unknown protection level.")
	}
	return nil
}

func cmdCCC(s *session, _ string) error {
	if !s.secure() {
		return ftp.Errorf(ftp.CodeBadSequence, "The control connection is not protected.")
	}
	if !s.listener.TLS.AllowCCC {
		return ftp.Errorf(ftp.CodeDeniedPolicy, "CCC is not allowed on this server.")
	}
	s.reply(ftp.CodeOK, "Clearing the control connection.")
	s.clearTLS()
	return nil
}

// clearTLS ends TLS on the control connection (CCC, REIN) and goes back to
// the TCP connection under it.
func (s *session) clearTLS() {
	tc := s.conn.(*tls.Conn)
	// Close our direction of TLS and wait for the client's close_notify;
	// what follows is clear text on the same TCP connection (recordConn
	// keeps crypto/tls from reading any of it).
	tc.CloseWrite()
	tc.SetReadDeadline(time.Now().Add(durationOr(s.srv.DataTimeout, DefaultDataTimeout)))
	var buf [256]byte
	for {
		if _, err := tc.Read(buf[:]); err != nil {
			break
		}
	}
	s.wmu.Lock()
	s.conn = s.tls.raw
	s.wmu.Unlock()
	s.setInfoTLS(false)
	s.conn.SetReadDeadline(time.Time{})
	s.newLineReader()
	s.tls.raw = nil
}

// requireDataTLS reports whether this session's data must be protected.
func (s *session) requireDataTLS() bool {
	return s.listener.TLS.RequireData || s.acct != nil && s.acct.RequireTLS
}

// checkDataProtection is called before a transfer answers 150 and opens
// its connection. A PROT P data connection that has already arrived
// finishes its handshake first (see awaitSecured).
func (s *session) checkDataProtection() error {
	if s.requireDataTLS() && !s.tls.protP {
		return ftp.Errorf(ftp.CodeDataProtDenied, "Data connections must be protected; send PBSZ 0 and PROT P.")
	}
	s.awaitSecured()
	return nil
}

var aLongTimeAgo = time.Unix(1, 0)

// securedWait bounds how long a transfer command waits for the handshake
// of its data connection before answering 150: far longer than the
// handshake of a client that is not stalling, short enough that a stalled
// one holds up only its own session, and not for long.
const securedWait = 5 * time.Second

// awaitSecured waits, before the 150, for the handshake of a data
// connection secured early (secureEarly) when the client connected and
// started its handshake before sending the transfer command. basic-ftp
// does, takes the cipher of the session it resumes for a finished
// handshake, and closes an empty upload's connection as soon as it reads
// 150: a 150 sent before the server's side of the handshake makes that
// close come before the client's Finished. Clients that start their
// handshake only after 150 (ftplib, curl) are not waited for.
func (s *session) awaitSecured() {
	sd := s.data.secured
	if sd == nil {
		return
	}
	timer := time.NewTimer(securedWait)
	defer timer.Stop()
	if s.tls.handshakeFirst {
		s.awaitHandshakeFirst(sd, timer.C)
		return
	}
	sd.mu.Lock()
	accepted := sd.raw != nil
	sd.pausing = !accepted
	sd.mu.Unlock()
	if !accepted {
		// Whether the client has connected is in the listener's queue;
		// the accept is stopped to look at it, so that a connection is
		// never between the queue and sd.raw when looked for.
		ln := s.data.ln
		setDeadline(ln, aLongTimeAgo)
		select {
		case <-sd.accepted: // taken just before the stop
		case <-sd.done:
			return
		case <-sd.paused:
			connected := readable(ln)
			setDeadline(ln, time.Time{})
			sd.mu.Lock()
			sd.pausing = false
			sd.mu.Unlock()
			sd.resume <- struct{}{}
			if !connected {
				return
			}
			select { // accepted in a moment
			case <-sd.accepted:
			case <-sd.done:
				return
			case <-timer.C:
				return
			}
		}
	}
	sd.mu.Lock()
	raw := sd.raw
	sd.mu.Unlock()
	if !readable(raw) && !sd.started.Load() {
		return // the client waits for 150 before its handshake
	}
	s.tls.handshakeFirst = true
	select {
	case <-sd.done:
	case <-timer.C:
	}
}

// handshakeGrace is how long a client that began its last data
// connection's handshake before the transfer command is given for this
// one's to begin before the server answers 150 anyway.
const handshakeGrace = 250 * time.Millisecond

// awaitHandshakeFirst waits for the handshake of a client that began the
// last one before its transfer command, even if this connection or its
// ClientHello is still on the way: segments of two connections are not
// ordered, and on a loaded machine even loopback now and then delivers
// the command first. A client that this time waits for 150 costs
// handshakeGrace, once: the session goes back to looking.
func (s *session) awaitHandshakeFirst(sd *securedData, limit <-chan time.Time) {
	grace := time.NewTimer(handshakeGrace)
	defer grace.Stop()
	select {
	case <-sd.startedc:
	case <-sd.done:
		return
	case <-grace.C:
		s.tls.handshakeFirst = false
		return
	}
	select {
	case <-sd.done:
	case <-limit:
	}
}

// errNotResumed refuses a PROT P data connection that did not resume its
// control connection's TLS session.
var errNotResumed = ftp.Errorf(ftp.CodeCantOpenData, "TLS session of the data connection must resume the control connection's session.")

// secureData runs the TLS handshake of a PROT P data connection (the
// client is the TLS client whichever side opened the TCP connection, RFC
// 4217 §7) and checks that it resumed this session.
func (s *session) secureData(conn net.Conn) (net.Conn, error) {
	if tc, ok := conn.(*tls.Conn); ok {
		return tc, nil // secured as soon as it arrived (secureEarly)
	}
	tc := tls.Server(conn, s.sessionConfig())
	tc.SetDeadline(time.Now().Add(durationOr(s.srv.DataTimeout, DefaultDataTimeout)))
	if err := tc.Handshake(); err != nil {
		s.log.Info("data TLS handshake failed", "err", err)
		conn.Close() // secured early, nobody else holds it
		return nil, ftp.Errorf(ftp.CodeCantOpenData, "TLS handshake on the data connection failed.")
	}
	tc.SetDeadline(time.Time{})
	if !tc.ConnectionState().DidResume && !s.listener.TLS.AllowUnresumedData && !s.fxpPeer(conn) {
		s.log.Warn("refused data connection: it did not resume this session's TLS session "+
			"(client shares one session cache across connections? see allow_unresumed_data)",
			"from", conn.RemoteAddr().String())
		tc.Close()
		return nil, errNotResumed
	}
	return tc, nil
}

// securedData is the data connection of a PROT P passive channel,
// accepted and secured as soon as the client connects rather than when
// the transfer command comes. Clients such as Node's basic-ftp start the
// handshake right after PASV/EPSV, count a resumed session as done early,
// and half-close an empty upload's connection at once: a server that
// starts its side of the handshake only after 150 then finds the
// connection closed.
type securedData struct {
	done chan struct{} // closed once conn or err is set
	conn net.Conn
	err  error

	accepted chan struct{} // closed once raw is set
	started  atomic.Bool   // the client has sent the start of its handshake
	startedc chan struct{} // closed once started is set

	// awaitSecured stops the accept (pausing, and a deadline in the
	// past), the goroutine says it stopped (paused) and waits for resume.
	paused, resume chan struct{}

	mu      sync.Mutex
	raw     net.Conn // the accepted connection
	closed  bool
	pausing bool
}

// markStarted records that the client has sent the start of its
// handshake.
func (sd *securedData) markStarted() {
	if sd.started.CompareAndSwap(false, true) {
		close(sd.startedc)
	}
}

// startedConn marks its securedData started when its first bytes arrive.
type startedConn struct {
	net.Conn
	sd *securedData
}

func (c startedConn) Read(p []byte) (int, error) {
	if !c.sd.started.Load() {
		// Marked before the bytes are taken, so that awaitSecured,
		// which looks at the socket first and then at started, never
		// finds neither while the ClientHello is on its way in.
		waited, err := awaitBytes(c.Conn)
		if err != nil {
			return 0, err
		}
		if waited {
			c.sd.markStarted()
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.sd.markStarted()
	}
	return n, err
}

// secureEarly starts accepting and securing the passive channel's
// connection in the background when data connections are protected.
func (s *session) secureEarly() {
	if !s.tls.protP || s.data.ln == nil || s.tlsClientRole(&s.data) {
		return // in the client role the handshake waits for the transfer
	}
	s.sessionConfig() // made here: the goroutine below only reads it
	sd := &securedData{
		done:     make(chan struct{}),
		accepted: make(chan struct{}),
		startedc: make(chan struct{}),
		paused:   make(chan struct{}),
		resume:   make(chan struct{}),
	}
	s.data.secured = sd
	ln := s.data.ln
	// A reused listener keeps its last transfer's deadline; the wait is
	// bounded from the transfer command on (connect sets it).
	setDeadline(ln, time.Time{})
	go func() {
		defer close(sd.done)
		for {
			raw, err := s.acceptData(ln)
			sd.mu.Lock()
			if err != nil && sd.pausing && isTimeout(err) {
				// awaitSecured stopped the accept to look at the queue.
				sd.mu.Unlock()
				sd.paused <- struct{}{}
				<-sd.resume
				continue
			}
			sd.raw = raw
			closed := sd.closed
			sd.mu.Unlock()
			if err != nil {
				sd.err = err
				return
			}
			close(sd.accepted)
			if closed {
				raw.Close()
				sd.err = errAborted
				return
			}
			sd.conn, sd.err = s.secureData(startedConn{raw, sd})
			return
		}
	}()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// setDeadline sets a listener's accept deadline.
func setDeadline(ln net.Listener, t time.Time) {
	if tl, ok := ln.(interface{ SetDeadline(time.Time) error }); ok {
		tl.SetDeadline(t)
	}
}

// wait returns the secured connection once it is there (the listener's
// deadline and the handshake's bound the wait; close ends it early).
// protP is the protection level now: if the client has switched to PROT C
// since PASV/EPSV, the secured connection is of no use.
func (sd *securedData) wait(protP bool) (net.Conn, error) {
	if !protP {
		sd.close()
		return nil, ftp.Errorf(ftp.CodeCantOpenData, "Protection level changed after PASV/EPSV; send EPSV or PASV again.")
	}
	<-sd.done
	return sd.conn, sd.err
}

// close drops the connection, accepted or still in its handshake.
func (sd *securedData) close() {
	sd.mu.Lock()
	sd.closed = true
	raw := sd.raw
	sd.mu.Unlock()
	if raw != nil {
		raw.Close()
	}
}

// securedListener is a passive listener whose Close (ABOR) also drops the
// connection being secured in the background.
type securedListener struct {
	net.Listener
	secured *securedData
}

func (l securedListener) Close() error {
	l.secured.close()
	return l.Listener.Close()
}

// connState is the control connection's TLS state, for authenticators.
func (s *session) connState() *tls.ConnectionState {
	if tc, ok := s.conn.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		return &cs
	}
	return nil
}
