package ftpclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// errDataConn is wrapped by failures of a data connection itself (as
// opposed to the server's verdict or a local reader or writer).
var errDataConn = errors.New("ftpclient: data connection failed")

// dataConn is an open data connection. Every read and write re-arms the
// inactivity deadline, so a transfer may take as long as it needs while
// it makes progress.
type dataConn struct {
	cn  *conn
	nc  net.Conn // TLS, or raw
	raw net.Conn // the TCP connection
}

func (d *dataConn) Read(p []byte) (int, error) {
	d.cn.arm(d.raw, armRead)
	return d.nc.Read(p)
}

func (d *dataConn) Write(p []byte) (int, error) {
	d.cn.arm(d.raw, armWrite)
	return d.nc.Write(p)
}

// close ends the data connection normally: for TLS with close_notify,
// which tells the server an upload is complete.
func (d *dataConn) close() error {
	d.cn.trackData(nil)
	d.cn.arm(d.raw, armWrite)
	return d.nc.Close()
}

// closeUpload ends the data connection of an upload. With TLS it sends
// close_notify and a FIN, then reads until the server closes its side:
// TLS 1.3 servers send session tickets after the handshake, which an
// upload never reads, and closing a socket with unread data sends a reset
// that can destroy the end of the upload at the server before it has read
// it (vsftpd then answers 426).
func (d *dataConn) closeUpload() error {
	tc, ok := d.nc.(*tls.Conn)
	if !ok {
		return d.close()
	}
	defer d.cn.trackData(nil)
	d.cn.arm(d.raw, armBoth)
	if err := tc.CloseWrite(); err != nil {
		d.raw.Close()
		return err
	}
	if tcp, ok := d.raw.(*net.TCPConn); ok {
		tcp.CloseWrite()
	}
	d.cn.arm(d.raw, armRead)
	io.Copy(io.Discard, io.LimitReader(tc, 1<<20))
	return d.raw.Close()
}

// reset ends the data connection abruptly, so that the server sees an
// error and not the end of the data.
func (d *dataConn) reset() {
	d.cn.trackData(nil)
	resetConn(d.raw)
}

// openTransfer prepares a data connection, sends REST (when rest > 0) and
// the transfer command, and returns the data connection once the server
// has accepted the command with a preliminary reply. mutating marks the
// command as one that changes something on the server (see run).
func (cn *conn) openTransfer(ctx context.Context, command string, rest int64, mutating bool) (*dataConn, error) {
	var (
		connect func() (net.Conn, error)
		cancel  func()
	)
	if cn.c.cfg.active {
		ln, err := cn.listenActive()
		if err != nil {
			return nil, err
		}
		defer func() {
			cn.trackListener(nil)
			ln.Close()
		}()
		connect = func() (net.Conn, error) { return cn.acceptActive(ln) }
		cancel = func() { ln.Close() }
	} else {
		raw, err := cn.dialPassive(ctx)
		if err != nil {
			return nil, err
		}
		connect = func() (net.Conn, error) { return raw, nil }
		cancel = func() { raw.Close() }
	}
	if rest > 0 {
		r, err := cn.cmd("REST %d", rest)
		if err == nil && r.code != ftp.CodePendingFurtherInfo {
			err = cn.unexpected(r)
		}
		if err != nil {
			cancel()
			if isUnsupported(err) {
				err = unsupported("restarting a transfer at an offset (REST)", err)
			}
			return nil, err
		}
	}
	if mutating {
		cn.committed = true
	}
	if err := cn.writeLine(command); err != nil {
		cancel()
		return nil, err
	}

	// The data connection is completed (accepted, TLS handshake) while
	// the reply is awaited: servers differ in which they do first, and
	// waiting for either before the other could deadlock.
	type result struct {
		d   *dataConn
		err error
	}
	done := make(chan result, 1)
	go func() {
		raw, err := connect()
		if err != nil {
			done <- result{err: err}
			return
		}
		cn.trackData(raw)
		d := &dataConn{cn: cn, nc: raw, raw: raw}
		if cn.protP {
			tc := tls.Client(raw, cn.tlsConf)
			cn.arm(raw, armBoth)
			if err := tc.HandshakeContext(ctx); err != nil {
				d.reset()
				done <- result{err: fmt.Errorf("%w: TLS handshake: %w", errDataConn, err)}
				return
			}
			d.nc = tc
		}
		done <- result{d: d}
	}()

	r, err := cn.readReply()
	if err == nil && r.code < 200 {
		res := <-done
		if res.err == nil {
			cn.transferred = true
			return res.d, nil
		}
		// The server waits for a connection that failed: stop it.
		cn.abortTransfer(nil, 0)
		return nil, res.err
	}
	cancel()
	if res := <-done; res.d != nil {
		res.d.reset()
	}
	if err != nil {
		return nil, err
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return nil, cn.unexpected(r) // a final success without any data connection
}

// dialPassive asks for a passive data connection and dials it: EPSV, or
// PASV when the server refuses EPSV (remembered for the Client) or its
// port cannot be reached.
func (cn *conn) dialPassive(ctx context.Context) (net.Conn, error) {
	c := cn.c
	peer := cn.peerIP()
	if !c.cfg.disableEPSV && !c.noEPSV.Load() {
		r, err := cn.cmd("EPSV")
		switch code := ftp.CodeOf(err); {
		case err == nil && r.code == ftp.CodeExtendedPassive:
			port, perr := ftp.ParseEPSVReply(r.msg)
			if perr != nil {
				cn.broken.Store(true)
				return nil, fmt.Errorf("%w: %w", ErrProtocol, perr)
			}
			raw, err := cn.dialData(ctx, netip.AddrPortFrom(peer, uint16(port)))
			if err == nil || ctx.Err() != nil {
				return raw, err
			}
			// A firewall or NAT device that does not know EPSV drops the
			// connection; PASV may get through.
			c.log.Warn("EPSV data connection failed; using PASV from now on", "err", err)
			c.noEPSV.Store(true)
		case err == nil:
			return nil, cn.unexpected(r)
		case code == ftp.CodeSyntaxError || code == ftp.CodeNotImplemented || code == ftp.CodeNetProtoUnsupported:
			c.log.Debug("server refused EPSV; using PASV from now on", "err", err)
			c.noEPSV.Store(true)
		case code >= 500 && !cn.broken.Load():
			// Refused for this once: try PASV, but keep trying EPSV.
		default:
			return nil, err
		}
	}
	if !peer.Is4() {
		return nil, fmt.Errorf("%w: passive mode over IPv6 needs EPSV", ErrUnsupported)
	}
	r, err := cn.cmd("PASV")
	if err != nil {
		return nil, err
	}
	if r.code != ftp.CodePassive {
		return nil, cn.unexpected(r)
	}
	announced, err := ftp.ParsePASVReply(r.msg)
	if err != nil {
		cn.broken.Store(true)
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return cn.dialData(ctx, cn.c.pasvTarget(announced, peer, cn.id))
}

// pasvTarget chooses where to connect for a 227 reply (see WithTrustPASV).
func (c *Client) pasvTarget(announced netip.AddrPort, peer netip.Addr, id uint64) netip.AddrPort {
	addr := announced.Addr().Unmap()
	target := peer
	if c.cfg.trustPASV && plausiblePASV(addr, peer) {
		target = addr
	}
	if target != addr {
		c.log.Debug("using the control connection's peer instead of the PASV address", "announced", addr, "peer", peer)
		c.trace.note(id, "PASV address %s replaced by the server's address %s", addr, peer)
	}
	return netip.AddrPortFrom(target, announced.Port())
}

// plausiblePASV reports whether a trusted 227 address can be right for a
// server at peer.
func plausiblePASV(addr, peer netip.Addr) bool {
	switch {
	case !addr.IsValid(), addr.IsUnspecified(), addr.IsMulticast():
		return false
	case addr.IsLoopback() && !peer.IsLoopback():
		return false
	case addr.IsPrivate() && !peer.IsPrivate() && !peer.IsLoopback():
		return false
	case addr.IsLinkLocalUnicast() && !peer.IsLinkLocalUnicast():
		return false
	}
	return true
}

func (cn *conn) dialData(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	if cn.c.cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cn.c.cfg.timeout)
		defer cancel()
	}
	raw, err := cn.c.cfg.dial(ctx, "tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errDataConn, err)
	}
	return raw, nil
}

// listenActive opens a listener on the control connection's local
// address and announces it with EPRT, or PORT when the server does not
// know EPRT (remembered for the Client).
func (cn *conn) listenActive() (*net.TCPListener, error) {
	c := cn.c
	local := cn.localIP()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: local.AsSlice()})
	if err != nil {
		return nil, fmt.Errorf("%w: listening for an active data connection: %w", errDataConn, err)
	}
	ok := false
	defer func() {
		if !ok {
			ln.Close()
		}
	}()
	ap := netip.AddrPortFrom(local, uint16(ln.Addr().(*net.TCPAddr).Port))
	if !c.noEPRT.Load() || !local.Is4() {
		_, err := cn.ok("EPRT %s", ftp.FormatEPRT(ap))
		switch code := ftp.CodeOf(err); {
		case err == nil:
			ok = true
			return ln, nil
		case local.Is4() && (code == ftp.CodeSyntaxError || code == ftp.CodeNotImplemented || code == ftp.CodeNetProtoUnsupported):
			c.log.Debug("server refused EPRT; using PORT from now on", "err", err)
			c.noEPRT.Store(true)
		default:
			return nil, err
		}
	}
	if _, err := cn.ok("PORT %s", ftp.FormatPORT(ap)); err != nil {
		return nil, err
	}
	ok = true
	return ln, nil
}

// acceptActive waits for the server's data connection. A connection from
// another address than the server's is refused (it is somebody who
// guessed the port), unless WithTrustPASV allows third parties.
func (cn *conn) acceptActive(ln *net.TCPListener) (net.Conn, error) {
	cn.trackListener(ln)
	peer := cn.peerIP()
	for {
		conn, err := ln.AcceptTCP()
		if err != nil {
			return nil, fmt.Errorf("%w: waiting for the server to connect: %w", errDataConn, err)
		}
		from, _ := netip.AddrFromSlice(conn.RemoteAddr().(*net.TCPAddr).IP)
		if cn.c.cfg.trustPASV || from.Unmap() == peer {
			return conn, nil
		}
		cn.c.log.Warn("refused a data connection from a foreign address", "from", conn.RemoteAddr().String())
		conn.Close()
	}
}

// abortTransfer stops a transfer with ABOR (RFC 959 §4.1.3) after
// resetting its data connection, and reads what is due: the transfer's
// final reply (426 when it was cut short, 2xx when it had ended), ABOR's
// own reply (226 or 225), and the replies to pending keep-alive NOOPs. It
// returns the transfer's final reply as an error when that is negative
// for another reason than the abort, and an error when the connection
// cannot be trusted any more.
func (cn *conn) abortTransfer(d *dataConn, pendingNOOPs int) error {
	if d != nil {
		d.reset()
	}
	if err := cn.writeLine("ABOR"); err != nil {
		return err
	}
	// The first final reply: the transfer's (426 when cut short), or,
	// from Pure-FTPd when it was blocked sending, ABOR's only reply.
	var first *reply
	for first == nil || pendingNOOPs > 0 {
		r, err := cn.readReply()
		if err != nil {
			return err
		}
		switch {
		case r.code < 200:
		case r.code == ftp.CodeOK && pendingNOOPs > 0:
			pendingNOOPs--
		case first == nil:
			first = &r
		default:
			pendingNOOPs--
		}
	}
	if first.code/100 != 2 {
		// The transfer's failure; ABOR's own reply follows.
		r, err := cn.readFinal()
		if err != nil {
			return err
		}
		if r.code/100 != 2 {
			return cn.unexpected(r)
		}
		if first.code != ftp.CodeTransferAborted {
			return first.err()
		}
		return nil
	}
	// A 2xx may have been the transfer's, with ABOR's reply still to
	// come, or ABOR's only one. The reply to a NOOP sent now tells.
	if err := cn.writeLine("NOOP"); err != nil {
		return err
	}
	for extra := 0; ; extra++ {
		r, err := cn.readFinal()
		if err != nil {
			return err
		}
		switch {
		case r.code == ftp.CodeOK:
			return nil
		case extra > 0 || r.code/100 != 2:
			return cn.unexpected(r)
		}
	}
}

// readFinal reads replies up to the next one that is not preliminary.
func (cn *conn) readFinal() (reply, error) {
	for {
		r, err := cn.readReply()
		if err != nil || r.code >= 200 {
			return r, err
		}
	}
}

// finishTransfer reads a transfer's final reply, and the replies to the
// keep-alive NOOPs sent during it: servers answer those after the final
// reply (they queue commands during a transfer) or, some, before it.
func (cn *conn) finishTransfer(pendingNOOPs int) error {
	var final *reply
	for final == nil || pendingNOOPs > 0 {
		r, err := cn.readReply()
		if err != nil {
			return err
		}
		switch {
		case r.code < 200: // a restart marker or a second preliminary reply
		case final == nil && r.code == ftp.CodeOK && pendingNOOPs > 0:
			pendingNOOPs--
		case final == nil:
			final = &r
		default:
			pendingNOOPs--
		}
	}
	if err := final.err(); err != nil {
		return err
	}
	if final.code/100 != 2 {
		return cn.unexpected(*final)
	}
	return nil
}

// keepAlive sends NOOP on the control connection at an interval while a
// transfer runs.
type keepAlive struct {
	stopc chan struct{}
	done  chan struct{}
	sent  atomic.Int32
	once  sync.Once
}

func (cn *conn) startKeepAlive() *keepAlive {
	interval := cn.c.cfg.keepAlive
	if interval <= 0 {
		return nil
	}
	ka := &keepAlive{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(ka.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if cn.writeLine("NOOP") != nil {
					return
				}
				ka.sent.Add(1)
			case <-ka.stopc:
				return
			}
		}
	}()
	return ka
}

// stop ends the ticker and returns how many NOOPs await a reply.
func (ka *keepAlive) stop() int {
	if ka == nil {
		return 0
	}
	ka.once.Do(func() { close(ka.stopc) })
	<-ka.done
	return int(ka.sent.Load())
}
