package ftpserver

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// FXP over TLS. RFC 4217 §7 makes the FTP client the TLS client of every
// data connection, whichever side opened it. Between two servers (FXP)
// there is no FTP client on the data connection: both servers would wait
// for a ClientHello. SSCN and CPSV, de-facto extensions that glftpd,
// FileZilla Server, Serv-U and FXP clients (FlashFXP) use, have one of the
// two servers take the TLS client role:
//
//   - SSCN ON: from now on, on every data connection, passive or active;
//     SSCN OFF goes back to the server role; SSCN alone tells the role.
//     The replies are "200 SSCN:CLIENT METHOD" and "200 SSCN:SERVER METHOD".
//   - CPSV: PASV whose data connection this server secures as the TLS
//     client, for that connection only.

func cmdSSCN(s *session, arg string) error {
	if s.srv.TLSConfig == nil {
		return ftp.Errorf(ftp.CodeNotImplemented, "TLS is not configured on this server.")
	}
	if !s.secure() {
		return ftp.Errorf(ftp.CodeBadSequence, "SSCN needs AUTH TLS first.")
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "ON":
		s.tls.sscn = true
	case "OFF":
		s.tls.sscn = false
	case "":
	default:
		return ftp.Errorf(ftp.CodeArgumentError, "SSCN takes ON or OFF.")
	}
	if s.tls.sscn {
		s.reply(ftp.CodeOK, "SSCN:CLIENT METHOD")
	} else {
		s.reply(ftp.CodeOK, "SSCN:SERVER METHOD")
	}
	return nil
}

func cmdCPSV(s *session, _ string) error {
	if s.srv.TLSConfig == nil {
		return ftp.Errorf(ftp.CodeNotImplemented, "TLS is not configured on this server.")
	}
	if !s.secure() || !s.tls.protP {
		// Without PROT P there is no handshake to take a role in.
		return ftp.Errorf(ftp.CodeBadSequence, "CPSV is for protected data connections: send AUTH TLS, PBSZ 0 and PROT P first, or use PASV.")
	}
	return s.passive4("CPSV", true)
}

// tlsClientRole says whether this server is the TLS client of ch's
// connection.
func (s *session) tlsClientRole(ch *dataChannel) bool {
	return ch.tlsClient || s.tls.sscn
}

// secureChannel runs the TLS handshake of a PROT P data connection of
// channel ch in the role SSCN or CPSV chose.
func (s *session) secureChannel(ch *dataChannel, conn net.Conn) (net.Conn, error) {
	if _, ok := conn.(*tls.Conn); ok || !s.tlsClientRole(ch) {
		return s.secureData(conn)
	}
	return s.secureDataClient(conn)
}

// secureDataClient secures a data connection with this server as the TLS
// client. The peer is the other server of an FXP transfer, known only by
// the address in PORT/EPRT or the one that connected to our passive port:
// there is no name to check its certificate against, and no CA the two
// servers' operators share. As glftpd, FileZilla Server and Serv-U do, the
// peer's certificate is not verified. What limits the peer is what limits
// any data connection: without AllowFXP it must be the client's own
// address (setActive, allowData), and PORT/EPRT to privileged ports are
// refused. TLS here keeps the data from eavesdroppers on the path; it does
// not authenticate the other server.
func (s *session) secureDataClient(conn net.Conn) (net.Conn, error) {
	conf := &tls.Config{
		InsecureSkipVerify: true, // see above: no name to verify against
		MinVersion:         s.srv.TLSConfig.MinVersion,
		MaxVersion:         s.srv.TLSConfig.MaxVersion,
		CipherSuites:       s.srv.TLSConfig.CipherSuites,
	}
	tc := tls.Client(conn, conf)
	tc.SetDeadline(time.Now().Add(durationOr(s.srv.DataTimeout, DefaultDataTimeout)))
	if err := tc.Handshake(); err != nil {
		s.log.Info("data TLS handshake as client failed", "err", err, "peer", conn.RemoteAddr().String())
		conn.Close()
		return nil, ftp.Errorf(ftp.CodeCantOpenData, "TLS handshake on the data connection failed.")
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// fxpPeer says whether a data connection comes from a third party that
// AllowFXP admits: the other server of an FXP transfer. Its TLS session
// cannot be this control connection's (it never had one), so the reuse
// check, whose purpose is to refuse a stranger who took the data port,
// is not applied to it: AllowFXP already lets foreign addresses connect.
func (s *session) fxpPeer(conn net.Conn) bool {
	return s.srv.AllowFXP && addrIP(conn.RemoteAddr()) != s.remote
}

// recordConn hands crypto/tls the control connection one TLS record at a
// time and never a byte beyond the record it is reading. crypto/tls reads
// ahead as much as the socket holds; after the client's close_notify (CCC,
// REIN) the clear-text commands it sent right behind it would then be
// lost inside the finished tls.Conn.
type recordConn struct {
	net.Conn
	header  [5]byte
	nheader int // bytes of the next record's header read so far
	body    int // bytes of the current record's body still to read
}

func (c *recordConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.body > 0 {
		if len(p) > c.body {
			p = p[:c.body]
		}
		n, err := c.Conn.Read(p)
		c.body -= n
		return n, err
	}
	if want := len(c.header) - c.nheader; len(p) > want {
		p = p[:want]
	}
	n, err := c.Conn.Read(p)
	copy(c.header[c.nheader:], p[:n])
	c.nheader += n
	if c.nheader == len(c.header) {
		c.body = int(binary.BigEndian.Uint16(c.header[3:]))
		c.nheader = 0
	}
	return n, err
}

// NetConn returns the TCP connection, for code that looks under a
// tls.Conn for the socket (rawConn).
func (c *recordConn) NetConn() net.Conn { return c.Conn }
