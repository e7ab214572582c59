package ftp

import (
	"path"
	"strings"
)

// JoinPath resolves name, as sent by a client, against the working
// directory cwd and returns a clean absolute slash-separated path. The result
// never climbs above "/": ".." at the root stays at the root, so a client
// cannot name anything outside its own tree whatever it sends. A NUL byte
// can never reach a file system through it: the caller rejects such names
// (see ValidPathName).
func JoinPath(cwd, name string) string {
	if name == "" {
		return cleanAbs(cwd)
	}
	if !strings.HasPrefix(name, "/") {
		name = cleanAbs(cwd) + "/" + name
	}
	return cleanAbs(name)
}

func cleanAbs(p string) string {
	// path.Clean of a rooted path removes every ".." that would climb past
	// the root, which is exactly the chroot semantics FTP wants.
	return path.Clean("/" + p)
}

// ValidPathName reports whether a client-supplied path may be handed to a
// storage backend: valid UTF-8 is not required (RFC 959 paths are bytes),
// but NUL, CR and LF never belong in a name.
func ValidPathName(name string) bool {
	return !strings.ContainsAny(name, "\x00\r\n")
}
