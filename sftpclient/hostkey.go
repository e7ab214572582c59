package sftpclient

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyPolicy says what Dial does with a server no known_hosts file
// lists: OpenSSH's StrictHostKeyChecking. A key that differs from the
// known one is refused under every policy.
type HostKeyPolicy int

const (
	// Strict refuses unknown hosts (StrictHostKeyChecking=yes).
	Strict HostKeyPolicy = iota
	// AcceptNew adds an unknown host's key to the user's known_hosts file
	// and connects (StrictHostKeyChecking=accept-new). The name is
	// written hashed, as OpenSSH does with HashKnownHosts yes (Debian's
	// default), so the file does not list the hosts the user reaches.
	AcceptNew
)

// DefaultKnownHostsFile is the user's known_hosts file, OpenSSH's
// ~/.ssh/known_hosts; "" when there is no home directory.
func DefaultKnownHostsFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}

// DefaultGlobalKnownHostsFiles are the system-wide files OpenSSH reads
// (GlobalKnownHostsFile).
var DefaultGlobalKnownHostsFiles = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}

// HostKeyError is the error of a host key that is unknown
// (ErrUnknownHost) or differs from the known one (ErrHostKeyChanged).
type HostKeyError struct {
	// Host is the name known_hosts uses: "host", or "[host]:port" for a
	// port other than 22.
	Host string
	// Key is the key the server offered.
	Key ssh.PublicKey
	// Known are the entries for Host whose key differs from Key (empty
	// for an unknown host), or the @revoked entry of Key.
	Known []knownhosts.KnownKey
	// Revoked says Key is marked @revoked.
	Revoked bool
	// File is the user's known_hosts file, where an accepted key goes.
	File string

	err error // ErrUnknownHost or ErrHostKeyChanged
}

func (e *HostKeyError) Unwrap() error { return e.err }

func (e *HostKeyError) Error() string {
	fp := ssh.FingerprintSHA256(e.Key)
	kind := keyKind(e.Key)
	switch {
	case e.Revoked:
		return fmt.Sprintf("%v: the %s host key of %s (%s) is marked @revoked in %s: refusing to connect",
			ErrHostKeyChanged, kind, e.Host, fp, where(e.Known))
	case e.err == ErrHostKeyChanged:
		return fmt.Sprintf("%v: the %s host key of %s is now %s, but %s has another key for it. "+
			"Someone could be eavesdropping on you (a man-in-the-middle attack), or the host key has just been changed. "+
			"If you know it was changed, remove the old entry (ssh-keygen -R '%s' -f %s) and connect again",
			ErrHostKeyChanged, kind, e.Host, fp, where(e.Known), e.Host, e.Known[0].Filename)
	}
	file := e.File
	if file == "" {
		file = "a known_hosts file"
	}
	return fmt.Sprintf("%v: the authenticity of host %s cannot be established: its %s key fingerprint is %s. "+
		"If you trust it, accept new host keys (OpenSSH's StrictHostKeyChecking=accept-new) or add this line to %s:\n%s",
		ErrUnknownHost, e.Host, kind, fp, file, knownhosts.Line([]string{e.Host}, e.Key))
}

// where names the known_hosts lines of keys: "FILE:LINE, ...".
func where(keys []knownhosts.KnownKey) string {
	var s []string
	for _, k := range keys {
		s = append(s, fmt.Sprintf("%s:%d", k.Filename, k.Line))
	}
	return strings.Join(s, ", ")
}

// keyKind is how OpenSSH names a key type in its messages: "ED25519".
func keyKind(k ssh.PublicKey) string {
	t := strings.TrimPrefix(k.Type(), "ssh-")
	t = strings.TrimSuffix(t, "@openssh.com")
	if strings.HasPrefix(t, "ecdsa-") {
		return "ECDSA"
	}
	return strings.ToUpper(t)
}

// hostKeys checks server keys against the known_hosts files.
type hostKeys struct {
	userFile string   // read, and written by AcceptNew
	files    []string // every file read (userFile first), existing or not
	policy   HostKeyPolicy
	added    func(host string, key ssh.PublicKey, file string)

	mu       sync.Mutex        // serialises appending to userFile
	accepted map[string][]byte // keys added since the files were read
}

// database reads the known_hosts files that exist. A nil callback means
// none does: every host is unknown.
func (h *hostKeys) database() (ssh.HostKeyCallback, error) {
	var present []string
	for _, f := range h.files {
		if _, err := os.Stat(f); err == nil {
			present = append(present, f)
		}
	}
	if len(present) == 0 {
		return nil, nil
	}
	cb, err := knownhosts.New(present...)
	if err != nil {
		return nil, fmt.Errorf("sftpclient: reading known_hosts: %w", err)
	}
	return cb, nil
}

// algorithms are the host key algorithms to ask the server for: those of
// the keys known for hostport, so that a server offering another type
// first is not taken for one whose key changed (x/crypto negotiates the
// first type both sides support and checks only that one). nil when the
// host is unknown: any type will do.
func (h *hostKeys) algorithms(db ssh.HostKeyCallback, hostport string) []string {
	if db == nil {
		return nil
	}
	// The database says which keys it has for a host only when asked
	// about another key: a throwaway one cannot be among them.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(db(hostport, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}, probe.PublicKey()), &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsFor lists the signature algorithms a key type can be
// presented with: an RSA key signs with SHA-2 or SHA-1.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// callback is the ssh.HostKeyCallback of a connection checked against db.
func (h *hostKeys) callback(db ssh.HostKeyCallback) ssh.HostKeyCallback {
	return func(hostport string, remote net.Addr, key ssh.PublicKey) error {
		host := knownhosts.Normalize(hostport)
		if h.wasAccepted(host, key) {
			return nil // by add, on an earlier connection of this client
		}
		var err error = &knownhosts.KeyError{}
		if db != nil {
			err = db(hostport, remote, key)
		}
		if err == nil {
			return nil
		}
		var (
			ke *knownhosts.KeyError
			re *knownhosts.RevokedError
		)
		switch {
		case errors.As(err, &re):
			return &HostKeyError{Host: host, Key: key, Known: []knownhosts.KnownKey{re.Revoked}, Revoked: true, File: h.userFile, err: ErrHostKeyChanged}
		case errors.As(err, &ke) && len(ke.Want) > 0:
			return &HostKeyError{Host: host, Key: key, Known: ke.Want, File: h.userFile, err: ErrHostKeyChanged}
		case errors.As(err, &ke):
			if h.policy != AcceptNew || h.userFile == "" {
				return &HostKeyError{Host: host, Key: key, File: h.userFile, err: ErrUnknownHost}
			}
			return h.add(host, key)
		}
		return err
	}
}

// add appends host's key to the user's known_hosts file, making the file
// (and its directory) private and hashing the name (|1|salt|HMAC-SHA1,
// a new salt per line) as OpenSSH does.
func (h *hostKeys) add(host string, key ssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(h.userFile), 0o700); err != nil {
		return fmt.Errorf("sftpclient: adding the host key of %s: %w", host, err)
	}
	f, err := os.OpenFile(h.userFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sftpclient: adding the host key of %s: %w", host, err)
	}
	line := knownhosts.Line([]string{knownhosts.HashHostname(host)}, key) + "\n"
	// A file whose last line lacks its newline would join the two.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		if last, err := lastByte(h.userFile); err == nil && last != '\n' {
			line = "\n" + line
		}
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sftpclient: adding the host key of %s: %w", host, err)
	}
	if h.accepted == nil {
		h.accepted = map[string][]byte{}
	}
	h.accepted[host] = key.Marshal()
	if h.added != nil {
		h.added(host, key, h.userFile)
	}
	return nil
}

func (h *hostKeys) wasAccepted(host string, key ssh.PublicKey) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	k, ok := h.accepted[host]
	return ok && bytes.Equal(k, key.Marshal())
}

func lastByte(name string) (byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var b [1]byte
	_, err = f.ReadAt(b[:], fi.Size()-1)
	return b[0], err
}
