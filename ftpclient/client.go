package ftpclient

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Client is a connection to one FTP server as one user: a pool of
// logged-in control connections. It is safe for concurrent use.
type Client struct {
	cfg   config
	addr  string // host:port
	host  string // for TLS
	log   *slog.Logger
	trace *tracer

	// Set by Dial's first connection, read-only afterwards.
	feats Features
	home  string

	// What the client learned the server does not do.
	noEPSV, noEPRT, noMLSD, noMLST atomic.Bool
	noModeZ                        atomic.Bool // announced but refused

	nextID atomic.Uint64

	// tokens bounds the connections in use or being dialed; idle ones
	// hold none. Together with dialing only when no idle connection is
	// left, this bounds all of them by the pool size.
	tokens chan struct{}
	done   chan struct{} // closed by Close

	mu      sync.Mutex
	idle    []*conn
	open    int // idle, in use and being dialed
	retired int // tokens given up because the server allows fewer connections
	closed  bool
}

// idleCheck is how long a pooled connection may sit unused before it is
// checked with NOOP on its next use: servers and NAT devices drop idle
// control connections, and a command that changes something must not be
// sent on a dead one and then repeated.
var idleCheck = 5 * time.Second

// Dial connects to the server at addr ("host:port", or "host" for port 21,
// 990 with implicit TLS), logs in and reads the server's features and
// login directory. The connection becomes the first of the Client's pool.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if strings.ContainsAny(cfg.user, "\r\n\x00") || strings.ContainsAny(cfg.pass, "\r\n\x00") {
		return nil, errors.New("ftpclient: user name or password contains a line break or NUL")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
		port := "21"
		if cfg.tlsMode == tlsImplicit {
			port = "990"
		}
		addr = net.JoinHostPort(host, port)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.dial == nil {
		d := &net.Dialer{}
		cfg.dial = d.DialContext
	}
	c := &Client{
		cfg:    cfg,
		addr:   addr,
		host:   host,
		log:    cfg.logger.With("server", addr),
		tokens: make(chan struct{}, cfg.poolSize),
		done:   make(chan struct{}),
		open:   1,
	}
	if cfg.debug != nil {
		c.trace = &tracer{w: cfg.debug}
	}
	c.tokens <- struct{}{}
	cn, err := c.dialConn(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("ftpclient: dial %s: %w", addr, err)
	}
	c.put(cn)
	return c, nil
}

// Features returns what the server announced in its FEAT reply.
func (c *Client) Features() Features { return c.feats }

// Home returns the login directory (the reply to PWD after login), against
// which relative paths are resolved; "" if the server did not say.
func (c *Client) Home() string { return c.home }

// Close ends every idle connection with QUIT; connections in use are
// ended when their call returns. Calls after Close fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	idle := c.idle
	c.idle = nil
	c.open -= len(idle)
	c.mu.Unlock()
	close(c.done)
	var wg sync.WaitGroup
	for _, cn := range idle {
		wg.Go(cn.quit)
	}
	wg.Wait()
	return nil
}

// get takes a connection from the pool, or dials one, waiting while the
// pool is at its limit.
func (c *Client) get(ctx context.Context) (*conn, error) {
	for {
		select {
		case c.tokens <- struct{}{}:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-c.done:
			return nil, ErrClosed
		}
		cn, err := c.take(ctx)
		if err == nil {
			return cn, nil
		}
		if errors.Is(err, errRetired) {
			continue // keep waiting, with one connection fewer
		}
		<-c.tokens
		return nil, err
	}
}

var errRetired = errors.New("token retired")

// take turns a token into a connection: an idle one that is still alive,
// or a new one.
func (c *Client) take(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		n := len(c.idle)
		if n == 0 {
			break // with c.mu held
		}
		cn := c.idle[n-1] // the most recently used: the likeliest alive
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		if time.Since(cn.lastUsed) < idleCheck || cn.ping(ctx) {
			return cn, nil
		}
		c.log.Debug("dropping a dead idle connection", "conn", cn.id)
		c.mu.Lock()
		c.open--
		c.mu.Unlock()
		cn.close()
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
	}
	c.open++
	c.mu.Unlock()
	cn, err := c.dialConn(ctx, false)
	if err == nil {
		return cn, nil
	}
	c.mu.Lock()
	c.open--
	others := c.open
	if others > 0 && c.retired < cap(c.tokens)-1 && ctx.Err() == nil && refusedForLoad(err) {
		// The server takes fewer connections from us than the pool
		// size: keep this token out of circulation and wait for one
		// of the connections we have.
		c.retired++
		c.mu.Unlock()
		c.log.Info("server refused another connection; using fewer", "open", others, "err", err)
		return nil, errRetired
	}
	c.mu.Unlock()
	return nil, err
}

// refusedForLoad reports whether a dial failed because the server limits
// connections: 421 (vsftpd, pure-ftpd), or a 530 to the login that works on
// the connections already open (ProFTPD's MaxClientsPerHost).
func refusedForLoad(err error) bool {
	code := ftp.CodeOf(err)
	return code == ftp.CodeServiceNotAvailable || code == ftp.CodeNotLoggedIn
}

// ping checks an idle connection with NOOP.
func (cn *conn) ping(ctx context.Context) bool {
	unbind := cn.bind(ctx)
	_, err := cn.ok("NOOP")
	unbind()
	return err == nil && !cn.broken.Load()
}

// put gives a connection back after a call: to the idle list, or closed
// if it is broken or the Client is closed.
func (c *Client) put(cn *conn) {
	c.mu.Lock()
	keep := !cn.broken.Load() && !c.closed
	if keep {
		cn.lastUsed = time.Now()
		c.idle = append(c.idle, cn)
	} else {
		c.open--
	}
	closed := c.closed
	c.mu.Unlock()
	<-c.tokens
	switch {
	case keep:
	case closed && !cn.broken.Load():
		cn.quit()
	default:
		c.log.Debug("discarding connection", "conn", cn.id)
		cn.close()
	}
}

// release ends a call's use of a connection.
func (c *Client) release(cn *conn) {
	if cn.unbind != nil {
		cn.unbind()
		cn.unbind = nil
	}
	c.put(cn)
}

// run calls fn with a pooled connection bound to ctx. If fn fails because
// the connection broke (or, for an idempotent operation, because a data
// connection failed), run tries once more on another connection, unless
// the operation had already sent a command that changes something.
func (c *Client) run(ctx context.Context, op, path string, idempotent bool, fn func(cn *conn) error) error {
	return c.runKeep(ctx, op, path, idempotent, func(cn *conn) (bool, error) { return false, fn(cn) })
}

// runKeep is run for a function that may keep the connection after it
// succeeds (Open): it then owns it and calls c.release.
func (c *Client) runKeep(ctx context.Context, op, path string, idempotent bool, fn func(cn *conn) (keep bool, err error)) error {
	const attempts = 2
	for attempt := 1; ; attempt++ {
		cn, err := c.get(ctx)
		if err != nil {
			return opError(op, path, err)
		}
		cn.committed, cn.transferred = false, false
		cn.unbind = cn.bind(ctx)
		keep, err := fn(cn)
		if keep && err == nil {
			return nil
		}
		c.release(cn)
		if err == nil {
			return nil
		}
		if cause := context.Cause(ctx); cause != nil {
			return opError(op, path, cause)
		}
		if attempt < attempts && retryable(cn, err, idempotent) {
			c.log.Info("retrying on another connection", "op", op, "path", path, "err", err)
			c.trace.note(cn.id, "retrying %s: %v", op, err)
			continue
		}
		return opError(op, path, err)
	}
}

func retryable(cn *conn, err error, idempotent bool) bool {
	if errors.Is(err, ErrProtocol) || errors.Is(err, ErrClosed) {
		return false
	}
	if ftp.CodeOf(err) == ftp.CodeServiceNotAvailable && !cn.transferred {
		// 421 in reply to a command: the server closed the session
		// instead of carrying it out (an idle timeout, typically).
		return true
	}
	if cn.broken.Load() {
		return idempotent || !cn.committed
	}
	if !idempotent {
		return false
	}
	switch ftp.CodeOf(err) {
	case ftp.CodeCantOpenData, ftp.CodeTransferAborted:
		return true
	}
	return errors.Is(err, errDataConn)
}

func opError(op, path string, err error) error {
	if path == "" {
		return fmt.Errorf("ftpclient: %s: %w", op, err)
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}

// resolve makes a path absolute against the login directory. With a
// server whose paths do not start with "/" the path is sent as given,
// which, since the client never changes directory, is relative to the
// login directory all the same.
func (c *Client) resolve(op, p string) (string, error) {
	if strings.ContainsAny(p, "\r\n\x00") {
		return p, &fs.PathError{Op: op, Path: p, Err: fs.ErrInvalid}
	}
	if !strings.HasPrefix(c.home, "/") {
		return p, nil
	}
	return ftp.JoinPath(c.home, p), nil
}

// withArg formats "VERB arg", or "VERB" when arg is empty.
func withArg(verb, arg string) string {
	if arg == "" {
		return verb
	}
	return verb + " " + arg
}
