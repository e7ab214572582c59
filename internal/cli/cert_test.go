package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func runFerry(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := Run(context.Background(), Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard}, args)
	return out.String(), err
}

// makeCert runs "ferry cert" into dir and returns the two paths.
func makeCert(t *testing.T, dir string, extra ...string) (string, string) {
	t.Helper()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	args := append([]string{"cert", "--host", "localhost", "--host", "127.0.0.1", "--out-cert", certFile, "--out-key", keyFile}, extra...)
	if out, err := runFerry(t, args...); err != nil {
		t.Fatalf("ferry cert: %v\n%s", err, out)
	}
	return certFile, keyFile
}

func TestCertWritesUsablePair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	out, err := runFerry(t, "cert", "--host", "localhost", "--host", "ftp.example.com", "--host", "127.0.0.1", "--host", "::1",
		"--out-cert", certFile, "--out-key", keyFile, "--days", "10")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "--tls-cert "+certFile) || !strings.Contains(out, "--tls-key "+keyFile) {
		t.Errorf("output does not say how to use the pair:\n%s", out)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf := pair.Leaf
	if !slices.Equal(leaf.DNSNames, []string{"localhost", "ftp.example.com"}) {
		t.Errorf("DNS names %q", leaf.DNSNames)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || !leaf.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP addresses %v", leaf.IPAddresses)
	}
	if key, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok || key.Curve != elliptic.P256() {
		t.Errorf("private key %T, want ECDSA P-256", pair.PrivateKey)
	}
	if want := time.Now().Add(10 * 24 * time.Hour); leaf.NotAfter.Before(want.Add(-time.Minute)) || leaf.NotAfter.After(want.Add(time.Minute)) {
		t.Errorf("valid until %v, want about %v", leaf.NotAfter, want)
	}
	if leaf.NotBefore.After(time.Now()) {
		t.Errorf("not valid before %v", leaf.NotBefore)
	}
	// Trusting the certificate itself is enough to verify every name.
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, name := range []string{"localhost", "ftp.example.com", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.example.com", Roots: roots}); err == nil {
		t.Error("verified for a name not given")
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestCertRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := makeCert(t, dir)
	oldCert, _ := os.ReadFile(certFile)
	oldKey, _ := os.ReadFile(keyFile)

	_, err := runFerry(t, "cert", "--host", "localhost", "--out-cert", certFile, "--out-key", keyFile)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second run without --force: %v", err)
	}
	if c, _ := os.ReadFile(certFile); !bytes.Equal(c, oldCert) {
		t.Error("certificate overwritten without --force")
	}
	if k, _ := os.ReadFile(keyFile); !bytes.Equal(k, oldKey) {
		t.Error("key overwritten without --force")
	}

	// Only one of the two exists: nothing is written either.
	newKey := filepath.Join(dir, "new-key.pem")
	if _, err := runFerry(t, "cert", "--host", "localhost", "--out-cert", certFile, "--out-key", newKey); err == nil {
		t.Error("overwrote the certificate")
	}
	if _, err := os.Stat(newKey); err == nil {
		t.Error("wrote a key although the certificate could not be written")
	}

	// --force replaces both, and the key ends up private even if the
	// old file was not.
	os.Chmod(keyFile, 0o644)
	makeCert(t, dir, "--force")
	if c, _ := os.ReadFile(certFile); bytes.Equal(c, oldCert) {
		t.Error("--force did not replace the certificate")
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Errorf("pair after --force: %v", err)
	}
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode after --force %v", fi.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left-over files: %v", entries)
	}
}

func TestCertErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, k := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cert", "--out-cert", c, "--out-key", k}, "--host is required"},
		{[]string{"cert", "--host", "ftp example.com", "--out-cert", c, "--out-key", k}, `--host "ftp example.com"`},
		{[]string{"cert", "--host", "a..b", "--out-cert", c, "--out-key", k}, "want a DNS name"},
		{[]string{"cert", "--host", "localhost", "--days", "0", "--out-cert", c, "--out-key", k}, "--days must be at least 1"},
		{[]string{"cert", "--host", "localhost", "--out-cert", c, "--out-key", c}, "same file"},
		{[]string{"cert", "--host", "localhost", "--out-cert", filepath.Join(dir, "no", "c.pem"), "--out-key", filepath.Join(dir, "no", "k.pem")}, "no such file"},
	} {
		if _, err := runFerry(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written by failed runs: %v", entries)
	}
	// A wildcard is a valid name.
	if _, err := runFerry(t, "cert", "--host", "*.example.com", "--out-cert", c, "--out-key", k); err != nil {
		t.Errorf("wildcard: %v", err)
	}
}
