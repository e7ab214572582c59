package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/internal/atomicfile"
	"github.com/ferry-ftp/ferry/internal/selfsigned"
	"github.com/spf13/cobra"
)

func init() { register(newCertCommand) }

type certFlags struct {
	hosts   []string
	outCert string
	outKey  string
	days    int
	force   bool

	sshHostKey string
}

func newCertCommand(env Env) *cobra.Command {
	var f certFlags
	cmd := &cobra.Command{
		Use:   "cert --host NAME [--host NAME...] | --ssh-host-key FILE",
		Short: "Make a self-signed TLS certificate for testing FTPS",
		Long: `Make a self-signed TLS certificate and its private key (ECDSA P-256)
for testing FTPS with "ferry serve --tls-cert cert.pem --tls-key key.pem".

Each --host is a DNS name or an IP address clients use to reach the
server; clients check the certificate against it. Clients must be told to
trust the certificate (curl --cacert cert.pem). For a server others use,
get a certificate from a CA instead.

With --ssh-host-key FILE it writes an SSH host key for SFTP instead
([sftp] host_key_file), and prints its fingerprint.

The key file is written with mode 0600. Existing files are not
overwritten unless --force is given.`,
		Example: `  ferry cert --host localhost --host 127.0.0.1
  ferry cert --host ftp.example.com --out-cert /etc/ferry/cert.pem --out-key /etc/ferry/key.pem --days 30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCert(env, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.hosts, "host", nil, "DNS name or IP address the certificate is for (repeatable; at least one)")
	fl.StringVar(&f.outCert, "out-cert", "cert.pem", "where to write the certificate")
	fl.StringVar(&f.outKey, "out-key", "key.pem", "where to write the private key")
	fl.IntVar(&f.days, "days", 365, "days the certificate is valid")
	fl.BoolVar(&f.force, "force", false, "overwrite existing files")
	fl.StringVar(&f.sshHostKey, "ssh-host-key", "", "write a new SSH host key (ed25519, for [sftp] host_key_file) to this file instead of a certificate")
	return cmd
}

func runCert(env Env, f *certFlags) error {
	if f.sshHostKey != "" {
		return writeSSHHostKey(env, f.sshHostKey, f.force)
	}
	if len(f.hosts) == 0 {
		return errors.New("--host is required: the names or addresses clients connect to, such as --host localhost --host 127.0.0.1")
	}
	if f.days < 1 {
		return fmt.Errorf("--days must be at least 1, got %d", f.days)
	}
	if f.outCert == "" || f.outKey == "" {
		return errors.New("--out-cert and --out-key must not be empty")
	}
	if same, _ := sameFile(f.outCert, f.outKey); same {
		return errors.New("--out-cert and --out-key name the same file")
	}
	var dnsNames []string
	var ips []net.IP
	for _, h := range f.hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if err := checkDNSName(h); err != nil {
			return fmt.Errorf("--host %q: %w", h, err)
		}
		dnsNames = append(dnsNames, h)
	}
	if !f.force {
		// Check both before writing either, so a refusal leaves nothing
		// half done.
		for _, p := range []string{f.outCert, f.outKey} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s already exists; use --force to overwrite it", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}

	certPEM, keyPEM, notAfter, err := selfsigned.Generate(f.hosts[0], dnsNames, ips, time.Duration(f.days)*24*time.Hour)
	if err != nil {
		return err
	}
	// The key first: a certificate without its key is useless, a key
	// without its certificate harmless.
	if err := writeNewFile(f.outKey, keyPEM, 0o600, f.force); err != nil {
		return err
	}
	if err := writeNewFile(f.outCert, certPEM, 0o644, f.force); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "ferry: wrote a self-signed certificate for %s to %s (valid until %s)\n",
		strings.Join(f.hosts, ", "), f.outCert, notAfter.Format(time.DateOnly))
	fmt.Fprintf(env.Stdout, "  and its private key to %s (mode 0600)\n", f.outKey)
	fmt.Fprintf(env.Stdout, "  serve: ferry serve --tls-cert %s --tls-key %s\n", shellQuote(f.outCert), shellQuote(f.outKey))
	fmt.Fprintf(env.Stdout, "  clients must trust it: curl --ssl-reqd --cacert %s ftp://%s:2121/\n", shellQuote(f.outCert), urlHost(f.hosts[0]))
	return nil
}

// checkDNSName accepts host names and wildcards ("*.example.com").
func checkDNSName(name string) error {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	if len(name) > 253 {
		return errors.New("name too long")
	}
	for i, label := range labels {
		if label == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.ContainsFunc(label, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
			}) {
			return errors.New("want a DNS name such as ftp.example.com or an IP address")
		}
	}
	return nil
}

// writeNewFile writes data to path with mode perm. Without force it fails
// if path exists (O_EXCL, so a file that appeared since the check is not
// overwritten either); with force it replaces path atomically, so the
// mode is perm even if the old file's was looser.
func writeNewFile(path string, data []byte, perm os.FileMode, force bool) (err error) {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			os.Remove(path)
			return err
		}
		return f.Close()
	}
	return atomicfile.Write(path, data, perm)
}

func sameFile(a, b string) (bool, error) {
	absA, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	absB, err := filepath.Abs(b)
	if err != nil {
		return false, err
	}
	return absA == absB, nil
}

// urlHost is host as it goes in a URL: IPv6 addresses in brackets.
func urlHost(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}
