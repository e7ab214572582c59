package ftpclient

import (
	"fmt"
	"strings"
)

// WithHost sends HOST name (RFC 7151) before logging in, on every control
// connection, to choose one of the virtual hosts a server serves at one
// address: a domain name, an IPv4 address or a bracketed IPv6 address.
// It goes before AUTH TLS, so that the server presents that host's
// certificate, and the TLS server name defaults to it (rather than to
// the dialed host). A server that refuses it fails the connection: the
// login would otherwise reach another host than the one asked for.
func WithHost(name string) Option {
	return func(c *config) { c.vhost = name }
}

// sendHost sends the HOST command when WithHost asked for one.
func (cn *conn) sendHost() error {
	name := cn.c.cfg.vhost
	if name == "" {
		return nil
	}
	if strings.ContainsAny(name, "\r\n\x00 ") {
		cn.broken.Store(true)
		return fmt.Errorf("ftpclient: HOST %q: a host name has no spaces, line breaks or NULs", name)
	}
	if _, err := cn.ok("HOST %s", name); err != nil {
		return fmt.Errorf("ftpclient: HOST %s: %w", name, err)
	}
	return nil
}

// tlsServerName is the name TLS handshakes verify the server's
// certificate against when the caller's config names none: the virtual
// host's, else the dialed host's.
func (c *Client) tlsServerName() string {
	if c.cfg.vhost != "" {
		return strings.TrimSuffix(strings.TrimPrefix(c.cfg.vhost, "["), "]")
	}
	return c.host
}
