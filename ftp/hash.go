package ftp

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"hash/crc32"
	"strings"
)

// HashAlgorithms are the algorithm names of the HASH command
// (draft-bryan-ftpext-hash) that ferry knows, strongest first.
var HashAlgorithms = []string{"SHA-512", "SHA-256", "SHA-1", "MD5", "CRC32"}

// NewHash returns a hash for one of HashAlgorithms, nil for another name.
func NewHash(algo string) hash.Hash {
	switch algo {
	case "SHA-512":
		return sha512.New()
	case "SHA-256":
		return sha256.New()
	case "SHA-1":
		return sha1.New()
	case "MD5":
		return md5.New()
	case "CRC32":
		return crc32.NewIEEE()
	}
	return nil
}

// HashAlgorithmName normalises a spelling such as "sha256" or "Sha-256" to
// its HashAlgorithms name.
func HashAlgorithmName(s string) (string, bool) {
	want := strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(s)), "-", "")
	for _, a := range HashAlgorithms {
		if strings.ReplaceAll(a, "-", "") == want {
			return a, true
		}
	}
	return "", false
}
