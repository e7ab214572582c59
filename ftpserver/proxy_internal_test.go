package ftpserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testwait"
)

func TestParseProxyHeader(t *testing.T) {
	t.Parallel()
	v2 := func(rest string) string { return "\r\n\r\n\x00\r\nQUIT\n" + rest }
	for _, tc := range []struct {
		name, in string
		want     proxyHeader // ignored when wantErr
		wantErr  bool
	}{
		{"v1 TCP4", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 21\r\n",
			proxyHeader{src: netip.MustParseAddrPort("192.0.2.1:56324"), dst: netip.MustParseAddrPort("198.51.100.2:21")}, false},
		{"v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n",
			proxyHeader{src: netip.MustParseAddrPort("[2001:db8::1]:65535"), dst: netip.MustParseAddrPort("[2001:db8::2]:0")}, false},
		{"v1 UNKNOWN", "PROXY UNKNOWN\r\n", proxyHeader{local: true}, false},
		{"v1 UNKNOWN with addresses", "PROXY UNKNOWN 1 2 3 4\r\n", proxyHeader{local: true}, false},
		{"v1 longest", "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			proxyHeader{src: netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), dst: netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}, false},
		{"v1 one byte too long", "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535 \r\n", proxyHeader{}, true},
		{"v1 port too big", "PROXY TCP4 192.0.2.1 192.0.2.2 65536 21\r\n", proxyHeader{}, true},
		{"v1 port leading zero", "PROXY TCP4 192.0.2.1 192.0.2.2 021 21\r\n", proxyHeader{}, true},
		{"v1 port sign", "PROXY TCP4 192.0.2.1 192.0.2.2 +21 21\r\n", proxyHeader{}, true},
		{"v1 double space", "PROXY TCP4  192.0.2.1 192.0.2.2 1 21\r\n", proxyHeader{}, true},
		{"v1 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 21\r\n", proxyHeader{}, true},
		{"v1 mapped in TCP4", "PROXY TCP4 ::ffff:192.0.2.1 192.0.2.2 1 21\r\n", proxyHeader{}, true},
		{"v1 TCP5", "PROXY TCP5 192.0.2.1 192.0.2.2 1 21\r\n", proxyHeader{}, true},
		{"v1 lower case", "proxy TCP4 192.0.2.1 192.0.2.2 1 21\r\n", proxyHeader{}, true},
		{"v1 LF inside", "PROXY UNKNOWN\nUSER x\r\n", proxyHeader{}, true},
		{"v1 CR inside", "PROXY TCP4 192.0.2.1\r192.0.2.2 1 21\r\n", proxyHeader{}, true},
		{"v2 TCP4", v2("\x21\x11\x00\x0c\xc0\x00\x02\x01\xc0\x00\x02\x02\xdc\x04\x00\x15"),
			proxyHeader{src: netip.MustParseAddrPort("192.0.2.1:56324"), dst: netip.MustParseAddrPort("192.0.2.2:21")}, false},
		{"v2 TCP6", v2("\x21\x21\x00\x24" + "\x20\x01\x0d\xb8" + string(make([]byte, 11)) + "\x01" + "\x20\x01\x0d\xb8" + string(make([]byte, 11)) + "\x02\x00\x01\x00\x02"),
			proxyHeader{src: netip.MustParseAddrPort("[2001:db8::1]:1"), dst: netip.MustParseAddrPort("[2001:db8::2]:2")}, false},
		{"v2 TCP4 with TLV", v2("\x21\x11\x00\x10\xc0\x00\x02\x01\xc0\x00\x02\x02\x00\x01\x00\x02\x04\x00\x01x"),
			proxyHeader{src: netip.MustParseAddrPort("192.0.2.1:1"), dst: netip.MustParseAddrPort("192.0.2.2:2")}, false},
		{"v2 LOCAL", v2("\x20\x00\x00\x00"), proxyHeader{local: true}, false},
		{"v2 LOCAL with addresses", v2("\x20\x11\x00\x0c" + string(make([]byte, 12))), proxyHeader{local: true}, false},
		{"v2 UNSPEC", v2("\x21\x00\x00\x00"), proxyHeader{local: true}, false},
		{"v2 version 3", v2("\x31\x11\x00\x0c" + string(make([]byte, 12))), proxyHeader{}, true},
		{"v2 command 2", v2("\x22\x11\x00\x0c" + string(make([]byte, 12))), proxyHeader{}, true},
		{"v2 UNIX", v2("\x21\x31\x00\xd8" + string(make([]byte, 216))), proxyHeader{}, true},
		{"v2 UDP", v2("\x21\x12\x00\x0c" + string(make([]byte, 12))), proxyHeader{}, true},
		{"v2 length short of addresses", v2("\x21\x21\x00\x0c" + string(make([]byte, 12))), proxyHeader{}, true},
		{"v2 truncated TLVs", v2("\x21\x11\x00\x20" + string(make([]byte, 12))), proxyHeader{}, true},
		{"v2 signature broken", "\r\n\r\n\x00\r\nQUIT\r\x21\x11\x00\x0c" + string(make([]byte, 12)), proxyHeader{}, true},
		{"FTP", "USER anonymous\r\n", proxyHeader{}, true},
		{"empty", "", proxyHeader{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := "USER x\r\n"
			r := bytes.NewReader([]byte(tc.in + after))
			got, err := readProxyHeader(r)
			if tc.wantErr {
				if !errors.Is(err, ErrProxyHeader) {
					t.Fatalf("got %+v, %v; want ErrProxyHeader", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			if rest, _ := io.ReadAll(r); string(rest) != after {
				t.Fatalf("left %q after the header, want %q", rest, after)
			}
		})
	}
}

// FuzzProxyHeader: whatever a trusted peer sends, the reader returns a
// header or ErrProxyHeader, never reads past a header it accepts, and
// gives an address only when it names a client.
func FuzzProxyHeader(f *testing.F) {
	for _, seed := range []string{
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 21\r\n",
		"PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x01\xc0\x00\x02\x02\xdc\x04\x00\x15",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x21\x00\x24" + string(make([]byte, 36)),
		"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff",
		"USER anonymous\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		h, err := readProxyHeader(r)
		if err != nil {
			if !errors.Is(err, ErrProxyHeader) {
				t.Fatalf("error %v is not ErrProxyHeader", err)
			}
			return
		}
		if h.local != !h.src.IsValid() || h.src.IsValid() != h.dst.IsValid() {
			t.Fatalf("local %v with source %v, destination %v", h.local, h.src, h.dst)
		}
		// The header alone, followed by the session's first bytes,
		// reads the same and leaves those bytes where they were.
		header := in[:len(in)-r.Len()]
		const after = "USER x\r\n"
		r = bytes.NewReader(append(bytes.Clone(header), after...))
		again, err := readProxyHeader(r)
		if err != nil || again != h {
			t.Fatalf("header %q alone: %+v, %v; first read %+v", header, again, err, h)
		}
		if rest, _ := io.ReadAll(r); string(rest) != after {
			t.Fatalf("header %q took %q of what followed", header, after[:len(after)-len(rest)])
		}
	})
}

// TestProxyCloseEndsPendingHeader: Close does not wait for a trusted
// connection that has not sent its header yet.
func TestProxyCloseEndsPendingHeader(t *testing.T) {
	t.Parallel()
	srv := &Server{
		Logger:        slog.New(slog.DiscardHandler),
		Auth:          AuthFunc(func(context.Context, ConnInfo, string, string) (*Account, error) { return nil, ErrAuthFailed }),
		ProxyProtocol: &ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, HeaderTimeout: time.Hour},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("PROXY TCP4 ")) // and the rest never comes
	st := srv.state()
	testwait.For(t, "the connection to wait for its header", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.pending) == 1
	})
	srv.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) || len(got) != 0 {
		t.Fatalf("after Close: read %q, %v; want the connection closed", got, err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}
