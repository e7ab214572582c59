package sftpclient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

// DefaultTimeout bounds connecting and logging in when Config.Timeout is
// not set.
const DefaultTimeout = 30 * time.Second

// defaultRequests is how many reads or writes of one file are in flight
// at once: enough to fill a long fat pipe with pkg/sftp's 32 KiB packets.
const defaultRequests = 64

// Config says how to log in and which host keys to trust.
type Config struct {
	// User is the login name. Required.
	User string
	// Password is offered to the password and keyboard-interactive
	// methods; when empty, PasswordCallback is asked, once, if set.
	Password         string
	PasswordCallback func() (string, error)
	// Signers are the private keys offered for public-key login, before
	// the agent's.
	Signers []ssh.Signer
	// Agent also offers the keys of the ssh-agent at SSH_AUTH_SOCK, when
	// one runs.
	Agent bool

	// KnownHostsFile is the user's known_hosts file: read, and where
	// AcceptNew adds keys. "" means DefaultKnownHostsFile().
	KnownHostsFile string
	// GlobalKnownHostsFiles are read too; nil means
	// DefaultGlobalKnownHostsFiles. Files that do not exist are skipped.
	GlobalKnownHostsFiles []string
	// HostKeyPolicy says what to do with a host no file lists.
	HostKeyPolicy HostKeyPolicy
	// HostKeyAdded, when set, is told of a key AcceptNew added, for the
	// note OpenSSH prints ("Permanently added ...").
	HostKeyAdded func(host string, key ssh.PublicKey, file string)
	// HostKeyCallback, when set, replaces the known_hosts checks.
	HostKeyCallback ssh.HostKeyCallback

	// Timeout bounds connecting and logging in, not counting the time
	// PasswordCallback and the passphrase callbacks of LoadIdentity's
	// keys take (a person typing); 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxConcurrentRequests is how many reads or writes of one file are
	// in flight at once; 0 means 64.
	MaxConcurrentRequests int

	// Debug, when set, receives a trace of what the client does, as
	// ftpclient.WithDebug's of an FTP conversation: each SSH connection
	// (server version, negotiated algorithms, the host key and what the
	// check made of it, the login method that succeeded) and each SFTP
	// operation with its paths and result. Passwords are never written.
	Debug io.Writer
}

// Client is a connection to an SFTP server. Its methods are safe for
// concurrent use; they share one SSH connection, over which SFTP runs
// requests side by side. When the connection breaks (or a transfer is
// cancelled), the next call dials a new one.
type Client struct {
	addr  string
	cfg   Config
	ssh   *ssh.ClientConfig
	agent func() ([]ssh.Signer, error)
	// asking runs a callback that asks a person, with the login's
	// timeout paused; set while a dial runs.
	asking func(func())
	home   string
	trace  *tracer
	dials  atomic.Uint64
	// loginMethod is the login method tried last while a dial runs:
	// once the login succeeds, the one that did (x/crypto does not say).
	loginMethod string

	mu     sync.Mutex
	cur    *session
	closed bool
}

// session is one SSH connection with its SFTP channel.
type session struct {
	id     uint64 // the trace's connection number
	ssh    *ssh.Client
	sftp   *sftp.Client
	done   chan struct{} // closed when the SSH connection is gone
	broken atomic.Bool   // closed, or a request found the connection lost
}

func (s *session) dead() bool {
	if s.broken.Load() {
		return true
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *session) close() {
	s.broken.Store(true)
	s.sftp.Close()
	s.ssh.Close()
}

// check closes s when err says its connection is lost, so that the next
// call dials at once instead of failing on it too.
func (s *session) check(err error) error {
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, sftp.ErrSSHFxNoConnection) {
		s.close()
	}
	return err
}

// Dial connects to the SFTP server at addr (host:port), checks its host
// key, logs in and starts the SFTP subsystem. ctx bounds the dial and
// login.
func Dial(ctx context.Context, addr string, cfg *Config) (*Client, error) {
	if cfg == nil || cfg.User == "" {
		return nil, errors.New("sftpclient: no user to log in as")
	}
	c := &Client{addr: addr, cfg: *cfg}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = DefaultTimeout
	}
	if c.cfg.MaxConcurrentRequests <= 0 {
		c.cfg.MaxConcurrentRequests = defaultRequests
	}
	if c.cfg.Debug != nil {
		c.trace = &tracer{w: c.cfg.Debug}
	}
	sc, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	c.ssh = sc
	s, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, s.close)
	c.trace.request(s.id, "realpath .")
	home, err := s.sftp.Getwd()
	c.trace.result(s.id, "realpath .", err, printable(home))
	stop()
	if err != nil {
		s.close()
		return nil, fmt.Errorf("sftpclient: %s: asking for the login directory: %w", addr, err)
	}
	c.home = home
	c.cur = s
	return c, nil
}

// clientConfig is the SSH configuration: login methods and host keys.
func (c *Client) clientConfig() (*ssh.ClientConfig, error) {
	sc := &ssh.ClientConfig{User: c.cfg.User, Timeout: c.cfg.Timeout}
	if c.cfg.HostKeyCallback != nil {
		sc.HostKeyCallback = c.cfg.HostKeyCallback
	} else {
		hk := &hostKeys{userFile: c.cfg.KnownHostsFile, policy: c.cfg.HostKeyPolicy, added: c.cfg.HostKeyAdded}
		if hk.userFile == "" {
			hk.userFile = DefaultKnownHostsFile()
		}
		global := c.cfg.GlobalKnownHostsFiles
		if global == nil {
			global = DefaultGlobalKnownHostsFiles
		}
		if hk.userFile != "" {
			hk.files = append(hk.files, hk.userFile)
		}
		hk.files = append(hk.files, global...)
		db, err := hk.database()
		if err != nil {
			return nil, err
		}
		sc.HostKeyCallback = hk.callback(db)
		sc.HostKeyAlgorithms = hk.algorithms(db, c.addr)
	}
	sc.Auth = append(sc.Auth, ssh.PublicKeysCallback(c.signers))
	if c.cfg.Password != "" || c.cfg.PasswordCallback != nil {
		var (
			once sync.Once
			pass string
			perr error
		)
		password := func() (string, error) {
			c.loginMethod = "password"
			once.Do(func() {
				pass = c.cfg.Password
				if pass == "" {
					c.ask(func() { pass, perr = c.cfg.PasswordCallback() })
				}
			})
			return pass, perr
		}
		sc.Auth = append(sc.Auth,
			ssh.PasswordCallback(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				// A server asking for the password this way (OpenSSH
				// with KbdInteractiveAuthentication) gets it; other
				// questions have no answer here.
				c.loginMethod = "keyboard-interactive"
				answers := make([]string, len(questions))
				for i, q := range questions {
					if !echos[i] && strings.Contains(strings.ToLower(q), "password") {
						p, err := password()
						if err != nil {
							return nil, err
						}
						answers[i] = p
					}
				}
				return answers, nil
			}))
	}
	return sc, nil
}

// signers are the keys to offer: Config.Signers, then the agent's, each
// once.
func (c *Client) signers() ([]ssh.Signer, error) {
	out := slices.Clone(c.cfg.Signers)
	if c.agent != nil {
		if more, err := c.agent(); err == nil {
			out = append(out, more...)
		}
	}
	var unique []ssh.Signer
	for i, s := range out {
		if l, ok := s.(*lazySigner); ok {
			out[i] = &askingSigner{l, c}
			s = out[i]
		}
		blob := s.PublicKey().Marshal()
		if !slices.ContainsFunc(unique, func(u ssh.Signer) bool { return bytes.Equal(u.PublicKey().Marshal(), blob) }) {
			unique = append(unique, s)
		}
	}
	if c.trace != nil {
		for i, s := range unique {
			unique[i] = traceSigner(s, func(method string) { c.loginMethod = method })
		}
	}
	return unique, nil
}

// ask runs fn, which waits for a person, outside the login's timeout.
func (c *Client) ask(fn func()) {
	if c.asking == nil {
		fn()
		return
	}
	c.asking(fn)
}

// askingSigner is an encrypted key whose passphrase is asked outside the
// login's timeout.
type askingSigner struct {
	*lazySigner
	c *Client
}

func (a *askingSigner) unlock() (err error) {
	a.c.ask(func() { _, err = a.key() })
	return err
}

func (a *askingSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	if err := a.unlock(); err != nil {
		return nil, err
	}
	return a.lazySigner.Sign(rand, data)
}

func (a *askingSigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	if err := a.unlock(); err != nil {
		return nil, err
	}
	return a.lazySigner.SignWithAlgorithm(rand, data, algorithm)
}

// dial makes a new session.
func (c *Client) dial(ctx context.Context) (s *session, err error) {
	id := c.dials.Add(1)
	c.trace.request(id, "connect %s as %s", c.addr, printable(c.cfg.User))
	defer func() {
		if err != nil {
			c.trace.result(id, "connect", err, "")
		}
	}()
	var timedOut atomic.Bool
	dctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	d := net.Dialer{}
	conn, err := d.DialContext(dctx, "tcp", c.addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("sftpclient: %w", err)
	}
	// The handshake has no context of its own: closing the connection
	// ends it when ctx does, or the timeout, which stops while a person
	// is asked for a password.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	timer := time.AfterFunc(c.cfg.Timeout, func() { timedOut.Store(true); conn.Close() })
	defer timer.Stop()
	c.asking = func(fn func()) {
		if timer.Stop() {
			defer timer.Reset(c.cfg.Timeout)
		}
		fn()
	}
	defer func() { c.asking = nil }()
	if c.cfg.Agent {
		signers, agentConn := agentSigners()
		if agentConn != nil {
			defer agentConn.Close()
		}
		c.agent = signers
		defer func() { c.agent = nil }()
	}
	sshConfig := c.ssh
	if c.trace != nil {
		sshConfig = c.tracedConfig(id)
	}
	c.loginMethod = ""
	sconn, chans, reqs, err := ssh.NewClientConn(conn, c.addr, sshConfig)
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sftpclient: %s: %w", c.addr, ctx.Err())
		}
		if timedOut.Load() {
			return nil, fmt.Errorf("sftpclient: %s: no login within %v: %w", c.addr, c.cfg.Timeout, context.DeadlineExceeded)
		}
		var hke *HostKeyError
		if errors.As(err, &hke) {
			return nil, hke
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			// x/crypto gives no error type for it.
			return nil, fmt.Errorf("%w: %s@%s: wrong password or key (%w)", ErrAuthFailed, c.cfg.User, c.addr, err)
		}
		return nil, fmt.Errorf("sftpclient: %s: %w", c.addr, err)
	}
	c.traceLogin(id, sconn)
	client := ssh.NewClient(sconn, chans, reqs)
	c.trace.request(id, "subsystem sftp")
	sc, err := sftp.NewClient(client,
		sftp.UseConcurrentReads(true),
		sftp.UseConcurrentWrites(true),
		sftp.MaxConcurrentRequestsPerFile(c.cfg.MaxConcurrentRequests),
		sftp.UseFstat(true))
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("sftpclient: %s: starting SFTP: %w", c.addr, err)
	}
	c.trace.result(id, "subsystem sftp", nil, "")
	s = &session{id: id, ssh: client, sftp: sc, done: make(chan struct{})}
	go func() {
		client.Wait()
		close(s.done)
	}()
	return s, nil
}

// session returns the current session, dialing a new one when the last
// broke.
func (c *Client) session(ctx context.Context) (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.cur != nil && !c.cur.dead() {
		return c.cur, nil
	}
	if c.cur != nil {
		c.cur.close()
		c.cur = nil
	}
	s, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.cur = s
	return s, nil
}

// Home is the login directory, against which relative paths resolve.
func (c *Client) Home() string { return c.home }

// Close closes the connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	if c.cur != nil {
		c.cur.close()
		c.cur = nil
	}
	return nil
}

// abs resolves p against the login directory.
func (c *Client) abs(p string) string {
	if p == "" {
		p = "."
	}
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(c.home, p)
}

// call runs the request fn on the current session. A request cannot be
// taken back, so when ctx ends first the call returns and the request
// finishes unseen.
func (c *Client) call(ctx context.Context, op, p string, fn func(*sftp.Client) error) error {
	return c.callAs(ctx, op, p, op+" "+printable(p), fn)
}

// callAs is call with what for the trace.
func (c *Client) callAs(ctx context.Context, op, p, what string, fn func(*sftp.Client) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	c.trace.request(s.id, "%s", what)
	done := make(chan error, 1)
	go func() { done <- s.check(fn(s.sftp)) }()
	select {
	case err := <-done:
		c.trace.result(s.id, what, err, "")
		return wrapErr(op, p, err)
	case <-ctx.Done():
		c.trace.result(s.id, what, ctx.Err(), "")
		return ctx.Err()
	}
}

// entry describes fi, named name, as ftpclient's listings do.
func entry(name string, fi fs.FileInfo) ftp.Entry {
	e := ftp.Entry{
		Name:    name,
		Size:    fi.Size(),
		ModTime: fi.ModTime().UTC(),
		Mode:    fi.Mode(),
		HasMode: true,
	}
	switch m := fi.Mode(); {
	case m.IsDir():
		e.Type = "dir"
	case m.IsRegular():
		e.Type = "file"
	case m&fs.ModeSymlink != 0:
		e.Type = "OS.unix=symlink"
	case m&fs.ModeNamedPipe != 0:
		e.Type = "OS.unix=fifo"
	case m&fs.ModeSocket != 0:
		e.Type = "OS.unix=socket"
	case m&fs.ModeCharDevice != 0:
		e.Type = "OS.unix=chr"
	case m&fs.ModeDevice != 0:
		e.Type = "OS.unix=blk"
	}
	return e
}

// List lists the directory dir (symbolic links as links), without "."
// and "..". Names that are not one path element ("a/b", "../x") are not
// entries of dir: a walk joining them to dir would reach other files, or
// climb back into dir for ever. List leaves them out and returns them in
// a *ftpclient.ListError, with the other entries, as ftpclient.List does
// with the listing lines it cannot read.
func (c *Client) List(ctx context.Context, dir string) ([]ftp.Entry, error) {
	p := c.abs(dir)
	var infos []fs.FileInfo
	err := c.call(ctx, "list", p, func(s *sftp.Client) error {
		var err error
		infos, err = s.ReadDirContext(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	entries := make([]ftp.Entry, 0, len(infos))
	var bad []string
	for _, fi := range infos {
		switch n := fi.Name(); {
		case n == "." || n == "..":
		case n == "" || strings.ContainsAny(n, "/\x00"):
			bad = append(bad, n)
		default:
			entries = append(entries, entry(n, fi))
		}
	}
	if len(bad) > 0 {
		return entries, &ftpclient.ListError{Path: p, Lines: bad}
	}
	return entries, nil
}

// Stat describes the file or directory p, following a symbolic link.
func (c *Client) Stat(ctx context.Context, p string) (ftp.Entry, error) {
	p = c.abs(p)
	var fi fs.FileInfo
	err := c.call(ctx, "stat", p, func(s *sftp.Client) error {
		var err error
		fi, err = s.Stat(p)
		return err
	})
	if err != nil {
		return ftp.Entry{}, err
	}
	return entry(path.Base(p), fi), nil
}

// Size is the size of the file p.
func (c *Client) Size(ctx context.Context, p string) (int64, error) {
	e, err := c.Stat(ctx, p)
	return e.Size, err
}

// ModTime is the modification time of p.
func (c *Client) ModTime(ctx context.Context, p string) (time.Time, error) {
	e, err := c.Stat(ctx, p)
	return e.ModTime, err
}

// SetModTime sets the modification (and access) time of p.
func (c *Client) SetModTime(ctx context.Context, p string, t time.Time) error {
	p = c.abs(p)
	return c.call(ctx, "setstat", p, func(s *sftp.Client) error { return s.Chtimes(p, t, t) })
}

// Mkdir makes the directory p.
func (c *Client) Mkdir(ctx context.Context, p string) error {
	p = c.abs(p)
	return c.call(ctx, "mkdir", p, func(s *sftp.Client) error { return s.Mkdir(p) })
}

// errIsDir is the cause of Remove refusing a directory.
var errIsDir = errors.New("is a directory")

// Remove deletes the file p; a directory is refused (RemoveDir takes
// those), as FTP's DELE refuses one.
func (c *Client) Remove(ctx context.Context, p string) error {
	p = c.abs(p)
	return c.call(ctx, "remove", p, func(s *sftp.Client) error {
		fi, err := s.Lstat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return errIsDir
		}
		return s.Remove(p)
	})
}

// RemoveDir removes the empty directory p.
func (c *Client) RemoveDir(ctx context.Context, p string) error {
	p = c.abs(p)
	return c.call(ctx, "rmdir", p, func(s *sftp.Client) error { return s.RemoveDirectory(p) })
}

// Rename renames from to to, replacing a file there when the server
// offers posix-rename@openssh.com (SFTP v3's own rename never replaces).
func (c *Client) Rename(ctx context.Context, from, to string) error {
	from, to = c.abs(from), c.abs(to)
	return c.callAs(ctx, "rename", from, "rename "+printable(from)+" "+printable(to), func(s *sftp.Client) error {
		if _, ok := s.HasExtension("posix-rename@openssh.com"); ok {
			return s.PosixRename(from, to)
		}
		return s.Rename(from, to)
	})
}

// transfer runs fn, a transfer over s, and closes s when ctx ends first:
// nothing else stops requests in flight. The next call dials anew.
func transfer(ctx context.Context, s *session, fn func() (int64, error)) (int64, error) {
	stop := context.AfterFunc(ctx, s.close)
	n, err := fn()
	s.check(err)
	if !stop() {
		return n, ctx.Err()
	}
	return n, err
}

// open opens p with flags, at offset, and returns the session it is on.
func (c *Client) open(ctx context.Context, op, p string, flags int, offset int64) (*session, *sftp.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s, err := c.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	what := fmt.Sprintf("open %s (%s)", printable(p), openFlags(flags))
	if offset > 0 {
		what += fmt.Sprintf(" at %d", offset)
	}
	c.trace.request(s.id, "%s", what)
	f, err := transferOpen(ctx, s, p, flags, offset)
	c.trace.result(s.id, what, err, "")
	if err != nil {
		return nil, nil, wrapErr(op, p, err)
	}
	return s, f, nil
}

// transferOpen opens and positions the file, closing s when ctx ends
// first.
func transferOpen(ctx context.Context, s *session, p string, flags int, offset int64) (*sftp.File, error) {
	var f *sftp.File
	_, err := transfer(ctx, s, func() (int64, error) {
		var err error
		f, err = s.sftp.OpenFile(p, flags)
		if err == nil && offset > 0 {
			if _, err = f.Seek(offset, io.SeekStart); err != nil {
				f.Close()
			}
		}
		return 0, err
	})
	if err != nil {
		if f != nil && ctx.Err() != nil {
			f.Close()
		}
		return nil, err
	}
	return f, nil
}

// Retrieve writes the file p, from offset, to w, with many reads in
// flight. It returns the number of bytes written. opts are accepted for
// ftpclient's signature; none applies to SFTP.
func (c *Client) Retrieve(ctx context.Context, p string, offset int64, w io.Writer, _ ...ftpclient.TransferOption) (int64, error) {
	p = c.abs(p)
	s, f, err := c.open(ctx, "retrieve", p, os.O_RDONLY, offset)
	if err != nil {
		return 0, err
	}
	n, err := transfer(ctx, s, func() (int64, error) {
		n, err := f.WriteTo(w)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return n, err
	})
	c.trace.result(s.id, "read and close "+printable(p), err, fmt.Sprintf("%d bytes", n))
	return n, wrapErr("retrieve", p, err)
}

// Store writes r to the file p from offset: a new file when offset is 0,
// else the existing one from there. It returns the number of bytes read
// from r; the file is complete when the error is nil, as the server
// confirms the close.
func (c *Client) Store(ctx context.Context, p string, r io.Reader, offset int64, _ ...ftpclient.TransferOption) (int64, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if offset == 0 {
		flags |= os.O_TRUNC
	}
	return c.upload(ctx, "store", c.abs(p), flags, r, offset)
}

// Append writes r at the end of the file p (made when missing).
func (c *Client) Append(ctx context.Context, p string, r io.Reader, _ ...ftpclient.TransferOption) (int64, error) {
	p = c.abs(p)
	size, err := c.Size(ctx, p)
	if ftpclient.IsNotExist(err) {
		size, err = 0, nil
	}
	if err != nil {
		return 0, err
	}
	return c.upload(ctx, "append", p, os.O_WRONLY|os.O_CREATE, r, size)
}

func (c *Client) upload(ctx context.Context, op, p string, flags int, r io.Reader, offset int64) (int64, error) {
	s, f, err := c.open(ctx, op, p, flags, offset)
	if err != nil {
		return 0, err
	}
	n, err := transfer(ctx, s, func() (int64, error) {
		var n int64
		var err error
		if offset > 0 {
			// The first write goes alone: a server that resumes at
			// the offset of the first write it receives (ferry's, like
			// REST + STOR) must not see a later one first.
			n, err = writeFirst(f, r)
		}
		if err == nil {
			var m int64
			m, err = f.ReadFromWithConcurrency(r, c.cfg.MaxConcurrentRequests)
			n += m
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return n, err
	})
	c.trace.result(s.id, "write and close "+printable(p), err, fmt.Sprintf("%d bytes", n))
	return n, wrapErr(op, p, err)
}

// writeFirst writes the first packet of r to f, on its own.
func writeFirst(f *sftp.File, r io.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	n, err := io.ReadFull(r, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	if err != nil {
		return 0, err
	}
	_, err = f.Write(buf[:n])
	return int64(n), err
}

// Open returns a reader of the file p from offset. Closing it closes the
// file; when ctx ends first, the connection is closed.
func (c *Client) Open(ctx context.Context, p string, offset int64, _ ...ftpclient.TransferOption) (io.ReadCloser, error) {
	p = c.abs(p)
	s, f, err := c.open(ctx, "open", p, os.O_RDONLY, offset)
	if err != nil {
		return nil, err
	}
	return &reader{s: s, f: f, buf: bufio.NewReaderSize(f, readAhead), p: p, ctx: ctx, stop: context.AfterFunc(ctx, s.close), trace: c.trace}, nil
}

// readAhead is what Open's reader asks for at once: pkg/sftp splits a
// large read into requests that are in flight together, so however small
// the caller's reads (io.Copy's 32 KiB), the link stays busy instead of
// waiting a round trip per packet.
const readAhead = 1 << 20

type reader struct {
	s    *session
	f    *sftp.File
	buf  *bufio.Reader
	p    string
	ctx  context.Context
	stop func() bool

	trace *tracer
	read  int64 // for the trace
}

func (r *reader) Read(b []byte) (int, error) {
	n, err := r.buf.Read(b)
	r.read += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		if cerr := r.ctx.Err(); cerr != nil {
			return n, cerr
		}
		err = wrapErr("read", r.p, r.s.check(err))
	}
	return n, err
}

func (r *reader) Close() error {
	r.stop()
	err := r.f.Close()
	r.trace.result(r.s.id, "read and close "+printable(r.p), err, fmt.Sprintf("%d bytes", r.read))
	return err
}
