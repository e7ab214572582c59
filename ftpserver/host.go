package ftpserver

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

// VirtualHost is one of the names a server answers to under the HOST
// command of RFC 7151: the client names the host it means before it logs
// in, as an HTTP client does with its Host header, and the host decides
// who may log in and where, the greeting, and the TLS certificate.
type VirtualHost struct {
	// Name is the host's name, for logs and SessionInfo.
	Name string
	// Auth checks the logins of sessions that chose this host; nil
	// means Server.Auth. If it is also a CertAuthenticator, certificate
	// logins go through it too.
	Auth Authenticator
	// Banner is the text of the 220 reply to HOST; empty for a default.
	Banner string
	// GetCertificate, when set, gives this host's TLS certificate: AUTH
	// TLS after HOST presents it, and so does a handshake whose server
	// name (SNI) is this host's before any HOST. Nil: the certificate of
	// Server.TLSConfig.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// errHostName is CanonicalHostName's error for what RFC 7151's grammar
// does not allow.
var errHostName = errors.New("ftpserver: not a host name or address literal")

// CanonicalHostName checks a HOST argument (or a configured host name)
// against RFC 7151's grammar and returns the form Server.Hosts is asked
// with: a domain name in lower case, without a final dot (IDNA names
// stay in the A-label form they are given in: "xn--..."), an IPv4
// address in dotted decimal, or an IPv6 address in brackets in its
// canonical text form ("[2001:db8::1]"). A port, a bare IPv6 address, a
// zone or anything beyond ASCII letters, digits, hyphens and dots is an
// error.
func CanonicalHostName(name string) (string, error) {
	if strings.HasPrefix(name, "[") {
		inner, ok := strings.CutSuffix(name[1:], "]")
		ip, err := netip.ParseAddr(inner)
		if !ok || err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", errHostName
		}
		return "[" + ip.String() + "]", nil
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		if !ip.Is4() {
			// RFC 7151 writes IPv6 literals in brackets, as URIs do.
			return "", errHostName
		}
		return ip.String(), nil
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return "", errHostName
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", errHostName
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "", errHostName
			}
		}
	}
	return strings.ToLower(name), nil
}

// cmdHOST chooses the virtual host (RFC 7151) before login.
func cmdHOST(s *session, arg string) error {
	if s.srv.Hosts == nil {
		return ftp.Errorf(ftp.CodeNotImplemented, "HOST is not supported: this server has no virtual hosts.")
	}
	if s.acct != nil {
		return ftp.Errorf(ftp.CodeBadSequence, "HOST must come before login.")
	}
	name, err := CanonicalHostName(strings.TrimSpace(arg))
	if err != nil {
		return ftp.Errorf(ftp.CodeArgumentError, "Invalid host name.")
	}
	if sni := s.serverName(); sni != "" && sni != name {
		// The TLS handshake already named a host (and was answered with
		// its certificate): switching to another afterwards would let
		// one host's certificate front another's logins.
		return ftp.Errorf(ftp.CodeParamNotImplemented, "Host %s does not match the TLS server name %s.", quoteName(truncate(name, 64)), quoteName(truncate(sni, 64)))
	}
	vh, ok := s.srv.Hosts(name)
	if !ok || vh == nil {
		return ftp.Errorf(ftp.CodeParamNotImplemented, "Unknown host %s.", quoteName(truncate(name, 64)))
	}
	// A USER sent before HOST named an account of the previous host:
	// the login starts again.
	s.logout()
	s.setHost(vh)
	s.log.Info("virtual host chosen")
	if vh.Banner != "" {
		s.reply(ftp.CodeServiceReady, vh.Banner) // the operator's text, as is
		return nil
	}
	s.replyf(ftp.CodeServiceReady, "Host %s ready.", quoteName(truncate(vh.Name, 64)))
	return nil
}

// setHost makes vh (nil: none) the session's virtual host. Only the
// control loop calls it, before login; TLS handshakes read it.
func (s *session) setHost(vh *VirtualHost) {
	s.host.Store(vh)
	name := ""
	if vh != nil {
		name = vh.Name
	}
	s.info.mu.Lock()
	s.info.host = name
	s.info.mu.Unlock()
	s.log = s.sessionLogger()
}

// sessionLogger is the session's logger before login: its id, the
// client's address and, once chosen, the virtual host.
func (s *session) sessionLogger() *slog.Logger {
	l := s.srv.logger().With("session", s.id, "remote", s.conn.RemoteAddr().String())
	if vh := s.host.Load(); vh != nil {
		l = l.With("host", vh.Name)
	}
	return l
}

// auth is the authenticator for this session's logins: its virtual
// host's, or the server's.
func (s *session) auth() Authenticator {
	if vh := s.host.Load(); vh != nil && vh.Auth != nil {
		return vh.Auth
	}
	return s.srv.Auth
}

// serverName is the host the client named in the control connection's
// TLS handshake (SNI), canonical; "" without TLS or SNI.
func (s *session) serverName() string {
	cs := s.connState()
	if cs == nil || cs.ServerName == "" {
		return ""
	}
	name, err := CanonicalHostName(cs.ServerName)
	if err != nil {
		return ""
	}
	return name
}

// hostCertificate picks a virtual host's certificate for a handshake:
// the session's host's once HOST has chosen one, else that of the host
// the client's SNI names. ok is false when no host has one to give, and
// the server's own certificate is used.
func (s *session) hostCertificate(hello *tls.ClientHelloInfo) (cert *tls.Certificate, ok bool, err error) {
	vh := s.host.Load()
	if vh == nil && hello.ServerName != "" {
		if name, nerr := CanonicalHostName(hello.ServerName); nerr == nil {
			vh, _ = s.srv.Hosts(name)
		}
	}
	if vh == nil || vh.GetCertificate == nil {
		return nil, false, nil
	}
	cert, err = vh.GetCertificate(hello)
	return cert, true, err
}

// withHostCertificates makes conf present virtual hosts' certificates
// (see hostCertificate) and fall back to its own.
func (s *session) withHostCertificates(conf *tls.Config) {
	if s.srv.Hosts == nil {
		return
	}
	// crypto/tls asks GetCertificate only when there are no Certificates
	// or the client sent a server name; a client connected by address
	// sends none, and HOST alone must then choose. So the Certificates
	// move behind GetCertificate, chosen as crypto/tls would.
	own, certs := conf.GetCertificate, conf.Certificates
	conf.Certificates = nil
	conf.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if cert, ok, err := s.hostCertificate(hello); ok {
			return cert, err
		}
		if own != nil {
			if cert, err := own(hello); cert != nil || err != nil {
				return cert, err
			}
		}
		for i := range certs {
			if hello.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
		if len(certs) > 0 {
			return &certs[0], nil
		}
		return nil, errors.New("ftpserver: no TLS certificate configured")
	}
}
