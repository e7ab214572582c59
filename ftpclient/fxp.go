package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Side names one of the two servers of a copy between servers.
type Side int

const (
	// Source is the server the file is read from.
	Source Side = iota + 1
	// Destination is the server the file is written to.
	Destination
)

func (s Side) String() string {
	switch s {
	case Source:
		return "source"
	case Destination:
		return "destination"
	}
	return fmt.Sprintf("Side(%d)", int(s))
}

// ErrFXPRefused is wrapped by the error of a server-to-server transfer
// (FXP) that the servers would not or could not carry out between
// themselves: a refused PASV, PORT, SSCN or CPSV (servers refuse foreign
// addresses by default, RFC 2577), a data connection between them that
// failed, or a TLS setup neither can take part in. Streaming the file
// through the client may still work, and Transfer then does.
var ErrFXPRefused = errors.New("ftpclient: server-to-server transfer refused")

// TransferError is the error of FXP and Transfer: which server failed
// (the first to fail; the other is then stopped) and why.
type TransferError struct {
	Side Side
	Err  error
	// Refused: the failure is the servers' refusal or inability to
	// transfer to each other (see ErrFXPRefused), not a refusal of the
	// file (550, 552, 553: streaming would be refused the same way).
	Refused bool
}

func (e *TransferError) Error() string {
	return fmt.Sprintf("ftpclient: copy: %s: %v", e.Side, e.Err)
}

func (e *TransferError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrFXPRefused) true for a refused FXP transfer.
func (e *TransferError) Is(target error) bool { return target == ErrFXPRefused && e.Refused }

// FXPOptions adjusts FXP and Transfer.
type FXPOptions struct {
	// SourcePassive has the source server listen (PASV on the source,
	// PORT on the destination), for a destination that cannot accept
	// connections. The default is PASV on the destination, PORT on the
	// source.
	SourcePassive bool
	// NoFallback makes Transfer return the error of a refused FXP
	// transfer instead of streaming the file through the client.
	NoFallback bool
	// OnFallback, when set, is called with the FXP error before Transfer
	// streams the file through the client instead.
	OnFallback func(err error)
}

// Transfer copies the file at srcPath on src to dstPath on dst. It asks
// the servers to send the file to each other directly (FXP); when they
// refuse or cannot (an error wrapping ErrFXPRefused), it streams the file
// through the client instead, unless opts.NoFallback is set. The error is
// a *TransferError naming the server that failed.
func Transfer(ctx context.Context, src *Client, srcPath string, dst *Client, dstPath string, opts FXPOptions) error {
	err := FXP(ctx, src, srcPath, dst, dstPath, opts)
	if err == nil || opts.NoFallback || !errors.Is(err, ErrFXPRefused) || ctx.Err() != nil {
		return err
	}
	if opts.OnFallback != nil {
		opts.OnFallback(err)
	}
	return stream(ctx, src, srcPath, dst, dstPath)
}

// stream copies through the client: a download of the source piped into
// an upload to the destination.
func stream(ctx context.Context, src *Client, srcPath string, dst *Client, dstPath string) error {
	rd, err := src.Open(ctx, srcPath, 0)
	if err != nil {
		return &TransferError{Side: Source, Err: err}
	}
	defer rd.Close()
	if _, err := dst.Store(ctx, dstPath, sourceReader{rd}, 0); err != nil {
		var se *sourceError
		if errors.As(err, &se) {
			return &TransferError{Side: Source, Err: se.err}
		}
		return &TransferError{Side: Destination, Err: err}
	}
	return nil
}

// sourceReader tags the errors of the source's stream, so that a failed
// upload tells them from the destination's.
type sourceReader struct{ r io.Reader }

type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

// FXP has the server of src send the file at srcPath straight to the
// server of dst, which stores it as dstPath (server-to-server transfer,
// RFC 959 §5.2 "third-party transfer"): one control connection of each
// Client, PASV on one server and PORT with its address on the other,
// STOR on the destination and RETR on the source. The data does not pass
// through the client.
//
// When both Clients protect data connections (WithTLS), one server must
// take the TLS client role on the data connection: CPSV on the listening
// server if it offers it, else SSCN ON on one of them (and SSCN OFF after).
// A Client with TLS and one without make FXP refuse: the data connection
// would be protected on one side only.
//
// Servers refuse data connections with third parties unless configured to
// allow FXP (ferry's AllowFXP); such a refusal is an error wrapping
// ErrFXPRefused. A connection of each Client is held for the whole
// transfer (the source's is taken first); when src and dst are the same
// Client, its pool must hold two connections.
func FXP(ctx context.Context, src *Client, srcPath string, dst *Client, dstPath string, opts FXPOptions) error {
	sp, err := src.resolve("fxp", srcPath)
	if err != nil {
		return &TransferError{Side: Source, Err: err}
	}
	dp, err := dst.resolve("fxp", dstPath)
	if err != nil {
		return &TransferError{Side: Destination, Err: err}
	}
	if src == dst && cap(src.tokens) < 2 {
		return &TransferError{Side: Source, Err: errors.New("FXP within one server needs a pool of two connections (WithPoolSize)")}
	}
	scn, err := src.take1(ctx)
	if err != nil {
		return &TransferError{Side: Source, Err: err}
	}
	defer src.release(scn)
	dcn, err := dst.take1(ctx)
	if err != nil {
		return &TransferError{Side: Destination, Err: err}
	}
	defer dst.release(dcn)
	err = fxp(scn, sp, dcn, dp, opts)
	if cause := context.Cause(ctx); cause != nil && err != nil {
		var te *TransferError
		if errors.As(err, &te) {
			te.Err, te.Refused = cause, false
		}
	}
	return err
}

// take1 takes a connection from the pool for a call that drives it
// itself, bound to ctx until release.
func (c *Client) take1(ctx context.Context) (*conn, error) {
	cn, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	cn.committed, cn.transferred = false, false
	cn.unbind = cn.bind(ctx)
	return cn, nil
}

// fxpEnd is one server's part in a transfer: its connection and side.
type fxpEnd struct {
	cn   *conn
	side Side
}

// fail makes err, which end e met, a *TransferError. A negative reply
// that concerns the file is final; anything else (a refused command, no
// data connection between the servers, a broken control connection) may
// go better through the client.
func (e fxpEnd) fail(err error) error {
	switch ftp.CodeOf(err) {
	case ftp.CodeActionNotTaken, ftp.CodePageTypeUnknown, ftp.CodeExceededStorage, ftp.CodeBadFileName,
		ftp.CodeInsufficientStorage, ftp.CodeNotLoggedIn, ftp.CodeNeedAccountStore:
		return &TransferError{Side: e.side, Err: err}
	}
	return &TransferError{Side: e.side, Err: err, Refused: true}
}

func fxp(scn *conn, sp string, dcn *conn, dp string, opts FXPOptions) error {
	source, dest := fxpEnd{scn, Source}, fxpEnd{dcn, Destination}
	for _, e := range []fxpEnd{source, dest} {
		if err := e.cn.setType(false); err != nil {
			return e.fail(err)
		}
	}
	if scn.protP != dcn.protP {
		clear := source
		if !dcn.protP {
			clear = dest
		}
		return &TransferError{Side: clear.side, Refused: true,
			Err: errors.New("one server protects data connections (TLS) and the other does not")}
	}
	listener, connector := dest, source
	if opts.SourcePassive {
		listener, connector = source, dest
	}
	passive := "PASV"
	if scn.protP {
		var sscn *fxpEnd
		var err error
		passive, sscn, err = tlsRoles(listener, connector)
		if err != nil {
			return err
		}
		if sscn != nil {
			defer func() {
				if sscn.cn.broken.Load() {
					return // dropped from the pool anyway
				}
				if _, err := sscn.cn.ok("SSCN OFF"); err != nil {
					// Its next data connection would be in the wrong role.
					sscn.cn.broken.Store(true)
				}
			}()
		}
	}
	ap, err := listener.cn.fxpListen(passive)
	if err != nil {
		return listener.fail(err)
	}
	if err := connector.cn.fxpConnect(ap); err != nil {
		return connector.fail(err)
	}
	scn.c.trace.note(scn.id, "FXP: sending %s to the destination's %s", sp, ap)
	dcn.c.trace.note(dcn.id, "FXP: receiving %s from the source", dp)
	// Neither reply is awaited before the other command goes: servers
	// differ in whether they answer before or after the data connection
	// is made.
	dcn.committed = true
	if err := dcn.writeLine("STOR " + dp); err != nil {
		return dest.fail(err)
	}
	if err := scn.writeLine("RETR " + sp); err != nil {
		dcn.broken.Store(true) // its STOR waits for a connection that will not come
		return source.fail(err)
	}
	return awaitBoth(source, dest)
}

// tlsRoles picks the server that takes the TLS client role on the data
// connection: the listener with CPSV, else either with SSCN ON. It returns
// the passive command for the listener and the end whose SSCN must be
// turned off after the transfer.
func tlsRoles(listener, connector fxpEnd) (string, *fxpEnd, error) {
	if listener.cn.c.feats.Has("CPSV") && listener.cn.peerIP().Is4() {
		return "CPSV", nil, nil
	}
	ends := []fxpEnd{connector, listener}
	if !connector.cn.c.feats.Has("SSCN") && listener.cn.c.feats.Has("SSCN") {
		ends[0], ends[1] = listener, connector
	}
	var first error
	for _, e := range ends {
		_, err := e.cn.ok("SSCN ON")
		if err == nil {
			return "PASV", &e, nil
		}
		if e.cn.broken.Load() {
			return "", nil, e.fail(err)
		}
		if first == nil {
			first = &TransferError{Side: e.side, Refused: true,
				Err: fmt.Errorf("neither server can take the TLS client role on the data connection (SSCN, CPSV): %w", err)}
		}
	}
	return "", nil, first
}

// fxpListen opens a passive channel with verb (PASV or CPSV) or, on IPv6,
// EPSV, and returns the address the other server is to connect to: the
// announced one, or the control connection's peer when the announced one
// cannot be right (see plausiblePASV).
func (cn *conn) fxpListen(verb string) (netip.AddrPort, error) {
	peer := cn.peerIP()
	if peer.Is4() {
		r, err := cn.cmd("%s", verb)
		if err == nil && r.code == ftp.CodePassive {
			announced, err := ftp.ParsePASVReply(r.msg)
			if err != nil {
				cn.broken.Store(true)
				return netip.AddrPort{}, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			addr := announced.Addr().Unmap()
			if !plausiblePASV(addr, peer) {
				addr = peer
			}
			return netip.AddrPortFrom(addr, announced.Port()), nil
		}
		if err == nil {
			return netip.AddrPort{}, cn.unexpected(r)
		}
		if verb != "PASV" || !isUnsupported(err) {
			return netip.AddrPort{}, err
		}
	}
	r, err := cn.cmd("EPSV")
	if err != nil {
		return netip.AddrPort{}, err
	}
	if r.code != ftp.CodeExtendedPassive {
		return netip.AddrPort{}, cn.unexpected(r)
	}
	port, err := ftp.ParseEPSVReply(r.msg)
	if err != nil {
		cn.broken.Store(true)
		return netip.AddrPort{}, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return netip.AddrPortFrom(peer, uint16(port)), nil
}

// fxpConnect has the server connect to ap for the next transfer: PORT for
// an IPv4 address (EPRT when the server does not implement PORT), EPRT
// otherwise. A PORT refused for its address (500, RFC 2577) is not tried
// again as EPRT: it would be refused the same way, and counted twice
// against the client by servers that ban.
func (cn *conn) fxpConnect(ap netip.AddrPort) error {
	if ap.Addr().Is4() {
		_, err := cn.ok("PORT %s", ftp.FormatPORT(ap))
		switch ftp.CodeOf(err) {
		case ftp.CodeNotImplemented, ftp.CodeParamNotImplemented:
		default:
			return err
		}
	}
	_, err := cn.ok("EPRT %s", ftp.FormatEPRT(ap))
	return err
}

// fxpResult is one server's answer to its transfer command.
type fxpResult struct {
	end fxpEnd
	err error // the negative reply, or why none came
}

// awaitBoth waits for both servers' final replies. A transfer takes as
// long as it takes: nothing is said on the control connections meanwhile,
// so no read deadline applies (the context still ends the wait) until one
// server has answered; the other then gets the usual timeout. The first
// to fail is the cause; the other is stopped with ABOR and its connection
// not reused (the replies ABOR brings are left unread).
func awaitBoth(source, dest fxpEnd) error {
	results := make(chan fxpResult, 2)
	waits := map[Side]*atomic.Bool{}
	for _, e := range []fxpEnd{source, dest} {
		long := new(atomic.Bool)
		long.Store(true)
		waits[e.side] = long
		go func() { results <- fxpResult{e, e.cn.awaitTransfer(long)} }()
	}
	first := <-results
	other := source
	if first.end.side == Source {
		other = dest
	}
	other.cn.shortenWait(waits[other.side])
	if first.err != nil && !other.cn.broken.Load() {
		other.cn.broken.Store(true)
		other.cn.writeLine("ABOR")
	}
	second := <-results
	switch {
	case first.err != nil:
		return first.end.fail(first.err)
	case second.err != nil:
		return second.end.fail(second.err)
	}
	return nil
}

// awaitTransfer reads the replies to a transfer command up to the final
// one, with no read deadline while long is set.
func (cn *conn) awaitTransfer(long *atomic.Bool) error {
	for {
		cn.dmu.Lock()
		t := cn.deadlineLocked()
		if long.Load() && !cn.cancelled {
			t = time.Time{}
		}
		cn.raw.SetReadDeadline(t)
		cn.dmu.Unlock()
		r, err := cn.readArmed()
		if err != nil {
			return err
		}
		if r.code < 200 {
			continue
		}
		if err := r.err(); err != nil {
			return err
		}
		if r.code/100 != 2 {
			return cn.unexpected(r)
		}
		return nil
	}
}

// shortenWait ends awaitTransfer's unbounded wait: from now on the usual
// timeout applies.
func (cn *conn) shortenWait(long *atomic.Bool) {
	cn.dmu.Lock()
	defer cn.dmu.Unlock()
	long.Store(false)
	cn.raw.SetReadDeadline(cn.deadlineLocked())
}
