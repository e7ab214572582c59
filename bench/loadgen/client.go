package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// readSize is the size of every read from a data connection: 1 MiB, the
// same for every server measured.
const readSize = 1 << 20

// dialOptions says where and how a session logs in.
type dialOptions struct {
	addr    string
	user    string
	pass    string
	tls     bool          // AUTH TLS, PBSZ 0, PROT P
	timeout time.Duration // bound on any single step
}

// client is a minimal FTP client: only what load generation needs
// (login, PASV, RETR, STOR, LIST/MLSD), written against RFC 959 so that no
// server's own client library is involved.
type client struct {
	conn    net.Conn
	text    *textproto.Reader
	opts    dialOptions
	dataTLS *tls.Config // shares the control session's ticket cache
	tlsInfo string      // negotiated version and cipher of the last data connection
}

// errReply is an unexpected reply from the server.
type errReply struct {
	cmd  string
	code int
	msg  string
}

func (e *errReply) Error() string {
	return fmt.Sprintf("%s: unexpected reply %d %s", e.cmd, e.code, e.msg)
}

func dial(ctx context.Context, o dialOptions) (*client, error) {
	if o.timeout == 0 {
		o.timeout = 60 * time.Second
	}
	d := net.Dialer{Timeout: o.timeout}
	conn, err := d.DialContext(ctx, "tcp", o.addr)
	if err != nil {
		return nil, err
	}
	c := &client{conn: conn, opts: o}
	c.text = textproto.NewReader(bufio.NewReaderSize(conn, 4096))
	if err := c.login(); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *client) login() error {
	if _, err := c.expect("greeting", 2); err != nil {
		return err
	}
	if c.opts.tls {
		if _, err := c.cmd(2, "AUTH TLS"); err != nil {
			return err
		}
		conf := &tls.Config{
			// The name keys the session cache, so the data connections
			// (on other ports) resume the control connection's session,
			// as vsftpd's require_ssl_reuse and ferry demand.
			ServerName:         "ferry-bench",
			InsecureSkipVerify: true,
			ClientSessionCache: tls.NewLRUClientSessionCache(4),
		}
		tc := tls.Client(c.conn, conf)
		tc.SetDeadline(time.Now().Add(c.opts.timeout))
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("AUTH TLS handshake: %w", err)
		}
		tc.SetDeadline(time.Time{})
		c.conn = tc
		c.text = textproto.NewReader(bufio.NewReaderSize(tc, 4096))
		c.dataTLS = conf
		if _, err := c.cmd(2, "PBSZ 0"); err != nil {
			return err
		}
		if _, err := c.cmd(2, "PROT P"); err != nil {
			return err
		}
	}
	code, msg, err := c.do("USER " + c.opts.user)
	if err != nil {
		return err
	}
	if code == 331 {
		if code, msg, err = c.do("PASS " + c.opts.pass); err != nil {
			return err
		}
	}
	if code != 230 {
		return &errReply{"login", code, msg}
	}
	_, err = c.cmd(2, "TYPE I")
	return err
}

// do sends one command and reads its reply, whatever the code.
func (c *client) do(line string) (int, string, error) {
	c.conn.SetDeadline(time.Now().Add(c.opts.timeout))
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		return 0, "", err
	}
	return c.read()
}

func (c *client) read() (int, string, error) {
	c.conn.SetReadDeadline(time.Now().Add(c.opts.timeout))
	code, msg, err := c.text.ReadResponse(0)
	return code, msg, err
}

// cmd sends line and wants a reply of class class (1..5).
func (c *client) cmd(class int, line string) (string, error) {
	code, msg, err := c.do(line)
	if err != nil {
		return "", err
	}
	if code/100 != class {
		verb, _, _ := strings.Cut(line, " ")
		return msg, &errReply{verb, code, msg}
	}
	return msg, nil
}

// expect reads a reply (no command sent) of the given class.
func (c *client) expect(what string, class int) (string, error) {
	code, msg, err := c.read()
	if err != nil {
		return "", err
	}
	if code/100 != class {
		return msg, &errReply{what, code, msg}
	}
	return msg, nil
}

// passive sends PASV and dials the announced address. It must be the
// control connection's own host: every server measured listens on one
// address (loopback, or the server side of the veth pair) and must
// announce it, so a server that announces another is an error of the
// setup, not something to paper over.
func (c *client) passive() (net.Conn, error) {
	msg, err := c.cmd(2, "PASV")
	if err != nil {
		return nil, err
	}
	open, close := strings.IndexByte(msg, '('), strings.LastIndexByte(msg, ')')
	if open < 0 || close < open {
		return nil, fmt.Errorf("PASV: cannot parse %q", msg)
	}
	f := strings.Split(msg[open+1:close], ",")
	if len(f) != 6 {
		return nil, fmt.Errorf("PASV: cannot parse %q", msg)
	}
	hi, err1 := strconv.Atoi(strings.TrimSpace(f[4]))
	lo, err2 := strconv.Atoi(strings.TrimSpace(f[5]))
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("PASV: cannot parse %q", msg)
	}
	host, _, _ := net.SplitHostPort(c.opts.addr)
	announced := strings.Join(f[:4], ".")
	if ip := net.ParseIP(strings.ReplaceAll(announced, " ", "")); ip == nil || !ip.Equal(net.ParseIP(host)) {
		return nil, fmt.Errorf("PASV announces %s, the server is at %s", announced, host)
	}
	return net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(hi<<8|lo)), c.opts.timeout)
}

// transferIn opens a data connection, sends line (RETR, LIST, MLSD) and
// reads everything with 1 MiB reads; count, when set, sees every chunk.
func (c *client) transferIn(line string, buf []byte, count func([]byte)) (int64, error) {
	data, err := c.passive()
	if err != nil {
		return 0, err
	}
	defer data.Close()
	if _, err := c.cmd(1, line); err != nil {
		return 0, err
	}
	if c.dataTLS != nil {
		data = tls.Client(data, c.dataTLS)
	}
	var total int64
	if tc, ok := data.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(c.opts.timeout))
		if err := tc.Handshake(); err != nil {
			return 0, fmt.Errorf("data TLS handshake: %w", err)
		}
		st := tc.ConnectionState()
		c.tlsInfo = fmt.Sprintf("%s %s resumed=%v", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.DidResume)
	}
	for {
		data.SetReadDeadline(time.Now().Add(c.opts.timeout))
		n, err := data.Read(buf)
		total += int64(n)
		if count != nil && n > 0 {
			count(buf[:n])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return total, err
		}
	}
	data.Close()
	if _, err := c.expect(line, 2); err != nil {
		return total, err
	}
	return total, nil
}

// store uploads size bytes (buf repeated) to name with writes of len(buf).
func (c *client) store(name string, size int64, buf []byte) error {
	data, err := c.passive()
	if err != nil {
		return err
	}
	defer data.Close()
	if _, err := c.cmd(1, "STOR "+name); err != nil {
		return err
	}
	if c.dataTLS != nil {
		tc := tls.Client(data, c.dataTLS)
		tc.SetDeadline(time.Now().Add(c.opts.timeout))
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("data TLS handshake: %w", err)
		}
		st := tc.ConnectionState()
		c.tlsInfo = fmt.Sprintf("%s %s resumed=%v", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.DidResume)
		data = tc
	}
	for left := size; left > 0; {
		chunk := buf
		if int64(len(chunk)) > left {
			chunk = chunk[:left]
		}
		data.SetWriteDeadline(time.Now().Add(c.opts.timeout))
		n, err := data.Write(chunk)
		left -= int64(n)
		if err != nil {
			return err
		}
	}
	if tc, ok := data.(*tls.Conn); ok {
		// End the upload with close_notify and a FIN, then read until
		// the server closes. Closing at once would reset the connection:
		// the server's TLS 1.3 session tickets sit unread in this
		// socket, and close(2) with unread data sends RST, which throws
		// away what the server has not read yet (vsftpd then answers
		// "426 Failure reading network stream" with a truncated file).
		if err := tc.CloseWrite(); err != nil {
			return err
		}
		tc.SetReadDeadline(time.Now().Add(10 * c.opts.timeout))
		io.Copy(io.Discard, tc)
	}
	if err := data.Close(); err != nil {
		return err
	}
	// The final reply can take a while: ferry fsyncs before it.
	c.conn.SetReadDeadline(time.Now().Add(10 * c.opts.timeout))
	code, msg, err := c.text.ReadResponse(0)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return &errReply{"STOR", code, msg}
	}
	return nil
}

func (c *client) quit() {
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c.conn, "QUIT\r\n")
	c.text.ReadResponse(0)
	c.conn.Close()
}
