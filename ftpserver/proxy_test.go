package ftpserver_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// proxyV1 is a PROXY protocol v1 line for a client at src talking to dst.
func proxyV1(src, dst netip.AddrPort) []byte {
	proto := "TCP4"
	if src.Addr().Is6() {
		proto = "TCP6"
	}
	return fmt.Appendf(nil, "PROXY %s %s %s %d %d\r\n", proto, src.Addr(), dst.Addr(), src.Port(), dst.Port())
}

// proxyV2 is a PROXY protocol v2 header (command PROXY, TCP) for a client
// at src talking to dst, with the given TLVs after the addresses.
func proxyV2(src, dst netip.AddrPort, tlvs []byte) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21")
	if src.Addr().Is4() {
		b = append(b, 0x11) // TCP over IPv4
	} else {
		b = append(b, 0x21) // TCP over IPv6
	}
	addrs := append(src.Addr().AsSlice(), dst.Addr().AsSlice()...)
	addrs = binary.BigEndian.AppendUint16(addrs, src.Port())
	addrs = binary.BigEndian.AppendUint16(addrs, dst.Port())
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)+len(tlvs)))
	return append(append(b, addrs...), tlvs...)
}

// proxyLocalV2 is a v2 LOCAL header: the balancer's own health check.
var proxyLocalV2 = []byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")

// trustLoopback1 makes 127.0.0.1 a trusted proxy (with header timeout d,
// or the default for 0).
func trustLoopback1(d time.Duration) func(*ftpserver.Server) {
	return func(s *ftpserver.Server) {
		s.ProxyProtocol = &ftpserver.ProxyProtocol{
			Trusted:       []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			HeaderTimeout: d,
		}
	}
}

// rawDial connects to ts from the local address ip without reading
// anything.
func (ts *testServer) rawDial(t *testing.T, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dialProxied connects from 127.0.0.1, as a balancer would, sends header
// and reads the greeting.
func (ts *testServer) dialProxied(t *testing.T, header []byte) *client {
	t.Helper()
	conn := ts.rawDial(t, "127.0.0.1")
	if _, err := conn.Write(header); err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, tp: textproto.NewConn(conn)}
	c.expect(220)
	return c
}

// connectedTo is the client address STAT reports.
func (c *client) connectedTo() string {
	c.t.Helper()
	msg := c.cmd(211, "STAT")
	for line := range strings.SplitSeq(msg, "\n") {
		if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "Connected to "); ok {
			return addr
		}
	}
	c.t.Fatalf("STAT names no address: %q", msg)
	return ""
}

// expectSilentClose fails unless the server closes conn without sending
// anything. Closing a socket with input left unread resets it: that is a
// close too.
func expectSilentClose(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) || len(got) != 0 {
		t.Fatalf("server sent %q (%v), want the connection closed in silence", got, err)
	}
}

// TestProxyHeaderGivesClientAddress: the address in a trusted v1 or v2
// header is the session's client address, before and after AUTH TLS.
func TestProxyHeaderGivesClientAddress(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, trustLoopback1(0))
	src4 := netip.MustParseAddrPort("127.0.0.3:40001")
	src6 := netip.MustParseAddrPort("[::1]:40002")
	dst4 := netip.MustParseAddrPort(ts.addr)
	dst6 := netip.MustParseAddrPort("[::1]:21")
	for _, tc := range []struct {
		name   string
		header []byte
		want   string
	}{
		{"v1 TCP4", proxyV1(src4, dst4), "127.0.0.3"},
		{"v1 TCP6", proxyV1(src6, dst6), "::1"},
		{"v2 TCP4", proxyV2(src4, dst4, nil), "127.0.0.3"},
		{"v2 TCP6", proxyV2(src6, dst6, nil), "::1"},
		// TLVs (here PP2_TYPE_UNIQUE_ID and a NOOP) are skipped.
		{"v2 TCP4 with TLVs", proxyV2(src4, dst4, []byte("\x05\x00\x03abc\x04\x00\x00")), "127.0.0.3"},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), "127.0.0.1"},
		{"v2 LOCAL", proxyLocalV2, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ts.dialProxied(t, tc.header)
			if got := c.connectedTo(); got != tc.want {
				t.Fatalf("STAT says connected to %s, want %s", got, tc.want)
			}
			c.authTLS(ts.clientConfig(0))
			c.loginAs("alice", "secret")
			if got := c.connectedTo(); got != tc.want {
				t.Fatalf("over TLS STAT says connected to %s, want %s", got, tc.want)
			}
		})
	}
}

// TestProxyPassiveDataFromClientAddress: a passive data connection must
// come from the address the header named, not from the balancer's; and
// without a header, from the TCP peer.
func TestProxyPassiveDataFromClientAddress(t *testing.T) {
	t.Parallel()
	ts := startServer(t, trustLoopback1(0))
	content := bytes.Repeat([]byte("proxied "), 5000)
	ts.fs.WriteFile("/f", content)
	for _, tc := range []struct {
		name          string
		dial          func(t *testing.T) *client
		good, foreign string
	}{
		{"PROXY v2 from 127.0.0.3", func(t *testing.T) *client {
			return ts.dialProxied(t, proxyV2(netip.MustParseAddrPort("127.0.0.3:5555"), netip.MustParseAddrPort(ts.addr), nil))
		}, "127.0.0.3", "127.0.0.1"},
		{"PROXY v1 from 127.0.0.3", func(t *testing.T) *client {
			return ts.dialProxied(t, proxyV1(netip.MustParseAddrPort("127.0.0.3:5555"), netip.MustParseAddrPort(ts.addr)))
		}, "127.0.0.3", "127.0.0.1"},
		{"untrusted 127.0.0.2 without header", func(t *testing.T) *client {
			return ts.dialFrom(t, "127.0.0.2")
		}, "127.0.0.2", "127.0.0.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.dial(t)
			c.loginAs("alice", "secret")
			epsv := c.cmd(229, "EPSV")
			foreign := c.dataFrom(tc.foreign, epsv)
			c.send("RETR f")
			good := c.dataFrom(tc.good, epsv)
			c.expect(150)
			got, err := io.ReadAll(good)
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("RETR from %s: %d bytes (%v), want %d", tc.good, len(got), err, len(content))
			}
			c.expect(226)
			expectSilentClose(t, foreign)
		})
	}
}

// TestProxySessionsPerIPCountClaimedAddress: the per-address session limit
// counts the clients behind the balancer, not the balancer.
func TestProxySessionsPerIPCountClaimedAddress(t *testing.T) {
	t.Parallel()
	ts := startServer(t, trustLoopback1(0), func(s *ftpserver.Server) { s.MaxSessionsPerIP = 2 })
	dst := netip.MustParseAddrPort(ts.addr)
	from3 := proxyV2(netip.MustParseAddrPort("127.0.0.3:1000"), dst, nil)
	ts.dialProxied(t, from3)
	ts.dialProxied(t, from3)
	third := ts.rawDial(t, "127.0.0.1")
	third.Write(from3)
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := textproto.NewReader(bufio.NewReader(third)).ReadLine()
	if err != nil || !strings.HasPrefix(line, "421 ") {
		t.Fatalf("third session of 127.0.0.3: %q (%v), want 421", line, err)
	}
	// Another client behind the same balancer still gets in.
	c := ts.dialProxied(t, proxyV1(netip.MustParseAddrPort("127.0.0.4:1000"), dst))
	c.loginAs("alice", "secret")
}

// TestProxyTrustedWithoutHeaderClosed: from a trusted address, no header,
// a garbled one or one that never comes closes the connection without an
// FTP reply.
func TestProxyTrustedWithoutHeaderClosed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, trustLoopback1(100*time.Millisecond))
	for _, tc := range []struct {
		name string
		send string
	}{
		{"FTP command", "USER alice\r\n"},
		{"nothing", ""},
		{"v1 truncated", "PROXY TCP4 127.0.0.3 127.0.0.1 1"},
		{"v1 bad address", "PROXY TCP4 127.0.0.300 127.0.0.1 1 2\r\n"},
		{"v1 family mismatch", "PROXY TCP4 ::1 ::1 1 2\r\n"},
		{"v1 overlong", "PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n"},
		{"v1 bare LF", "PROXY TCP4 127.0.0.3 127.0.0.1 1 2\n"},
		{"v2 version 1", "\r\n\r\n\x00\r\nQUIT\n\x11\x11\x00\x0c" + strings.Repeat("\x00", 12)},
		{"v2 short length", "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x04\x7f\x00\x00\x03"},
		{"v2 truncated", "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x7f"},
		{"v2 UDP", "\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c" + strings.Repeat("\x01", 12)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn := ts.rawDial(t, "127.0.0.1")
			conn.Write([]byte(tc.send))
			expectSilentClose(t, conn)
		})
	}
	// The server goes on serving proxied clients.
	c := ts.dialProxied(t, proxyV1(netip.MustParseAddrPort("127.0.0.3:1"), netip.MustParseAddrPort(ts.addr)))
	c.cmd(331, "USER alice")
}

// TestProxyHeaderFromUntrustedNotBelieved: a header from an address that
// is not trusted (or with the PROXY protocol off) is an unknown command,
// and the session's address stays the TCP peer's.
func TestProxyHeaderFromUntrustedNotBelieved(t *testing.T) {
	t.Parallel()
	trusted := startServer(t, trustLoopback1(0))
	off := startServer(t)
	for _, tc := range []struct {
		name string
		ts   *testServer
		from string
	}{
		{"untrusted address", trusted, "127.0.0.2"},
		{"PROXY protocol off", off, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.ts.dialFrom(t, tc.from)
			c.conn.Write(proxyV1(netip.MustParseAddrPort("127.0.0.3:1"), netip.MustParseAddrPort(tc.ts.addr)))
			c.expect(500)
			if got := c.connectedTo(); got != tc.from {
				t.Fatalf("STAT says connected to %s, want the TCP peer %s", got, tc.from)
			}
			// The v2 signature ends in "QUIT\n", so a server that does
			// not expect it ends the session.
			c.conn.Write(proxyV2(netip.MustParseAddrPort("127.0.0.3:1"), netip.MustParseAddrPort(tc.ts.addr), nil))
			for {
				code, msg := c.read()
				if code == 221 {
					break
				}
				if code != 500 && code != 501 {
					t.Fatalf("v2 header from %s: %d %q", tc.from, code, msg)
				}
			}
		})
	}
}

// TestProxyUrgentData: a proxied control connection still takes urgent
// data in line (ftplib sends ABOR with MSG_OOB), so the socket option is
// set on the TCP connection under the one that renames the peer.
func TestProxyUrgentData(t *testing.T) {
	t.Parallel()
	ts := startServer(t, trustLoopback1(0))
	c := ts.dialProxied(t, proxyV2(netip.MustParseAddrPort("127.0.0.3:1"), netip.MustParseAddrPort(ts.addr), nil))
	c.loginAs("alice", "secret")
	sendUrgent(t, c.conn, []byte("NOOP\r\n"))
	c.expect(200)
	c.cmd(225, "ABOR")
}
