package sftpserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// NewHostKey makes an ed25519 host key and returns it with its private
// key in OpenSSH's format (what ssh-keygen writes), to be stored with
// mode 0600.
func NewHostKey() (ssh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return signer, pem.EncodeToMemory(block), nil
}

// LoadHostKey reads an unencrypted private key file (OpenSSH, PKCS#1,
// PKCS#8 or SEC 1 PEM: what ssh-keygen and NewHostKey write).
func LoadHostKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not an unencrypted SSH private key: %w", path, err)
	}
	return signer, nil
}

// Fingerprint is the key's SHA256 fingerprint as OpenSSH prints it
// ("SHA256:..."), for the operator to compare with what clients show.
func Fingerprint(key ssh.PublicKey) string { return ssh.FingerprintSHA256(key) }

// LoadOrMakeHostKey reads the key at path or, when there is none, makes
// one there (NewHostKey; its directory 0700, the file 0600) and reports
// made. Two servers starting at once on a shared directory end with the
// same key: the file is created exclusively, and the loser reads it.
func LoadOrMakeHostKey(path string) (key ssh.Signer, made bool, err error) {
	key, err = LoadHostKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key, pemData, err := NewHostKey()
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		key, err = LoadHostKey(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, err
	}
	if _, err = f.Write(pemData); err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		os.Remove(path)
		return nil, false, err
	}
	return key, true, nil
}
