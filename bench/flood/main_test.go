package main

import (
	"strings"
	"testing"
	"time"
)

// TestRunSmall runs the whole flood at a small scale, so the program
// keeps working: the load starts and the legitimate client's tries all
// succeed and are reported.
func TestRunSmall(t *testing.T) {
	var out strings.Builder
	o := options{user: "legit", pass: "pw", idle: 20, guessers: 3, tries: 3, gap: 10 * time.Millisecond,
		guessPause: 10 * time.Millisecond, timeout: time.Minute, defender: true}
	if err := run(o, &out); err != nil {
		t.Fatalf("%v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "legitimate login + LIST (3 of 3 tries)") {
		t.Errorf("report does not show 3 good tries:\n%s", &out)
	}
}
