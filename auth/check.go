package auth

import (
	"context"
	"fmt"
	"runtime"

	"github.com/ferry-ftp/ferry/internal/lingering"
)

// hashSlots bounds the password checks running at once: an Argon2id check
// allocates its whole memory cost (64 MiB by default), so a burst of
// logins must queue rather than exhaust memory. A check whose caller gave
// up keeps its slot until the hash is done: the hash cannot be stopped,
// and its memory and CPU are in use until then. Every store (the users
// file, the database) checks through it, so the bound is per process.
var hashSlots = make(chan struct{}, max(runtime.GOMAXPROCS(0), 2))

// CheckPasswordContext is CheckPassword bounded by the process-wide limit
// on checks running at once. When ctx ends it returns ctx's error at once,
// whether it was still waiting for a slot (it then never hashes) or
// hashing (the hash runs to its end in the background, still counted
// against the bound, and by a lingering.Tracker that ctx carries).
func CheckPasswordContext(ctx context.Context, hash, pass string) (bool, error) {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("password check not started: %w", ctx.Err())
	}
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	ended := lingering.Start(ctx) // the caller's bounds count the hash to its end
	go func() {
		defer ended()
		defer func() { <-hashSlots }()
		ok, err := CheckPassword(hash, pass)
		done <- result{ok, err}
	}()
	select {
	case r := <-done:
		return r.ok, r.err
	case <-ctx.Done():
		return false, fmt.Errorf("password check abandoned: %w", ctx.Err())
	}
}
