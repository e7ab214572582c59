package ftpserver

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// dataChannel is the data connection a client prepared with PASV/EPSV
// (a listener) or PORT/EPRT (an address to dial). Each is used for one
// transfer.
type dataChannel struct {
	ln      net.Listener
	active  netip.AddrPort
	secured *securedData // PROT P: ln's connection, accepted and secured early
	// tlsClient: this server is the TLS client of the connection (CPSV).
	tlsClient bool
}

func (d *dataChannel) ready() bool { return d.ln != nil || d.active.IsValid() }

func (d *dataChannel) close() {
	if d.secured != nil {
		d.secured.close()
	}
	if d.ln != nil {
		d.ln.Close()
	}
	d.take()
}

// take hands the prepared channel to a transfer and clears it.
func (d *dataChannel) take() dataChannel {
	c := *d
	*d = dataChannel{}
	return c
}

// setPassive makes ln the session's data channel.
func (s *session) setPassive(ln net.Listener) {
	s.data.close()
	s.data.ln = ln
}

// listenPassive opens a listener on the control connection's local address,
// in the configured port range, or else in the kernel's ephemeral range,
// unless the client's address holds its share of passive listeners
// (Server.MaxPassivePerIP).
func (s *session) listenPassive() (net.Listener, error) {
	if ln := s.takeSpare(); ln != nil {
		if drainListener(ln) {
			return ln, nil
		}
		ln.Close()
	}
	release, ok := s.srv.reservePassive(s.remote)
	if !ok {
		return nil, ftp.Errorf(ftp.CodeCantOpenData, "Too many passive connections open from your address; finish or close some first.")
	}
	ln, err := s.openPassive()
	if err != nil {
		release()
		return nil, err
	}
	return &passiveListener{TCPListener: ln, release: release}, nil
}

// passiveListener is a passive listener counted against its client's
// address (Server.MaxPassivePerIP) until it is closed.
type passiveListener struct {
	*net.TCPListener
	once    sync.Once
	release func()
}

func (l *passiveListener) Close() error {
	err := l.TCPListener.Close()
	l.once.Do(l.release)
	return err
}

// openPassive binds the listener of listenPassive.
//
// It picks ports itself rather than binding port 0: with thousands of data
// connections in TIME_WAIT the kernel's own search for a free ephemeral
// port scans every occupied port, while binding one chosen port checks
// only that port.
func (s *session) openPassive() (*net.TCPListener, error) {
	local := addrIP(s.conn.LocalAddr())
	lo, hi := s.srv.PassivePorts.Min, s.srv.PassivePorts.Max
	configured := lo > 0 && hi >= lo
	if !configured {
		lo, hi = ephemeralPorts()
	}
	n := hi - lo + 1
	attempts := n
	if !configured {
		attempts = min(n, 32)
	}
	// A random port, and after a failed bind the next of a random walk
	// through the range (a random stride coprime with its size visits
	// every port once): the port a session gets says nothing about the
	// next session's, so nobody can connect to it first (RFC 2577 §8).
	first, stride := rand.IntN(n), randomStride(n)
	for i := 0; i < attempts; i++ {
		port := lo + (first+i*stride)%n
		if ln, err := listenTCP(s.ctx, netip.AddrPortFrom(local, uint16(port))); err == nil {
			return ln, nil
		}
	}
	if !configured {
		return listenTCP(s.ctx, netip.AddrPortFrom(local, 0))
	}
	return nil, ftp.Errorf(ftp.CodeCantOpenData, "No passive port free, try again later.")
}

// randomStride returns a random step in [1, n) that is coprime with n
// (1 when n < 3), so that n steps from any start visit every residue once.
func randomStride(n int) int {
	if n < 3 {
		return 1
	}
	for {
		stride := 1 + rand.IntN(n-1)
		a, b := stride, n
		for b != 0 {
			a, b = b, a%b
		}
		if a == 1 {
			return stride
		}
	}
}

// dataListen opens passive listeners. Data connections get no TCP
// keepalive (the data deadline already drops a silent peer): that saves
// four setsockopt(2) calls per accepted connection, a small file's worth.
var dataListen = net.ListenConfig{KeepAlive: -1}

func listenTCP(ctx context.Context, addr netip.AddrPort) (*net.TCPListener, error) {
	ln, err := dataListen.Listen(ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// Reusing the passive listener of the previous transfer saves a socket,
// bind, listen and close per file, a large part of a small file's cost
// (bench/RESULTS.md). A listener is kept only from the end of a
// successful passive transfer to the session's next command: PASV or
// EPSV reuses it, anything else closes it, so a configured port range is
// held no longer than before.

// keepSpare stores the listener of a finished transfer for reuse.
func (s *session) keepSpare(ln net.Listener) {
	s.xmu.Lock()
	old := s.spare
	s.spare = ln
	s.xmu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (s *session) takeSpare() net.Listener {
	s.xmu.Lock()
	defer s.xmu.Unlock()
	ln := s.spare
	s.spare = nil
	return ln
}

// dropSpare closes a kept listener that the session's next command did not
// reuse.
func (s *session) dropSpare() {
	if ln := s.takeSpare(); ln != nil {
		ln.Close()
	}
}

func (s *session) refuseAfterEPSVAll(verb string) error {
	if s.epsvAll {
		return ftp.Errorf(ftp.CodeBadSequence, "%s not allowed after EPSV ALL.", verb)
	}
	return nil
}

func cmdPASV(s *session, _ string) error { return s.passive4("PASV", false) }

// passive4 opens an IPv4 passive channel and answers 227 (PASV, CPSV);
// tlsClient makes this server the TLS client of its connection.
func (s *session) passive4(verb string, tlsClient bool) error {
	if err := s.refuseAfterEPSVAll(verb); err != nil {
		return err
	}
	announce := addrIP(s.conn.LocalAddr())
	if s.srv.PublicHost != "" {
		ip, err := netip.ParseAddr(s.srv.PublicHost)
		if err != nil {
			// A host name: resolve it now, so a dynamic address is followed.
			ips, rerr := net.DefaultResolver.LookupNetIP(s.ctx, "ip4", s.srv.PublicHost)
			if rerr != nil || len(ips) == 0 {
				s.log.Error("public host does not resolve", "host", s.srv.PublicHost, "err", rerr)
				return ftp.Errorf(ftp.CodeCantOpenData, "Can't open passive connection.")
			}
			ip = ips[0]
		}
		announce = ip.Unmap()
	}
	if !announce.Is4() {
		// A permanent refusal: PASV cannot describe an IPv6 address.
		return ftp.Errorf(ftp.CodeNetProtoUnsupported, "%s is IPv4 only; use EPSV.", verb)
	}
	// The previous listener goes first: it counts against the
	// client's share of passive listeners.
	s.data.close()
	ln, err := s.listenPassive()
	if err != nil {
		return err
	}
	s.setPassive(ln)
	s.data.tlsClient = tlsClient
	s.secureEarly()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	s.replyf(ftp.CodePassive, "Entering Passive Mode (%s).", ftp.FormatPORT(netip.AddrPortFrom(announce, port)))
	return nil
}

func cmdEPSV(s *session, arg string) error {
	family, all, err := ftp.ParseEPSVArg(arg)
	if err != nil {
		if errors.Is(err, ftp.ErrUnsupportedFamily) {
			return ftp.Errorf(ftp.CodeNetProtoUnsupported, "Network protocol not supported, use (%d).", s.family())
		}
		return ftp.Errorf(ftp.CodeArgumentError, "Bad EPSV argument.")
	}
	if all {
		s.epsvAll = true
		s.data.close()
		s.reply(ftp.CodeOK, "EPSV ALL ok.")
		return nil
	}
	if family != 0 && family != s.family() {
		return ftp.Errorf(ftp.CodeNetProtoUnsupported, "Network protocol not supported, use (%d).", s.family())
	}
	// The previous listener goes first: it counts against the
	// client's share of passive listeners.
	s.data.close()
	ln, err := s.listenPassive()
	if err != nil {
		return err
	}
	s.setPassive(ln)
	s.secureEarly()
	// The text of ftp.FormatEPSVReply, through the catalog.
	s.replyf(ftp.CodeExtendedPassive, "Entering Extended Passive Mode (|||%d|)", ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// family is the RFC 2428 protocol number of the control connection.
func (s *session) family() int {
	if addrIP(s.conn.LocalAddr()).Is4() {
		return 1
	}
	return 2
}

func cmdPORT(s *session, arg string) error {
	if err := s.refuseAfterEPSVAll("PORT"); err != nil {
		return err
	}
	ap, err := ftp.ParsePORT(arg)
	if err != nil {
		return ftp.Errorf(ftp.CodeArgumentError, "Bad PORT argument.")
	}
	return s.setActive("PORT", ap)
}

func cmdEPRT(s *session, arg string) error {
	if err := s.refuseAfterEPSVAll("EPRT"); err != nil {
		return err
	}
	ap, err := ftp.ParseEPRT(arg)
	if err != nil {
		if errors.Is(err, ftp.ErrUnsupportedFamily) {
			return ftp.Errorf(ftp.CodeNetProtoUnsupported, "Network protocol not supported, use (1,2).")
		}
		return ftp.Errorf(ftp.CodeArgumentError, "Bad EPRT argument.")
	}
	return s.setActive("EPRT", ap)
}

// setActive checks an active-mode address against RFC 2577: the data
// connection goes back to the client's own address and to an unprivileged
// port, so the server cannot be used to bounce traffic elsewhere.
func (s *session) setActive(verb string, ap netip.AddrPort) error {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if ap.Addr().IsUnspecified() {
		// "EPRT |2|::|port|" (lftp) and "PORT 0,0,0,0,..." mean "the
		// address you see me at": the control connection's peer.
		ap = netip.AddrPortFrom(addrIP(s.conn.RemoteAddr()), ap.Port())
	}
	if ap.Port() < 1024 {
		return ftp.Errorf(ftp.CodeSyntaxError, "Illegal %s command: port below 1024.", verb)
	}
	if !s.srv.AllowFXP && ap.Addr() != addrIP(s.conn.RemoteAddr()) {
		s.log.Warn("refused active data address", "verb", verb, "addr", ap.String())
		if s.srv.offend(s.remote, offenceData, s) {
			return nil // banned, and told so
		}
		return ftp.Errorf(ftp.CodeSyntaxError, "Illegal %s command: address must be your own.", verb)
	}
	s.data.close()
	s.data.active = ap
	s.replyf(ftp.CodeOK, "%s command successful. Consider using EPSV.", verb)
	return nil
}

// connect opens the data connection of channel ch for transfer t. A
// passive connection is accepted only from the client's address (unless FXP
// is allowed, see acceptData). Under PROT P a passive connection may have
// been accepted and secured already (secureEarly): it is a *tls.Conn then.
func (s *session) connect(ctx context.Context, ch dataChannel, t *transfer) (net.Conn, error) {
	timeout := durationOr(s.srv.DataTimeout, DefaultDataTimeout)
	deadline := time.Now().Add(timeout)
	if ch.ln != nil {
		// runTransfer keeps or closes the listener afterwards.
		var abortable net.Listener = ch.ln
		if ch.secured != nil {
			abortable = securedListener{ch.ln, ch.secured}
		}
		if !t.setListener(abortable) {
			return nil, errAborted
		}
		if tl, ok := ch.ln.(interface{ SetDeadline(time.Time) error }); ok {
			tl.SetDeadline(deadline)
		}
		var conn net.Conn
		var err error
		if ch.secured != nil {
			conn, err = ch.secured.wait(s.tls.protP)
		} else {
			conn, err = s.acceptData(ch.ln)
		}
		if err != nil {
			var fe *ftp.Error
			switch {
			case t.isAborted():
				return nil, errAborted
			case errors.As(err, &fe):
				return nil, err
			}
			return nil, ftp.Errorf(ftp.CodeCantOpenData, "Can't open data connection.")
		}
		return conn, nil
	}
	d := net.Dialer{
		Deadline:  deadline,
		KeepAlive: -1,
		LocalAddr: &net.TCPAddr{IP: addrIP(s.conn.LocalAddr()).AsSlice()},
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !t.setCancel(cancel) {
		return nil, errAborted
	}
	conn, err := d.DialContext(dctx, "tcp", ch.active.String())
	if err != nil {
		if t.isAborted() {
			return nil, errAborted
		}
		return nil, ftp.Errorf(ftp.CodeCantOpenData, "Can't open data connection.")
	}
	return conn, nil
}

// acceptData accepts a passive data connection on ln (see allowData).
func (s *session) acceptData(ln net.Listener) (net.Conn, error) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return nil, err
		}
		if s.allowData(conn) {
			return conn, nil
		}
		conn.Close()
	}
}

// allowData says whether a passive data connection may be used. Only the
// client's address may connect (unless FXP is allowed): anybody else who
// guesses the port is turned away and the wait goes on.
func (s *session) allowData(conn net.Conn) bool {
	if !s.srv.AllowFXP && addrIP(conn.RemoteAddr()) != s.remote {
		s.log.Warn("refused data connection from foreign address", "from", conn.RemoteAddr().String())
		s.srv.offend(addrIP(conn.RemoteAddr()), offenceData, nil)
		return false
	}
	return true
}

var errAborted = errors.New("transfer aborted")

// describeMode names the transfer type for 150 replies.
func (s *session) describeMode() string {
	if s.ascii {
		return "ASCII"
	}
	if s.ebcdic {
		return "EBCDIC"
	}
	return "BINARY"
}

func quoteName(name string) string {
	return strings.ReplaceAll(name, "\n", " ")
}
