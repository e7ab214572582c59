package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// maxTokenFile bounds what LoadToken reads: a token is one short line.
const maxTokenFile = 4 << 10

// ErrBadTokenFile is wrapped by LoadToken's errors for a token file that
// must not be used.
var ErrBadTokenFile = errors.New("unusable admin token file")

// LoadToken reads the API token from the first line of path. An empty
// file, or one that other users may read, is refused: anyone holding the
// token can disconnect sessions and change accounts.
func LoadToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s is not a regular file", ErrBadTokenFile, path)
	}
	if perm := info.Mode().Perm(); perm&0o007 != 0 {
		return "", fmt.Errorf("%w: %s is accessible to every user (mode %v); chmod 600 it", ErrBadTokenFile, path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile))
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	token := strings.TrimSpace(line)
	if token == "" {
		return "", fmt.Errorf("%w: %s: the first line is empty (make a token with \"ferry admin token --file %s\")", ErrBadTokenFile, path, path)
	}
	if !isToken68(token) {
		return "", fmt.Errorf("%w: %s: the token may hold only letters, digits and -._~+/=", ErrBadTokenFile, path)
	}
	return token, nil
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN"
// header value (RFC 6750 §2.1: the scheme is case-insensitive, the token
// is token68).
func bearerToken(header string) (string, bool) {
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token := strings.TrimLeft(rest, " ")
	if !isToken68(token) {
		return "", false
	}
	return token, true
}

// isToken68 reports whether s is an RFC 7235 token68: 1*( ALPHA / DIGIT /
// "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// tokenCheck checks bearer tokens. A wrong token is answered only after
// a delay, against guessing; the requests waiting out their delay are
// bounded in all and per client address, and past the bound are answered
// 429 at once, so that a flood of wrong tokens holds a bounded number of
// goroutines.
type tokenCheck struct {
	sum        [sha256.Size]byte
	delay      time.Duration
	maxFailing int
	maxPerIP   int

	mu      sync.Mutex
	failing int
	perIP   map[netip.Addr]int
}

func newTokenCheck(token string, delay time.Duration, maxFailing, maxPerIP int) *tokenCheck {
	return &tokenCheck{sum: sha256.Sum256([]byte(token)), delay: delay, maxFailing: maxFailing, maxPerIP: maxPerIP, perIP: map[netip.Addr]int{}}
}

// valid compares in constant time; hashing first hides the length too.
func (c *tokenCheck) valid(r *http.Request) bool {
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], c.sum[:]) == 1
}

// errTooMany: too many failed checks are waiting out their delay.
var errTooMany = errors.New("too many failed authentications; try again later")

// fail waits out the delay of a failed check, or returns errTooMany at
// once when too many already wait; it returns early when ctx is done.
func (c *tokenCheck) fail(ctx context.Context, remote netip.Addr) error {
	if !c.acquire(remote) {
		return errTooMany
	}
	defer c.release(remote)
	if c.delay <= 0 {
		return nil
	}
	timer := time.NewTimer(c.delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *tokenCheck) acquire(remote netip.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failing >= c.maxFailing || c.perIP[remote] >= c.maxPerIP {
		return false
	}
	c.failing++
	c.perIP[remote]++
	return true
}

func (c *tokenCheck) release(remote netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failing--
	if c.perIP[remote]--; c.perIP[remote] <= 0 {
		delete(c.perIP, remote)
	}
}

// clientKey is what failed checks are counted under: the peer's address,
// or its /64 for IPv6, since one host usually holds a whole /64.
func clientKey(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if addr.Is6() {
		if p, err := addr.WithZone("").Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return addr
}
