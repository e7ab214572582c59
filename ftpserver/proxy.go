package ftpserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// ProxyProtocol makes the server take the client's address from a PROXY
// protocol header (HAProxy's v1 text or v2 binary form) that a load
// balancer sends at the start of each connection it forwards.
type ProxyProtocol struct {
	// Trusted are the networks of the load balancers. A connection from
	// one of them must start with a PROXY header, and the address it
	// carries is the client's address for everything the server does
	// with one (logs, per-address limits, the data-connection address
	// check, STAT). A connection from anywhere else is taken as it is:
	// a header it sends is not believed, only an unknown command.
	Trusted []netip.Prefix
	// HeaderTimeout bounds the wait for a trusted connection's header.
	// Default 5 seconds.
	HeaderTimeout time.Duration
}

// DefaultProxyHeaderTimeout is the zero value of HeaderTimeout.
const DefaultProxyHeaderTimeout = 5 * time.Second

// ErrProxyHeader is the error of a missing or malformed PROXY header.
var ErrProxyHeader = errors.New("ftpserver: bad PROXY protocol header")

// Sizes of the PROXY protocol (HAProxy's proxy-protocol.txt).
const (
	proxyV1MaxLen  = 107 // a whole v1 line, CRLF included
	proxyV2HeadLen = 16  // signature, version/command, family, length
	proxyV2Inet    = 12  // two IPv4 addresses, two ports
	proxyV2Inet6   = 36  // two IPv6 addresses, two ports
)

var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// errProxyHungUp is a trusted peer that closed without sending a byte:
// a balancer's TCP health check, not worth a warning.
var errProxyHungUp = fmt.Errorf("%w: closed before sending one", ErrProxyHeader)

// trusts reports whether conns from ip must carry a PROXY header.
func (p *ProxyProtocol) trusts(ip netip.Addr) bool {
	for _, pfx := range p.Trusted {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// proxyHeader is what a PROXY header says about a connection.
type proxyHeader struct {
	// local: the header does not name a client (v2 LOCAL, a health
	// check of the balancer's own; v1 UNKNOWN; v2 UNSPEC), so the
	// connection's own peer stands.
	local    bool
	src, dst netip.AddrPort
}

// readProxyHeader reads one PROXY header from r and nothing after it: the
// bytes that follow belong to the FTP session, which reads the socket
// itself (and peeks at it), so nothing may be left in a buffer here.
func readProxyHeader(r io.Reader) (proxyHeader, error) {
	// 12 bytes are less than the shortest v1 line ("PROXY UNKNOWN\r\n")
	// and exactly the v2 signature, so they can be read before knowing
	// which version this is.
	var buf [proxyV1MaxLen]byte
	if _, err := io.ReadFull(r, buf[:len(proxyV2Sig)]); err != nil {
		if err == io.EOF {
			return proxyHeader{}, errProxyHungUp
		}
		return proxyHeader{}, fmt.Errorf("%w: %w", ErrProxyHeader, err)
	}
	switch {
	case bytes.Equal(buf[:len(proxyV2Sig)], proxyV2Sig):
		return readProxyV2(r)
	case bytes.HasPrefix(buf[:], []byte("PROXY ")):
		// A v1 line ends at the first LF; it is read a byte at a time
		// so as not to read past it. It happens once per connection,
		// from a trusted balancer.
		n := len(proxyV2Sig)
		for buf[n-1] != '\n' {
			if n == len(buf) {
				return proxyHeader{}, fmt.Errorf("%w: v1 line longer than %d bytes", ErrProxyHeader, proxyV1MaxLen)
			}
			if _, err := io.ReadFull(r, buf[n:n+1]); err != nil {
				return proxyHeader{}, fmt.Errorf("%w: %w", ErrProxyHeader, err)
			}
			n++
		}
		return parseProxyV1(buf[:n])
	}
	return proxyHeader{}, fmt.Errorf("%w: no PROXY signature", ErrProxyHeader)
}

// parseProxyV1 parses a whole v1 line, "PROXY TCP4 src dst sport
// dport\r\n" (or TCP6, or UNKNOWN followed by anything).
func parseProxyV1(line []byte) (proxyHeader, error) {
	rest, ok := bytes.CutSuffix(line, []byte("\r\n"))
	if !ok {
		return proxyHeader{}, fmt.Errorf("%w: v1 line does not end in CRLF", ErrProxyHeader)
	}
	if bytes.ContainsAny(rest, "\r\n") {
		return proxyHeader{}, fmt.Errorf("%w: v1 line broken by CR or LF", ErrProxyHeader)
	}
	rest, _ = bytes.CutPrefix(rest, []byte("PROXY "))
	if proto, _, _ := bytes.Cut(rest, []byte(" ")); string(proto) == "UNKNOWN" {
		// The sender does not know the client; whatever follows is
		// to be ignored (proxy-protocol.txt 2.1).
		return proxyHeader{local: true}, nil
	}
	fields := bytes.Split(rest, []byte(" "))
	if len(fields) != 5 {
		return proxyHeader{}, fmt.Errorf("%w: v1 line has %d fields, want 6", ErrProxyHeader, len(fields)+1)
	}
	var want6 bool
	switch string(fields[0]) {
	case "TCP4":
	case "TCP6":
		want6 = true
	default:
		return proxyHeader{}, fmt.Errorf("%w: v1 protocol %q", ErrProxyHeader, fields[0])
	}
	var addrs [2]netip.Addr
	var ports [2]uint16
	for i := range 2 {
		ip, err := netip.ParseAddr(string(fields[1+i]))
		if err != nil || ip.Zone() != "" || ip.Is6() != want6 {
			return proxyHeader{}, fmt.Errorf("%w: v1 %s address %q", ErrProxyHeader, fields[0], fields[1+i])
		}
		addrs[i] = ip
		p := fields[3+i]
		port, err := strconv.ParseUint(string(p), 10, 16)
		if err != nil || len(p) > 1 && p[0] == '0' {
			return proxyHeader{}, fmt.Errorf("%w: v1 port %q", ErrProxyHeader, p)
		}
		ports[i] = uint16(port)
	}
	return proxyHeader{
		src: netip.AddrPortFrom(addrs[0], ports[0]),
		dst: netip.AddrPortFrom(addrs[1], ports[1]),
	}, nil
}

// readProxyV2 reads the rest of a v2 header, its signature read.
func readProxyV2(r io.Reader) (proxyHeader, error) {
	var head [proxyV2HeadLen - 12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return proxyHeader{}, fmt.Errorf("%w: %w", ErrProxyHeader, err)
	}
	verCmd, famProto := head[0], head[1]
	length := int(binary.BigEndian.Uint16(head[2:]))
	if verCmd>>4 != 2 {
		return proxyHeader{}, fmt.Errorf("%w: v2 version %d", ErrProxyHeader, verCmd>>4)
	}
	var h proxyHeader
	var addrLen int
	switch cmd := verCmd & 0xf; {
	case cmd == 0: // LOCAL: the balancer's own connection
		h.local = true
	case cmd != 1:
		return proxyHeader{}, fmt.Errorf("%w: v2 command %d", ErrProxyHeader, cmd)
	case famProto>>4 == 0: // UNSPEC: no client address to give
		h.local = true
	case famProto == 0x11: // TCP over IPv4
		addrLen = proxyV2Inet
	case famProto == 0x21: // TCP over IPv6
		addrLen = proxyV2Inet6
	default:
		// UNIX sockets and datagrams have no FTP client address.
		return proxyHeader{}, fmt.Errorf("%w: v2 family/protocol %#02x", ErrProxyHeader, famProto)
	}
	if length < addrLen {
		return proxyHeader{}, fmt.Errorf("%w: v2 length %d shorter than its addresses", ErrProxyHeader, length)
	}
	var addrs [proxyV2Inet6]byte
	if _, err := io.ReadFull(r, addrs[:addrLen]); err != nil {
		return proxyHeader{}, fmt.Errorf("%w: %w", ErrProxyHeader, err)
	}
	// TLVs (and a LOCAL header's addresses) are not needed; the length
	// field bounds them to 64 KiB.
	if _, err := io.CopyN(io.Discard, r, int64(length-addrLen)); err != nil {
		return proxyHeader{}, fmt.Errorf("%w: %w", ErrProxyHeader, err)
	}
	switch addrLen {
	case proxyV2Inet:
		h.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addrs[0:4])), binary.BigEndian.Uint16(addrs[8:]))
		h.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addrs[4:8])), binary.BigEndian.Uint16(addrs[10:]))
	case proxyV2Inet6:
		h.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addrs[0:16])), binary.BigEndian.Uint16(addrs[32:]))
		h.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addrs[16:32])), binary.BigEndian.Uint16(addrs[34:]))
	}
	return h, nil
}

// proxiedConn is a connection whose client address came in a PROXY
// header: RemoteAddr is that client's, LocalAddr stays the node's own
// (PASV announces it, and data connections come straight to it).
type proxiedConn struct {
	net.Conn
	remote *net.TCPAddr
}

func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }

// NetConn returns the connection from the balancer, as tls.Conn's does:
// socket-level code (rawConn) finds the socket through it.
func (c *proxiedConn) NetConn() net.Conn { return c.Conn }

// plainTCP returns the TCP connection conn is, seeing through a
// proxiedConn (which only renames the peer) but not through TLS.
func plainTCP(conn net.Conn) (*net.TCPConn, bool) {
	if pc, ok := conn.(*proxiedConn); ok {
		conn = pc.Conn
	}
	tc, ok := conn.(*net.TCPConn)
	return tc, ok
}

// acceptProxied reads the PROXY header of conn, from a trusted balancer,
// and starts its session with the client address it names. It runs in
// conn's own goroutine, so a balancer that is slow to send the header
// holds up nobody else. A missing or malformed header closes conn with
// no reply: the other end is a balancer, not an FTP client.
func (srv *Server) acceptProxied(conn net.Conn, opts ListenerOptions) {
	st := srv.state()
	st.mu.Lock()
	if st.closing {
		st.mu.Unlock()
		conn.Close()
		return
	}
	st.pending[conn] = struct{}{}
	st.mu.Unlock()

	conn.SetReadDeadline(time.Now().Add(durationOr(srv.ProxyProtocol.HeaderTimeout, DefaultProxyHeaderTimeout)))
	h, err := readProxyHeader(conn)
	conn.SetReadDeadline(time.Time{})

	st.mu.Lock()
	delete(st.pending, conn)
	st.mu.Unlock()
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, errProxyHungUp) {
			level = slog.LevelDebug
		}
		srv.logger().Log(context.Background(), level, "closing connection from trusted proxy", "proxy", conn.RemoteAddr().String(), "err", err)
		conn.Close()
		return
	}
	if !h.local {
		src := h.src
		conn = &proxiedConn{Conn: conn, remote: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src.Addr().Unmap(), src.Port()))}
	}
	srv.startSession(conn, opts)
}
