package ftp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrUnsupportedFamily is returned by ParseEPRT and ParseEPSVArg for a
// network protocol number other than 1 (IPv4) or 2 (IPv6). A server answers
// it with 522 and the protocols it supports (RFC 2428 §2, §3).
var ErrUnsupportedFamily = errors.New("ftp: unsupported network protocol")

// Network protocol numbers of EPRT and EPSV (RFC 2428, from the IANA
// address family numbers).
const (
	FamilyIPv4 = 1
	FamilyIPv6 = 2
)

// errBadAddr is wrapped by every malformed-address error of this file.
var errBadAddr = errors.New("ftp: malformed address")

// ParsePORT parses the argument of a PORT command, "h1,h2,h3,h4,p1,p2": six
// decimal numbers from 0 to 255, the IPv4 address and then the port, high
// byte first (RFC 959 §4.1.2). Spaces around the whole argument are
// tolerated; anything else out of that form, and port 0, is an error.
func ParsePORT(arg string) (netip.AddrPort, error) {
	var n [6]byte
	s := strings.Trim(arg, " ")
	for i := range n {
		field := s
		if i < len(n)-1 {
			var ok bool
			field, s, ok = strings.Cut(s, ",")
			if !ok {
				return netip.AddrPort{}, fmt.Errorf("%w: PORT %q: want six numbers", errBadAddr, arg)
			}
		}
		v, ok := parseDecimal(field, 3, 255)
		if !ok {
			return netip.AddrPort{}, fmt.Errorf("%w: PORT %q: bad number %q", errBadAddr, arg, field)
		}
		n[i] = byte(v)
	}
	return hostPort(n, "PORT", arg)
}

// hostPort turns the six numbers of PORT and 227 into an address.
func hostPort(n [6]byte, what, text string) (netip.AddrPort, error) {
	port := uint16(n[4])<<8 | uint16(n[5])
	if port == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: %s %q: port 0", errBadAddr, what, text)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{n[0], n[1], n[2], n[3]}), port), nil
}

// FormatPORT formats an IPv4 address and port as the argument of PORT and
// the body of a 227 reply: "h1,h2,h3,h4,p1,p2". An IPv4-mapped IPv6 address
// is unmapped first. It returns "" for an address that has no IPv4 form:
// PORT and PASV cannot carry it, and the caller must use EPRT or EPSV.
func FormatPORT(ap netip.AddrPort) string {
	addr := ap.Addr().Unmap()
	if !addr.Is4() {
		return ""
	}
	a := addr.As4()
	port := ap.Port()
	b := make([]byte, 0, len("255,255,255,255,255,255"))
	for _, v := range [...]byte{a[0], a[1], a[2], a[3], byte(port >> 8), byte(port)} {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return string(b)
}

// ParsePASVReply finds the data address in the text of a 227 reply. Servers
// disagree on the wording and on the parentheses, so, as RFC 1123 §4.1.2.6
// asks of clients, it scans for the first run of six comma-separated numbers
// from 0 to 255 (spaces after a comma are tolerated), wherever it is.
func ParsePASVReply(msg string) (netip.AddrPort, error) {
	for i := 0; i < len(msg); i++ {
		if !isDigit(msg[i]) || i > 0 && isDigit(msg[i-1]) {
			continue
		}
		if n, ok := scanSixNumbers(msg[i:]); ok {
			return hostPort(n, "227", msg)
		}
	}
	return netip.AddrPort{}, fmt.Errorf("%w: 227 %q: no h1,h2,h3,h4,p1,p2 in reply", errBadAddr, msg)
}

// scanSixNumbers reads "n,n,n,n,n,n" at the start of s.
func scanSixNumbers(s string) (n [6]byte, ok bool) {
	for i := range n {
		if i > 0 {
			if s == "" || s[0] != ',' {
				return n, false
			}
			s = strings.TrimLeft(s[1:], " ")
		}
		j := 0
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		v, ok := parseDecimal(s[:j], 3, 255)
		if !ok {
			return n, false
		}
		n[i] = byte(v)
		s = s[j:]
	}
	return n, true
}

// ParseEPRT parses the argument of an EPRT command (RFC 2428 §2):
// "<d><proto><d><addr><d><port><d>", where d is any printable ASCII
// character other than space (the RFC recommends '|'), proto is 1 for an
// IPv4 address or 2 for an IPv6 one, and addr must be of that kind. The
// result is unmapped, so "::ffff:192.0.2.1" under proto 2 gives 192.0.2.1.
// A well-formed argument with another protocol number gives an error
// wrapping ErrUnsupportedFamily.
func ParseEPRT(arg string) (netip.AddrPort, error) {
	s := strings.Trim(arg, " ")
	bad := func(why string) (netip.AddrPort, error) {
		return netip.AddrPort{}, fmt.Errorf("%w: EPRT %q: %s", errBadAddr, arg, why)
	}
	if len(s) < 2 || s[0] < 33 || s[0] > 126 {
		return bad("bad delimiter")
	}
	d := s[0]
	fields := strings.Split(s[1:], string(d))
	if len(fields) != 4 || fields[3] != "" {
		return bad("want <d>proto<d>address<d>port<d>")
	}
	family, ok := parseDecimal(fields[0], 3, 999)
	if !ok {
		return bad("bad network protocol")
	}
	if family != FamilyIPv4 && family != FamilyIPv6 {
		return netip.AddrPort{}, fmt.Errorf("%w: EPRT %q: protocol %d", ErrUnsupportedFamily, arg, family)
	}
	addr, err := netip.ParseAddr(fields[1])
	switch {
	case err != nil:
		return bad("bad address")
	case family == FamilyIPv4 && !addr.Is4(),
		family == FamilyIPv6 && !addr.Is6(),
		addr.Zone() != "":
		return bad("address does not match the protocol")
	}
	port, ok := parseDecimal(fields[2], 5, 65535)
	if !ok || port == 0 {
		return bad("bad port")
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// FormatEPRT formats an address and port as the argument of EPRT:
// "|1|192.0.2.1|6446|" or "|2|2001:db8::1|6446|". An IPv4-mapped IPv6
// address is sent as IPv4, and a zone is dropped: it means nothing to the
// peer.
func FormatEPRT(ap netip.AddrPort) string {
	addr := ap.Addr().Unmap().WithZone("")
	b := make([]byte, 0, len("|2|ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff|65535|"))
	b = append(b, '|')
	if addr.Is4() {
		b = append(b, '1')
	} else {
		b = append(b, '2')
	}
	b = append(b, '|')
	b = addr.AppendTo(b)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(ap.Port()), 10)
	b = append(b, '|')
	return string(b)
}

// ParseEPSVArg parses the argument of an EPSV command (RFC 2428 §3): ""
// (family 0: the protocol of the control connection), "1" or "2" (that
// protocol), or "ALL" in any case (all is true: the client will use EPSV
// only from now on, and the server must refuse PORT, PASV and EPRT). Another
// protocol number gives an error wrapping ErrUnsupportedFamily.
func ParseEPSVArg(arg string) (family int, all bool, err error) {
	s := strings.Trim(arg, " ")
	switch {
	case s == "":
		return 0, false, nil
	case strings.EqualFold(s, "ALL"):
		return 0, true, nil
	}
	n, ok := parseDecimal(s, 3, 999)
	switch {
	case !ok:
		return 0, false, fmt.Errorf("%w: EPSV %q", errBadAddr, arg)
	case n != FamilyIPv4 && n != FamilyIPv6:
		return 0, false, fmt.Errorf("%w: EPSV %q", ErrUnsupportedFamily, arg)
	}
	return n, false, nil
}

// ParseEPSVReply finds the port in the text of a 229 reply, such as
// "Entering Extended Passive Mode (|||6446|)" (RFC 2428 §3): the first
// "(<d><d><d>port<d>)" in the text, with any delimiter d from '!' to '~'
// other than a digit.
func ParseEPSVReply(msg string) (port int, err error) {
	for i := 0; i+6 < len(msg); i++ {
		if msg[i] != '(' {
			continue
		}
		s := msg[i+1:]
		d := s[0]
		if d < 33 || d > 126 || isDigit(d) || s[1] != d || s[2] != d {
			continue
		}
		s = s[3:]
		j := 0
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j+1 >= len(s) || s[j] != d || s[j+1] != ')' {
			continue
		}
		if p, ok := parseDecimal(s[:j], 5, 65535); ok && p != 0 {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: 229 %q: no (|||port|) in reply", errBadAddr, msg)
}

// FormatEPSVReply returns the text of a 229 reply for port:
// "Entering Extended Passive Mode (|||6446|)".
func FormatEPSVReply(port int) string {
	return "Entering Extended Passive Mode (|||" + strconv.Itoa(port) + "|)"
}

// parseDecimal parses s as an unsigned decimal number of 1 to maxDigits
// digits and at most max. Unlike strconv.Atoi it accepts no sign and no
// underscores.
func parseDecimal(s string, maxDigits, max int) (int, bool) {
	if s == "" || len(s) > maxDigits {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= max
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
