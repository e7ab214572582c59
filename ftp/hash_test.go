package ftp

import (
	"encoding/hex"
	"testing"
)

func TestHashes(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"SHA-256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		"SHA-1":   "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
		"MD5":     "5d41402abc4b2a76b9719d911017c592",
		"CRC32":   "3610a686",
	}
	for algo, sum := range want {
		h := NewHash(algo)
		h.Write([]byte("hello"))
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			t.Errorf("%s = %s, want %s", algo, got, sum)
		}
	}
	if NewHash("WHIRLPOOL") != nil {
		t.Error("unknown algorithm gave a hash")
	}
	for in, out := range map[string]string{"sha256": "SHA-256", "Sha-1": "SHA-1", " md5 ": "MD5", "crc32": "CRC32"} {
		if got, ok := HashAlgorithmName(in); !ok || got != out {
			t.Errorf("%q → %q, %v", in, got, ok)
		}
	}
	if _, ok := HashAlgorithmName("whirlpool"); ok {
		t.Error("unknown name accepted")
	}
}
