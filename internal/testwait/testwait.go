// Package testwait lets tests wait for state that another goroutine, the
// server or a child process changes on its own time, by polling it with a
// deadline instead of sleeping for a guessed duration.
package testwait

import (
	"testing"
	"time"
)

// Timeout is the deadline of For: generous, since it only matters when a
// test is about to fail, and a loaded machine may be slow to get there.
const Timeout = 20 * time.Second

// For polls cond until it holds, and fails the test naming what it waited
// for if it does not within Timeout.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Poll(cond) {
		t.Fatalf("waited %v for %s", Timeout, what)
	}
}

// Poll polls cond until it holds, and reports false if it does not within
// Timeout, for a test that says more than For can when it fails.
func Poll(cond func() bool) bool {
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
