package config

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// ProxyProtocol is the [proxy_protocol] table: client addresses from the
// PROXY headers of trusted load balancers (HAProxy send-proxy or
// send-proxy-v2).
type ProxyProtocol struct {
	Enabled       bool     `toml:"enabled"`
	Trusted       []string `toml:"trusted"`
	HeaderTimeout Duration `toml:"header_timeout"`
}

// parseTrusted reads one trusted entry: a CIDR, or a single address.
func parseTrusted(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		// An IPv4 network written in IPv6 form would never match: peers
		// are compared unmapped.
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q: write an IPv4 network in IPv4 form", s)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if ip.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: an address with a zone cannot be trusted", s)
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

func (c *Config) validateProxy(bad func(key, format string, args ...any)) {
	p := &c.ProxyProtocol
	if !p.Enabled {
		return
	}
	if len(p.Trusted) == 0 {
		bad("proxy_protocol.trusted", "is empty: name the load balancers' addresses (such as [\"10.0.0.5/32\"]), or set enabled = false")
	}
	for _, s := range p.Trusted {
		if _, err := parseTrusted(s); err != nil {
			bad("proxy_protocol.trusted", "want a CIDR such as \"10.0.0.0/24\" or an address, got %q: %v", s, err)
		}
	}
	if p.HeaderTimeout.Duration <= 0 {
		bad("proxy_protocol.header_timeout", "must be positive, got %q", p.HeaderTimeout.String())
	}
}

// proxyProtocol is the server's setting; nil when off. The table has
// been validated.
func (c *Config) proxyProtocol() *ftpserver.ProxyProtocol {
	p := &c.ProxyProtocol
	if !p.Enabled {
		return nil
	}
	pp := &ftpserver.ProxyProtocol{HeaderTimeout: p.HeaderTimeout.Duration}
	for _, s := range p.Trusted {
		if prefix, err := parseTrusted(s); err == nil {
			pp.Trusted = append(pp.Trusted, prefix)
		}
	}
	return pp
}
