package sftpclient

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/crypto/ssh"
)

// tracer writes the trace Config.Debug asks for, in the shape of
// ftpclient's: "sftp[N] > what the client asks" and "sftp[N] < what
// came of it", N numbering the client's SSH connections. A nil tracer
// writes nothing.
type tracer struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *tracer) printf(id uint64, dir, format string, args ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "sftp[%d] %s %s\n", id, dir, fmt.Sprintf(format, args...))
}

// request traces what the client asks for.
func (t *tracer) request(id uint64, format string, args ...any) {
	t.printf(id, ">", format, args...)
}

// result traces how what ended: err, or ok with detail.
func (t *tracer) result(id uint64, what string, err error, detail string) {
	if t == nil {
		return
	}
	switch {
	case err != nil:
		t.printf(id, "<", "%s: %s", what, printable(err.Error()))
	case detail != "":
		t.printf(id, "<", "%s: ok, %s", what, detail)
	default:
		t.printf(id, "<", "%s: ok", what)
	}
}

// printable keeps a name or a server's message from forging trace lines
// or driving the terminal: one with control characters is quoted.
func printable(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
		return strconv.Quote(s)
	}
	return s
}

// openFlags names the flags of an open as SFTP's pflags do.
func openFlags(flags int) string {
	var names []string
	switch flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_RDONLY:
		names = append(names, "read")
	case os.O_WRONLY:
		names = append(names, "write")
	default:
		names = append(names, "read", "write")
	}
	for _, f := range []struct {
		flag int
		name string
	}{{os.O_CREATE, "creat"}, {os.O_TRUNC, "trunc"}, {os.O_APPEND, "append"}, {os.O_EXCL, "excl"}} {
		if flags&f.flag != 0 {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, ",")
}

// describeKey is how the trace names a key: "ssh-ed25519 SHA256:...".
func describeKey(k ssh.PublicKey) string {
	return k.Type() + " " + ssh.FingerprintSHA256(k)
}

// traceSigner wraps s so that a signature it makes, which x/crypto asks
// for only with a key the server accepts, is noted as the login method.
// The wrapper offers what s offers, no more: x/crypto picks RSA's
// SHA-2 signatures by the interfaces a signer has.
func traceSigner(s ssh.Signer, note func(string)) ssh.Signer {
	signer := &tracedSigner{s, note, "publickey " + describeKey(s.PublicKey())}
	switch s := s.(type) {
	case ssh.MultiAlgorithmSigner:
		return &tracedMultiSigner{&tracedAlgorithmSigner{signer, s}, s}
	case ssh.AlgorithmSigner:
		return &tracedAlgorithmSigner{signer, s}
	}
	return signer
}

type tracedSigner struct {
	ssh.Signer
	note   func(string)
	method string
}

func (s *tracedSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s.note(s.method)
	return s.Signer.Sign(rand, data)
}

type tracedAlgorithmSigner struct {
	*tracedSigner
	algorithm ssh.AlgorithmSigner
}

func (s *tracedAlgorithmSigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s.note(s.method)
	return s.algorithm.SignWithAlgorithm(rand, data, algorithm)
}

type tracedMultiSigner struct {
	*tracedAlgorithmSigner
	multi ssh.MultiAlgorithmSigner
}

func (s *tracedMultiSigner) Algorithms() []string { return s.multi.Algorithms() }

// tracedConfig is c.ssh with a host key check that traces the key the
// server showed and what the check made of it, on connection id.
func (c *Client) tracedConfig(id uint64) *ssh.ClientConfig {
	sc := *c.ssh
	check := c.ssh.HostKeyCallback
	sc.HostKeyCallback = func(hostport string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostport, remote, key)
		c.trace.result(id, "host key "+describeKey(key), err, "trusted")
		return err
	}
	return &sc
}

// traceLogin traces what the SSH handshake of connection id settled:
// the server's version, the algorithms, and the login method.
func (c *Client) traceLogin(id uint64, conn ssh.Conn) {
	if c.trace == nil {
		return
	}
	c.trace.printf(id, "<", "server %s", printable(string(conn.ServerVersion())))
	if m, ok := conn.(ssh.AlgorithmsConnMetadata); ok {
		a := m.Algorithms()
		c.trace.printf(id, "<", "kex %s, host key algorithm %s, cipher %s, mac %s",
			a.KeyExchange, a.HostKey, a.Write.Cipher, cmp.Or(a.Write.MAC, "implicit"))
	}
	c.trace.printf(id, "<", "logged in as %s with %s", printable(conn.User()), cmp.Or(c.loginMethod, "none"))
}
