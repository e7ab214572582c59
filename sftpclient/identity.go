package sftpclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// ErrEncryptedKey is wrapped by the error of loading a private key that
// is protected by a passphrase when no passphrase callback was given.
var ErrEncryptedKey = errors.New("the key is encrypted and no passphrase was given")

// PassphraseFunc returns the passphrase of the encrypted private key in
// file (asking the user, say).
type PassphraseFunc func(file string) ([]byte, error)

// DefaultIdentityFiles are the private keys OpenSSH offers when told of
// none, in its order.
func DefaultIdentityFiles() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var files []string
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		files = append(files, filepath.Join(home, ".ssh", name))
	}
	return files
}

// LoadIdentity reads the private key in file (OpenSSH or PEM format).
// An encrypted key needs passphrase; without one the error wraps
// ErrEncryptedKey. As ssh does, when the public key is beside it (file
// + ".pub") the passphrase is asked for only once a server accepts the
// key, not for keys it turns down.
func LoadIdentity(file string, passphrase PassphraseFunc) (ssh.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return s, nil
	}
	if passphrase == nil {
		return nil, fmt.Errorf("%s: %w", file, ErrEncryptedKey)
	}
	if pubData, err := os.ReadFile(file + ".pub"); err == nil {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(pubData); err == nil {
			return &lazySigner{pub: pub, load: func() (ssh.Signer, error) { return decrypt(file, data, passphrase) }}, nil
		}
	}
	return decrypt(file, data, passphrase)
}

// decrypt parses the encrypted key data of file with the passphrase.
func decrypt(file string, data []byte, passphrase PassphraseFunc) (ssh.Signer, error) {
	pass, err := passphrase(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s, err := ssh.ParsePrivateKeyWithPassphrase(data, pass)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}

// lazySigner is an encrypted key known by its public half until a
// signature is needed.
type lazySigner struct {
	pub  ssh.PublicKey
	load func() (ssh.Signer, error)

	once   sync.Once
	signer ssh.AlgorithmSigner
	err    error
}

func (l *lazySigner) PublicKey() ssh.PublicKey { return l.pub }

func (l *lazySigner) key() (ssh.AlgorithmSigner, error) {
	l.once.Do(func() {
		s, err := l.load()
		switch {
		case err != nil:
			l.err = err
		case !bytes.Equal(s.PublicKey().Marshal(), l.pub.Marshal()):
			l.err = errors.New("the private key does not match the public key beside it")
		default:
			as, ok := s.(ssh.AlgorithmSigner)
			if !ok {
				l.err = fmt.Errorf("cannot sign with a %s key", s.PublicKey().Type())
			}
			l.signer = as
		}
	})
	return l.signer, l.err
}

func (l *lazySigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := l.key()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

func (l *lazySigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s, err := l.key()
	if err != nil {
		return nil, err
	}
	return s.SignWithAlgorithm(rand, data, algorithm)
}

// LoadDefaultIdentities loads those of DefaultIdentityFiles that exist.
// Keys that cannot be used (encrypted without passphrase, unreadable,
// malformed) are skipped, each with an error in skipped saying why, for
// the caller to show as a note.
func LoadDefaultIdentities(passphrase PassphraseFunc) (signers []ssh.Signer, skipped []error) {
	for _, file := range DefaultIdentityFiles() {
		s, err := LoadIdentity(file, passphrase)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			skipped = append(skipped, err)
		default:
			signers = append(signers, s)
		}
	}
	return signers, skipped
}

// agentSigners connects to the ssh-agent at SSH_AUTH_SOCK. It returns a
// nil callback when no agent is running; the connection must stay open
// until the login is done.
func agentSigners() (func() ([]ssh.Signer, error), net.Conn) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil // a stale variable: OpenSSH carries on without
	}
	return agent.NewClient(conn).Signers, conn
}
