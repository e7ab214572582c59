package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

func init() { register(newCpCommand) }

type cpOptions struct {
	clientOptions
	noFXP     bool
	limitRate string
	noVerify  bool
}

func newCpCommand(env Env) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp SRC-URL DST-URL",
		Short: "Copy a file from one FTP server to another",
		Long: `Copy the file SRC-URL names to DST-URL (a directory there receives it under its
base name). The servers are asked to send the file to each other directly
(FXP: PASV on the destination, PORT on the source); when either refuses, as
servers do by default for the sake of RFC 2577, or when a URL uses TLS, the
file streams through this client instead, resuming on temporary errors.

The copy gets the source's modification time when the destination offers
MFMT, and is checked when both servers offer the same digest (HASH, XSHA256).`,
		Example: `  ferry cp ftp://a.example.com/pub/file.iso ftp://alice@b.example.com/mirror/`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCp(cmd.Context(), env, &o, args[0], args[1])
		},
	}
	fl := cmd.Flags()
	o.register(cmd)
	fl.BoolVar(&o.noFXP, "no-fxp", false, "always stream through this client, never server to server")
	fl.StringVar(&o.limitRate, "limit-rate", "", "limit the rate of a streamed copy to RATE bytes/s (500K, 8M, ...)")
	fl.BoolVar(&o.noVerify, "no-verify", false, "do not compare the servers' digests of the two files")
	return cmd
}

func runCp(ctx context.Context, env Env, o *cpOptions, srcRaw, dstRaw string) error {
	if !isRemote(srcRaw) || !isRemote(dstRaw) {
		return fmt.Errorf("cp copies between FTP servers: both arguments are URLs (ferry get and ferry put copy to and from local files)")
	}
	src, err := parseRemoteURL(srcRaw)
	if err != nil {
		return err
	}
	dst, err := parseRemoteURL(dstRaw)
	if err != nil {
		return err
	}
	base, err := remoteBase(src)
	if err != nil {
		return err
	}
	rateBytes, err := parseRate(o.limitRate)
	if err != nil {
		return err
	}
	pg, rt := o.transferProgress(env)
	sc, err := connect(ctx, env, &o.remote, rt, src, 1)
	if err != nil {
		return err
	}
	defer sc.Close()
	dc, err := connect(ctx, env, &o.remote, rt, dst, 1)
	if err != nil {
		return err
	}
	defer dc.Close()

	var st ftp.Entry
	err = rt.do(ctx, "stat "+src.String(), func(int) error {
		st, err = sc.Stat(ctx, src.resolve())
		return err
	})
	if err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("cp: %s is a directory", src)
	}
	target := remoteTarget(ctx, dc, dst, base)
	srcPath, dstPath := src.resolve(), target.resolve()
	bar := pg.bar(base, st.Size)

	streamed := true
	if !o.noFXP && src.Scheme == "ftp" && target.Scheme == "ftp" {
		err := fxpCopy(ctx, env, &o.remote, src, target, srcPath, dstPath)
		var fe *fxpError
		switch {
		case err == nil:
			streamed = false
			bar.setCurrent(st.Size)
		case errors.As(err, &fe) && fe.fallback:
			fmt.Fprintf(pg.messages(), "ferry: cp: no server-to-server transfer (%v); copying through this client\n", fe.err)
		default:
			bar.abort()
			pg.wait()
			return fmt.Errorf("cp %s %s: %w", src, target, err)
		}
	}
	if streamed {
		err = streamCopy(ctx, sc, dc, srcPath, dstPath, st.Size, newRateLimit(rateBytes), bar, rt)
		if err != nil {
			bar.abort()
			pg.wait()
			return fmt.Errorf("cp %s %s: %w", src, target, err)
		}
	}
	bar.done()
	pg.wait()

	if !st.ModTime.IsZero() && hasFeature(dc, "MFMT") {
		if err := dc.SetModTime(ctx, dstPath, st.ModTime); err != nil {
			fmt.Fprintf(env.Stderr, "ferry: warning: setting the modification time of %s: %v\n", target, err)
		}
	}
	if !o.noVerify {
		algo, err := compareDigests(ctx, sc, dc, srcPath, dstPath)
		if err := reportVerify(env, pg, target.String(), algo, err); err != nil {
			return fmt.Errorf("cp %s %s: %w", src, target, err)
		}
	}
	return nil
}

// compareDigests asks both servers for a digest both offer and compares
// them. It returns "" when they have none in common.
func compareDigests(ctx context.Context, sc, dc *ftpclient.Client, srcPath, dstPath string) (string, error) {
	srcAlgo, dstAlgo := serverHashAlgo(sc.Features()), serverHashAlgo(dc.Features())
	if srcAlgo == "" || srcAlgo != dstAlgo {
		return "", nil
	}
	a, err := sc.Hash(ctx, srcPath, srcAlgo)
	if err != nil {
		return srcAlgo, fmt.Errorf("cannot verify: %w", err)
	}
	b, err := dc.Hash(ctx, dstPath, dstAlgo)
	if err != nil {
		return srcAlgo, fmt.Errorf("cannot verify: %w", err)
	}
	if !bytes.Equal(a, b) {
		return srcAlgo, fmt.Errorf("%w: %s of the source is %s, of the copy %s", errChecksum, srcAlgo, hex.EncodeToString(a), hex.EncodeToString(b))
	}
	return srcAlgo, nil
}

// streamCopy pipes the source file into an upload on the destination,
// resuming both at the destination's size after a temporary failure.
func streamCopy(ctx context.Context, sc, dc *ftpclient.Client, srcPath, dstPath string, size int64, limit *rateLimit, bar *progressBar, rt *retrier) error {
	var reached int64
	canResume := hasFeature(sc, "REST") && hasFeature(dc, "REST")
	return rt.do(ctx, "cp "+srcPath, func(attempt int) error {
		var offset int64
		if attempt > 1 && canResume {
			n, err := dc.Size(ctx, dstPath)
			if err == nil && n > 0 && n <= reached {
				offset = n
			}
		}
		bar.setCurrent(offset)
		rd, err := sc.Open(ctx, srcPath, offset)
		if err != nil {
			return err
		}
		defer rd.Close()
		n, err := dc.Store(ctx, dstPath, limit.reader(ctx, bar.reader(&sourceReader{rd})), offset)
		reached = max(reached, offset+n)
		if err != nil {
			var se *sourceError
			if errors.As(err, &se) {
				return se.err
			}
			return err
		}
		if size > 0 && offset+n != size {
			return fmt.Errorf("copied %d bytes of %d: the source changed", offset+n, size)
		}
		return nil
	})
}

// sourceReader tags the source's errors so that they are told from the
// destination's; both may be temporary.
type sourceReader struct{ r io.Reader }

type sourceError struct{ err error }

func (e *sourceError) Error() string { return "source: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &sourceError{err}
	}
	return n, err
}

// fxpError is a failed server-to-server transfer; fallback says whether
// streaming through the client may do better (the servers refused to
// talk to each other, rather than refusing the file).
type fxpError struct {
	err      error
	fallback bool
}

func (e *fxpError) Error() string { return e.err.Error() }
func (e *fxpError) Unwrap() error { return e.err }

// fxpCopy has the source server send srcPath straight to the destination
// server's dstPath. ftpclient keeps data connections to itself, so the
// two control connections are driven here: PASV (or EPSV) on the
// destination, PORT (or EPRT) with that address on the source, STOR on the
// destination and RETR on the source, then both final replies.
func fxpCopy(ctx context.Context, env Env, rf *remoteFlags, src, dst *remoteURL, srcPath, dstPath string) error {
	var trace *fxpTrace
	if rf.debug {
		trace = &fxpTrace{w: env.Stderr}
	}
	s, err := dialFXP(ctx, env, rf, src, "src", trace)
	if err != nil {
		return &fxpError{err: err, fallback: true}
	}
	defer s.close()
	d, err := dialFXP(ctx, env, rf, dst, "dst", trace)
	if err != nil {
		return &fxpError{err: err, fallback: true}
	}
	defer d.close()

	addr, err := d.passive()
	if err != nil {
		return &fxpError{err: fmt.Errorf("destination: %w", err), fallback: true}
	}
	if err := s.active(addr); err != nil {
		return &fxpError{err: fmt.Errorf("source: %w", err), fallback: true}
	}
	// Neither reply is awaited before the other command is sent: servers
	// differ in whether they answer STOR before or after the data
	// connection is made.
	if err := d.send("STOR " + dstPath); err != nil {
		return &fxpError{err: err, fallback: true}
	}
	if err := s.send("RETR " + srcPath); err != nil {
		return &fxpError{err: err, fallback: true}
	}
	srcDone, dstDone := s.awaitFinal(), d.awaitFinal()
	// The side that fails first is the cause; the other then fails
	// because it was aborted.
	var first, second fxpResult
	var firstSide, secondSide string
	select {
	case first = <-srcDone:
		firstSide, secondSide = "source", "destination"
		if !first.ok() {
			d.abort()
		}
		d.armDeadline()
		second = <-dstDone
	case first = <-dstDone:
		firstSide, secondSide = "destination", "source"
		if !first.ok() {
			s.abort()
		}
		s.armDeadline()
		second = <-srcDone
	case <-ctx.Done():
		return ctx.Err()
	}
	switch {
	case !first.ok():
		return first.failure(firstSide)
	case !second.ok():
		return second.failure(secondSide)
	}
	return nil
}

// fxpResult is the outcome of one side's transfer command.
type fxpResult struct {
	code   int
	msg    string
	err    error
	prelim bool // a 1xx came first: the transfer had started
}

func (r fxpResult) ok() bool { return r.err == nil && r.code >= 200 && r.code < 300 }

// failure turns a failed side into an error: a refusal of the file itself
// (550 and the like) is final, anything else (no data connection between
// the servers, a refused command) is worth streaming through the client.
func (r fxpResult) failure(side string) error {
	err := r.err
	if err == nil {
		err = &ftp.Error{Code: r.code, Msg: r.msg}
	}
	err = fmt.Errorf("%s: %w", side, err)
	switch r.code {
	case ftp.CodeActionNotTaken, ftp.CodePageTypeUnknown, ftp.CodeExceededStorage, ftp.CodeBadFileName:
		return &fxpError{err: err}
	}
	return &fxpError{err: err, fallback: true}
}

// fxpConn is a bare control connection for FXP: logged in, TYPE I, with no
// data connection of its own.
type fxpConn struct {
	name    string
	nc      net.Conn
	tp      *textproto.Conn
	trace   *fxpTrace
	timeout time.Duration
	stop    func() bool
}

// fxpTrace writes the FXP conversation in --debug output.
type fxpTrace struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *fxpTrace) printf(format string, args ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, format+"\n", args...)
}

func dialFXP(ctx context.Context, env Env, rf *remoteFlags, r *remoteURL, name string, trace *fxpTrace) (*fxpConn, error) {
	user, pass, err := rf.credentials(ctx, env, r)
	if err != nil {
		return nil, err
	}
	dialer := net.Dialer{Timeout: rf.timeout}
	nc, err := dialer.DialContext(ctx, "tcp", r.Addr())
	if err != nil {
		return nil, err
	}
	c := &fxpConn{name: name, nc: nc, tp: textproto.NewConn(nc), trace: trace, timeout: rf.timeout}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	code, msg, err := c.read()
	for err == nil && code == ftp.CodeReadyMinutes {
		code, msg, err = c.read()
	}
	if err == nil && code != ftp.CodeServiceReady {
		err = &ftp.Error{Code: code, Msg: msg}
	}
	if err == nil {
		code, msg, err = c.cmd("USER " + user)
		if err == nil && code == ftp.CodeNeedPassword {
			code, msg, err = c.cmd("PASS " + pass)
		}
		if err == nil && code != ftp.CodeLoggedIn && code != ftp.CodeNotImplementedOK {
			err = fmt.Errorf("login: %w", &ftp.Error{Code: code, Msg: msg})
		}
	}
	if err == nil {
		code, msg, err = c.cmd("TYPE I")
		if err == nil && code != ftp.CodeOK {
			err = &ftp.Error{Code: code, Msg: msg}
		}
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("%s: %w", r.Addr(), err)
	}
	return c, nil
}

func (c *fxpConn) close() {
	c.nc.SetDeadline(time.Now().Add(time.Second))
	c.tp.PrintfLine("QUIT")
	c.stop()
	c.nc.Close()
}

func (c *fxpConn) send(line string) error {
	if c.timeout > 0 {
		c.nc.SetDeadline(time.Now().Add(c.timeout))
	}
	shown := line
	if strings.HasPrefix(line, "PASS ") {
		shown = "PASS ****"
	}
	c.trace.printf("fxp[%s] > %s", c.name, shown)
	return c.tp.PrintfLine("%s", line)
}

func (c *fxpConn) read() (int, string, error) {
	code, msg, err := c.tp.ReadResponse(0)
	if err != nil {
		var te *textproto.Error
		if !errors.As(err, &te) {
			return 0, "", err
		}
	}
	c.trace.printf("fxp[%s] < %d %s", c.name, code, strings.ReplaceAll(msg, "\n", "\n    "))
	return code, msg, nil
}

// cmd sends line and returns the final reply.
func (c *fxpConn) cmd(line string) (int, string, error) {
	if err := c.send(line); err != nil {
		return 0, "", err
	}
	for {
		code, msg, err := c.read()
		if err != nil || code >= 200 {
			return code, msg, err
		}
	}
}

// passive opens a passive listener on this server and returns its address:
// the one a 227 reply names (FXP needs the address the other server can
// reach, not a guess), else the control connection's peer with the port of
// a 229 reply.
func (c *fxpConn) passive() (netip.AddrPort, error) {
	peer := remoteIP(c.nc)
	if peer.Is4() {
		code, msg, err := c.cmd("PASV")
		if err != nil {
			return netip.AddrPort{}, err
		}
		if code == ftp.CodePassive {
			ap, err := ftp.ParsePASVReply(msg)
			if err != nil {
				return netip.AddrPort{}, err
			}
			a := ap.Addr()
			if a.IsUnspecified() || (a.IsPrivate() || a.IsLoopback()) && !(peer.IsPrivate() || peer.IsLoopback()) {
				a = peer // behind NAT: the address it announces is its inside one
			}
			return netip.AddrPortFrom(a, ap.Port()), nil
		}
	}
	code, msg, err := c.cmd("EPSV")
	if err != nil {
		return netip.AddrPort{}, err
	}
	if code != ftp.CodeExtendedPassive {
		return netip.AddrPort{}, &ftp.Error{Code: code, Msg: msg}
	}
	port, err := ftp.ParseEPSVReply(msg)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(peer, uint16(port)), nil
}

// active has this server connect to ap for the next transfer: PORT for an
// IPv4 address (EPRT if the server does not know PORT), EPRT otherwise.
func (c *fxpConn) active(ap netip.AddrPort) error {
	if arg := ftp.FormatPORT(ap); arg != "" {
		code, msg, err := c.cmd("PORT " + arg)
		if err != nil {
			return err
		}
		if code == ftp.CodeOK {
			return nil
		}
		if code != ftp.CodeNotImplemented && code != ftp.CodeParamNotImplemented {
			return &ftp.Error{Code: code, Msg: msg}
		}
	}
	code, msg, err := c.cmd("EPRT " + ftp.FormatEPRT(ap))
	if err != nil {
		return err
	}
	if code != ftp.CodeOK {
		return &ftp.Error{Code: code, Msg: msg}
	}
	return nil
}

// awaitFinal reads the replies to a transfer command up to the final one.
// The transfer may take long: no deadline until armDeadline.
func (c *fxpConn) awaitFinal() <-chan fxpResult {
	c.nc.SetDeadline(time.Time{})
	done := make(chan fxpResult, 1)
	go func() {
		var res fxpResult
		for {
			code, msg, err := c.read()
			if err != nil {
				res.err = err
				break
			}
			if code < 200 {
				res.prelim = true
				continue
			}
			res.code, res.msg = code, msg
			break
		}
		done <- res
	}()
	return done
}

// armDeadline bounds the wait for this side's final reply once the other
// side has given its own.
func (c *fxpConn) armDeadline() {
	if c.timeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	}
}

// abort asks the server to stop the transfer command in progress.
func (c *fxpConn) abort() {
	c.trace.printf("fxp[%s] > ABOR", c.name)
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.tp.PrintfLine("ABOR")
}

func remoteIP(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	return ap.Addr().Unmap()
}
