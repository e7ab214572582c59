// Package testcert gives tests a self-signed server certificate for
// "localhost", 127.0.0.1 and ::1, and a pool that trusts it.
package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/selfsigned"
)

// Pair is a certificate, its PEM files' contents, and a pool trusting it.
type Pair struct {
	Cert    tls.Certificate
	Roots   *x509.CertPool
	CertPEM []byte
	KeyPEM  []byte
}

// New makes a fresh pair.
func New(t testing.TB) *Pair {
	t.Helper()
	return generate(t, "localhost", net.IPv4(127, 0, 0, 1), net.IPv6loopback)
}

// NewFor makes a fresh pair for the one DNS name name (a virtual host's).
func NewFor(t testing.TB, name string) *Pair {
	t.Helper()
	return generate(t, name)
}

func generate(t testing.TB, name string, ips ...net.IP) *Pair {
	t.Helper()
	certPEM, keyPEM, _, err := selfsigned.Generate(name, []string{name}, ips, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	return &Pair{Cert: cert, Roots: roots, CertPEM: certPEM, KeyPEM: keyPEM}
}

// ServerConfig is a TLS 1.2+ server configuration with the certificate.
func (p *Pair) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Cert}, MinVersion: tls.VersionTLS12}
}

// WriteFiles writes cert.pem and key.pem into dir and returns their paths.
func (p *Pair) WriteFiles(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, p.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, p.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
