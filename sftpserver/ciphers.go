package sftpserver

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/cpu"
)

// DefaultCiphers returns the SSH ciphers the server offers when
// Server.Ciphers is empty, in preference order: x/crypto/ssh's supported
// ciphers, without chacha20-poly1305@openssh.com on amd64 processors with
// AES and carry-less multiplication instructions. There x/crypto's AES-GCM
// and AES-CTR use them, while its ChaCha20 has no assembly for amd64 and
// costs the server several times the CPU per byte (bench/RESULTS.md).
//
// The client chooses: it takes the first cipher of its own list that the
// server offers (RFC 4253 section 7.1), and OpenSSH lists
// chacha20-poly1305 first whatever its hardware. Leaving it out is
// the only way a server has to steer such clients to AES; every SSH
// client in use also speaks aes128-ctr. Clients without AES instructions
// then pay for AES in software, on their side of the connection.
func DefaultCiphers() []string {
	all := ssh.SupportedAlgorithms().Ciphers
	if !aesHardware() {
		return all
	}
	return slices.DeleteFunc(all, func(c string) bool { return c == ssh.CipherChaCha20Poly1305 })
}

// aesHardware reports whether x/crypto's AES modes run on AES
// instructions here while its ChaCha20 is plain Go (amd64).
func aesHardware() bool {
	return runtime.GOARCH == "amd64" && cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
}

// CheckCiphers reports an error naming the first of names that
// x/crypto/ssh does not support (or supports only as insecure), or an
// empty list.
func CheckCiphers(names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("no ciphers")
	}
	supported := ssh.SupportedAlgorithms().Ciphers
	for _, n := range names {
		if !slices.Contains(supported, n) {
			return fmt.Errorf("cipher %q is not supported (supported: %v)", n, supported)
		}
	}
	return nil
}

// defaultCiphers is DefaultCiphers, made once: every connection's
// configuration shares it (x/crypto only reads it).
var defaultCiphers = sync.OnceValue(DefaultCiphers)

// ciphers returns the ciphers a connection offers.
func (srv *Server) ciphers() []string {
	if len(srv.Ciphers) > 0 {
		return srv.Ciphers
	}
	return defaultCiphers()
}
