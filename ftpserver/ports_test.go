package ftpserver_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// predictableSteps counts the sessions whose passive port was the previous
// session's port or the one after it: what an attacker who saw one port
// would try next (RFC 2577 §8, port stealing).
func predictableSteps(ports []int) int {
	n := 0
	for i := 1; i < len(ports); i++ {
		if d := ports[i] - ports[i-1]; d == 0 || d == 1 {
			n++
		}
	}
	return n
}

// maxPredictable is the most predictable steps (of 29) that random ports
// may show. Each session's first pick is uniform and independent of the
// earlier ones; a busy port moves a pick elsewhere, which at most doubles
// the chance of landing on one given port. So each step is predictable
// (two given ports) with probability at most 4/n, and 5 or more of 29
// steps have probability at most C(29,5)*(4/n)^5: 1.2e-7 for the
// 1,000-port range below, less for the ephemeral range (thousands of
// ports). A round-robin counter makes nearly all 29 steps predictable.
const maxPredictable = 4

func TestPassivePortsUnpredictable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		ports ftpserver.PortRange
	}{
		{"configured range", ftpserver.PortRange{Min: 43000, Max: 43999}},
		{"ephemeral range", ftpserver.PortRange{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(s *ftpserver.Server) { s.PassivePorts = tc.ports })
			var ports []int
			for range 30 {
				c := ts.login(t)
				port := mustEPSVPort(t, c.cmd(229, "EPSV"))
				if tc.ports.Min > 0 && (port < tc.ports.Min || port > tc.ports.Max) {
					t.Fatalf("port %d outside %v", port, tc.ports)
				}
				ports = append(ports, port)
				c.cmd(221, "QUIT")
			}
			if n := predictableSteps(ports); n > maxPredictable {
				t.Fatalf("%d of %d sessions got the previous session's port or the next one: %v", n, len(ports)-1, ports)
			}
		})
	}
}

// TestPassivePortNeverShared keeps listeners open in many sessions at once
// in a small range, each opened after the session's transfers (which leave
// a spare listener to reuse), and checks that no port is held by two
// sessions.
func TestPassivePortNeverShared(t *testing.T) {
	t.Parallel()
	const sessions = 12
	ts := startServer(t, func(s *ftpserver.Server) {
		s.PassivePorts = ftpserver.PortRange{Min: 43100, Max: 43100 + 2*sessions - 1}
	})
	ts.fs.WriteFile("/f", []byte("data"))
	holder := map[int]int{} // port -> session holding it
	for i := range sessions {
		c := ts.login(t)
		for range 3 {
			if got := string(c.retr("f")); got != "data" {
				t.Fatalf("RETR got %q", got)
			}
		}
		port := mustEPSVPort(t, c.cmd(229, "EPSV"))
		if other, ok := holder[port]; ok {
			t.Fatalf("port %d handed to session %d while session %d holds it", port, i, other)
		}
		holder[port] = i
	}
}

// dialFrom connects to ts from the local address ip (any of 127.0.0.0/8
// on Linux, as if from another host; "" for the default) and reads the
// greeting.
func (ts *testServer) dialFrom(t *testing.T, ip string) *client {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	conn, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, tp: textproto.NewConn(conn)}
	t.Cleanup(func() { c.tp.Close() })
	c.expect(220)
	return c
}

// dataFrom opens the data connection of an EPSV reply from ip.
func (c *client) dataFrom(ip, epsvReply string) net.Conn {
	c.t.Helper()
	port := mustEPSVPort(c.t, epsvReply)
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return conn
}

// TestPassivePortsPerIP: sessions from one address cannot take a whole
// passive range from another address (with the default limits).
func TestPassivePortsPerIP(t *testing.T) {
	t.Parallel()
	const size = 40
	ts := startServer(t, func(s *ftpserver.Server) {
		s.PassivePorts = ftpserver.PortRange{Min: 43200, Max: 43200 + size - 1}
	})
	content := bytes.Repeat([]byte("0123456789"), 10000)
	ts.fs.WriteFile("/f", content)

	var held, refused []*client
	for range size {
		c := ts.login(t)
		c.send("EPSV")
		switch code, msg := c.read(); code {
		case 229:
			held = append(held, c)
		case 425:
			if !strings.Contains(msg, "from your address") {
				t.Fatalf("425 %q does not say why", msg)
			}
			refused = append(refused, c)
		default:
			t.Fatalf("EPSV: %d %q", code, msg)
		}
	}
	if len(held) != size/2 || len(refused) != size/2 {
		t.Fatalf("one address holds %d listeners of %d (%d refused), want half", len(held), size, len(refused))
	}
	// A refused session is still usable, and gets a port once another
	// session of its address lets one go.
	refused[0].cmd(200, "NOOP")
	held[0].cmd(221, "QUIT")
	waitUntil(t, func() string {
		refused[0].send("EPSV")
		if code, msg := refused[0].read(); code != 229 {
			return fmt.Sprintf("EPSV after a listener was freed: %d %q", code, msg)
		}
		return ""
	})

	// Another address still gets ports, and transfers both ways.
	other := ts.dialFrom(t, "127.0.0.2")
	other.loginAs("alice", "secret")
	data := other.dataFrom("127.0.0.2", other.cmd(229, "EPSV"))
	other.cmd(150, "RETR f")
	got, err := io.ReadAll(data)
	if err != nil {
		t.Fatal(err)
	}
	other.expect(226)
	if !bytes.Equal(got, content) {
		t.Fatalf("RETR from the other address: %d bytes, want %d", len(got), len(content))
	}
	data = other.dataFrom("127.0.0.2", other.cmd(229, "EPSV"))
	other.cmd(150, "STOR up")
	data.Write(content[:12345])
	data.Close()
	other.expect(226)
	if up, err := ts.fs.ReadFile("/up"); err != nil || !bytes.Equal(up, content[:12345]) {
		t.Fatalf("STOR from the other address: %d bytes, %v", len(up), err)
	}
}

// TestSessionsPerIPDefault: without a configured limit, one address gets
// DefaultMaxSessionsPerIP sessions and another address still gets in.
func TestSessionsPerIPDefault(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for range ftpserver.DefaultMaxSessionsPerIP {
		ts.dial(t)
	}
	conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	code, msg, err := textproto.NewReader(bufio.NewReader(conn)).ReadResponse(0)
	if code != 421 || !strings.Contains(msg, "your address") {
		t.Fatalf("session %d from one address: %d %q %v", ftpserver.DefaultMaxSessionsPerIP+1, code, msg, err)
	}
	ts.dialFrom(t, "127.0.0.2").cmd(331, "USER alice")
}

// Every way a passive listener ends gives its address's slot back: used
// by a transfer (and kept for reuse), replaced by another PASV or EPSV,
// given up for PORT, refused RETR, QUIT and a dropped connection. With a
// limit of one listener per address, a slot that leaked would make the
// next PASV or EPSV of that address fail with 425.
func TestPassiveSlotsReturned(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) { s.MaxPassivePerIP = 1 })
	ts.fs.WriteFile("/f", []byte("data"))

	c := ts.login(t)
	c.pasv4()
	c.pasv4()          // replaces the first
	c.cmd(229, "EPSV") // and again
	if got := c.retr("f"); string(got) != "data" {
		t.Errorf("RETR = %q, want data", got)
	}
	c.cmd(229, "EPSV") // reuses the finished transfer's listener
	c.cmd(200, "PORT 127,0,0,1,%d,%d", 40000>>8, 40000&255)
	c.cmd(229, "EPSV")
	c.cmd(550, "RETR missing") // a refused RETR leaves the listener for the next try
	c.cmd(229, "EPSV")
	c.cmd(221, "QUIT")

	// The slot comes back when the session ends, however it ends.
	// takeSlot logs in and opens a passive listener, retrying until the
	// slot is free; the previous holder gives it back as its session
	// ends, after the client has gone.
	takeSlot := func(how string) *client {
		t.Helper()
		var d *client
		waitUntil(t, func() string {
			d = ts.login(t)
			d.send("EPSV")
			if code, msg := d.read(); code != 229 {
				d.conn.Close()
				return fmt.Sprintf("EPSV after %s: %d %q", how, code, msg)
			}
			return ""
		})
		return d
	}
	takeSlot("QUIT").conn.Close()
	takeSlot("a dropped connection").conn.Close()
	takeSlot("a dropped connection").conn.Close()
}
