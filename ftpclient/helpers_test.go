package ftpclient_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// testServer is a real ferry server on 127.0.0.1:0.
type testServer struct {
	srv   *ftpserver.Server
	fs    *memfs.FS
	addr  string
	roots *x509.CertPool // set when TLS is configured
	ln    *countingListener

	listenAddr string // default 127.0.0.1:0
}

// aliceOnly lets in alice/secret with write access to fsys.
func aliceOnly(fsys ftpserver.FileSystem) func(ctx context.Context, user, pass string) (*ftpserver.Account, error) {
	return func(ctx context.Context, user, pass string) (*ftpserver.Account, error) {
		if user == "alice" && pass == "secret" {
			return &ftpserver.Account{User: "alice", FS: fsys, Write: true}, nil
		}
		return nil, ftpserver.ErrAuthFailed
	}
}

// startServer serves a memfs tree with users "alice"/"secret"
// (read-write) and "bob"/"pw" (read-only), and anonymous read-only access
// with the upload area /incoming.
func startServer(t *testing.T, mutate ...func(*ftpserver.Server)) *testServer {
	t.Helper()
	mfs := memfs.New()
	if err := mfs.Mkdir(context.Background(), "/incoming"); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{fs: mfs}
	return ts.start(t, func(ctx context.Context, user, pass string) (*ftpserver.Account, error) {
		switch {
		case user == "alice" && pass == "secret":
			return &ftpserver.Account{User: "alice", FS: mfs, Write: true}, nil
		case user == "bob" && pass == "pw":
			return &ftpserver.Account{User: "bob", FS: mfs}, nil
		case strings.EqualFold(user, "anonymous"):
			return &ftpserver.Account{User: "anonymous", FS: mfs, UploadDir: "/incoming", Anonymous: true}, nil
		}
		return nil, ftpserver.ErrAuthFailed
	}, mutate...)
}

func (ts *testServer) start(t *testing.T, auth func(ctx context.Context, user, pass string) (*ftpserver.Account, error), mutate ...func(*ftpserver.Server)) *testServer {
	t.Helper()
	ts.srv = &ftpserver.Server{
		LoginFailDelay: -1,
		Logger:         slog.New(slog.DiscardHandler),
		DataTimeout:    5 * time.Second,
		Auth: ftpserver.AuthFunc(func(ctx context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			return auth(ctx, user, pass)
		}),
	}
	for _, m := range mutate {
		m(ts.srv)
	}
	if ts.listenAddr == "" {
		ts.listenAddr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", ts.listenAddr)
	if err != nil {
		t.Fatal(err)
	}
	ts.ln = &countingListener{Listener: ln}
	ts.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(ts.ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ftpserver.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ts
}

// serveImplicit adds an implicit-TLS listener and returns its address.
func (ts *testServer) serveImplicit(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ts.srv.ServeTLS(ln) }()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// startTLSServer is startServer with FTPS configured.
func startTLSServer(t *testing.T, mutate ...func(*ftpserver.Server)) *testServer {
	t.Helper()
	cert, roots := testCert(t)
	ts := startServer(t, append([]func(*ftpserver.Server){func(s *ftpserver.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}}, mutate...)...)
	ts.roots = roots
	return ts
}

// testCert makes a self-signed certificate for "localhost", 127.0.0.1 and ::1.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	pair := testcert.New(t)
	return pair.Cert, pair.Roots
}

// countingListener counts the control connections open at once.
type countingListener struct {
	net.Listener
	open, peak, total atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	l.total.Add(1)
	for {
		p := l.peak.Load()
		if n <= p || l.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a trace.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dial connects a client as alice and closes it at the end of the test.
func dial(t *testing.T, addr string, opts ...ftpclient.Option) *ftpclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ftpclient.Dial(ctx, addr, append([]ftpclient.Option{
		ftpclient.WithLogin("alice", "secret"),
		ftpclient.WithTimeout(10 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// concurrently runs op(g, i) for i from 0 to rounds-1 in each of
// goroutines goroutines at once, and reports every error op returns.
func concurrently(t *testing.T, goroutines, rounds int, op func(g, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				if err := op(g, i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// pattern returns n bytes that differ at every offset, so that a resumed
// or shifted transfer shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// fakeServer is a scripted FTP server for behaviours ferry's server does
// not have: refusing EPSV, announcing a bogus PASV address, sending
// listings it cannot produce. Handlers are looked up by verb; the
// defaults log in anybody and answer the setup commands.
type fakeServer struct {
	t        *testing.T
	ln       net.Listener
	addr     string
	feat     []string // FEAT lines, without the leading space
	pasvHost string   // h1,h2,h3,h4 announced in 227 replies
	handlers map[string]func(s *fakeSession, arg string)
	tls      *tls.Config // enables AUTH TLS
	dataTLS  *tls.Config // for data connections; default tls

	mu       sync.Mutex
	commands []string
}

type fakeSession struct {
	srv    *fakeServer
	conn   net.Conn
	br     *bufio.Reader
	dataLn net.Listener
	protP  bool
}

func startFake(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{
		t: t, ln: ln, addr: ln.Addr().String(),
		feat:     []string{"EPSV", "PASV", "SIZE", "MDTM", "REST STREAM"},
		pasvHost: "127,0,0,1",
		handlers: map[string]func(*fakeSession, string){},
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := &fakeSession{srv: fs, conn: c, br: bufio.NewReader(c)}
				s.serve()
			}()
		}
	}()
	return fs
}

func (fs *fakeServer) handle(verb string, h func(s *fakeSession, arg string)) {
	fs.handlers[verb] = h
}

// received returns the commands received so far, verb and argument.
func (fs *fakeServer) received() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.commands...)
}

func (fs *fakeServer) count(verb string) int {
	n := 0
	for _, c := range fs.received() {
		if v, _, _ := strings.Cut(c, " "); v == verb {
			n++
		}
	}
	return n
}

func (s *fakeSession) reply(code int, msg string) {
	s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.conn.Write(ftp.AppendReply(nil, code, msg))
}

func (s *fakeSession) readCommand() (string, error) {
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := s.br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	s.srv.mu.Lock()
	s.srv.commands = append(s.srv.commands, line)
	s.srv.mu.Unlock()
	return line, nil
}

func (s *fakeSession) serve() {
	defer s.conn.Close()
	s.reply(220, "fake ready")
	for {
		line, err := s.readCommand()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if h, ok := s.srv.handlers[verb]; ok {
			h(s, arg)
			continue
		}
		switch verb {
		case "USER":
			s.reply(331, "password please")
		case "PASS":
			s.reply(230, "logged in")
		case "FEAT":
			lines := append([]string{"Features:"}, s.srv.feat...)
			s.reply(211, strings.Join(append(lines, "End"), "\n"))
		case "PWD":
			s.reply(257, `"/" is the current directory`)
		case "TYPE", "NOOP", "OPTS":
			s.reply(200, "ok")
		case "EPSV":
			port := s.listen()
			s.reply(229, ftp.FormatEPSVReply(port))
		case "PASV":
			port := s.listen()
			s.reply(227, fmt.Sprintf("Entering Passive Mode (%s,%d,%d).", s.srv.pasvHost, port>>8, port&0xff))
		case "AUTH":
			if s.srv.tls == nil {
				s.reply(502, "no TLS")
				continue
			}
			s.reply(234, "go ahead")
			tc := tls.Server(s.conn, s.srv.tls)
			if tc.Handshake() != nil {
				return
			}
			s.conn, s.br = tc, bufio.NewReader(tc)
		case "PBSZ":
			s.reply(200, "PBSZ=0")
		case "PROT":
			s.protP = arg == "P"
			s.reply(200, "PROT "+arg)
		case "ABOR":
			s.reply(225, "no transfer to abort")
		case "QUIT":
			s.reply(221, "bye")
			return
		default:
			s.reply(502, "not implemented")
		}
	}
}

// listen opens the passive listener of the next transfer.
func (s *fakeSession) listen() int {
	if s.dataLn != nil {
		s.dataLn.Close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.srv.t.Error(err)
		return 0
	}
	s.dataLn = ln
	return ln.Addr().(*net.TCPAddr).Port
}

// sendData runs a download: 150, the data, 226.
func (s *fakeSession) sendData(data []byte) {
	s.reply(150, "here it comes")
	dc := s.accept()
	if dc == nil {
		s.reply(425, "no data connection")
		return
	}
	dc.Write(data)
	dc.Close()
	s.reply(226, "done")
}

func (s *fakeSession) accept() net.Conn {
	if s.dataLn == nil {
		return nil
	}
	s.dataLn.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	dc, err := s.dataLn.Accept()
	s.dataLn.Close()
	s.dataLn = nil
	if err != nil {
		return nil
	}
	if s.protP {
		conf := s.srv.dataTLS
		if conf == nil {
			conf = s.srv.tls
		}
		tc := tls.Server(dc, conf)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			dc.Close()
			return nil
		}
		// The deadline was for the handshake: a transfer of megabytes
		// under the race detector on a loaded machine may take longer,
		// and the client's context bounds it anyway.
		tc.SetDeadline(time.Time{})
		return tc
	}
	return dc
}

// recordingDialer records the addresses the client dials and refuses any
// that is not on 127.0.0.1, so that a test can never reach out.
type recordingDialer struct {
	mu    sync.Mutex
	addrs []string
}

func (d *recordingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Addr() != netip.MustParseAddr("127.0.0.1") {
		return nil, fmt.Errorf("test dialer: refusing %s", addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *recordingDialer) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

var _ = io.EOF
