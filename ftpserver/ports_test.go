package ftpserver_test

import (
	"testing"

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
