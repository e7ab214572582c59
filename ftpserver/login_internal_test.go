package ftpserver

import (
	"net/netip"
	"testing"
)

// IPv6 clients count per /64, the block one client is usually given;
// IPv4 clients (mapped or not) per address.
func TestLoginSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ip, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
		{"2001:db8:1:3::1", "2001:db8:1:3::"},
		{"::1", "::"},
		{"fe80::1%eth0", "fe80::"},
	} {
		if got := clientSource(netip.MustParseAddr(tc.ip)); got != netip.MustParseAddr(tc.want) {
			t.Errorf("clientSource(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}
