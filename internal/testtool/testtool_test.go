package testtool

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// recorder is a testing.TB that notes how the helper ended the test
// instead of ending the real one.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(string, ...any) {
	r.skipped = true
	runtime.Goexit()
}

func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine, as the testing
// package runs a test, so that Goexit ends only f.
func run(t *testing.T, f func(testing.TB) string) (*recorder, string) {
	r := &recorder{TB: t}
	var got string
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = f(r)
	}()
	<-done
	return r, got
}

// The cases set the environment, so they do not run in parallel.
func TestNeed(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "ferry-fake-tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	for _, tc := range []struct {
		name, ci, tool  string
		skipped, failed bool
		want            string
	}{
		{name: "found", tool: "ferry-fake-tool", want: tool},
		{name: "found in CI", ci: "true", tool: "ferry-fake-tool", want: tool},
		{name: "missing skips", tool: "ferry-no-such-tool", skipped: true},
		{name: "missing fails in CI", ci: "true", tool: "ferry-no-such-tool", failed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r, got := run(t, func(tb testing.TB) string { return Need(tb, tc.tool) })
			if got != tc.want || r.skipped != tc.skipped || r.failed != tc.failed {
				t.Errorf("Need(%q) with CI=%q = %q, skipped %v, failed %v; want %q, %v, %v",
					tc.tool, tc.ci, got, r.skipped, r.failed, tc.want, tc.skipped, tc.failed)
			}
		})
	}
	t.Run("any", func(t *testing.T) {
		t.Setenv("CI", "true")
		r, got := run(t, func(tb testing.TB) string { return NeedAny(tb, "ferry-no-such-tool", "ferry-fake-tool") })
		if got != tool || r.failed || r.skipped {
			t.Errorf("NeedAny = %q, failed %v, skipped %v; want %q", got, r.failed, r.skipped, tool)
		}
		r, _ = run(t, func(tb testing.TB) string { return NeedAny(tb, "ferry-no-such-tool", "ferry-no-such-tool-2") })
		if !r.failed {
			t.Error("NeedAny of missing programs in CI did not fail the test")
		}
	})
}
