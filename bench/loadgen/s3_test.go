package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestS3Targets checks that the ratios come out in the direction the
// issue states them, whatever the unit: a STOR in MB/s and a RETR in ms
// both give ferry's speed over the other's, LIST gives ferry's time over
// mc's; that the best round is the one used; and that a missing or
// failed figure leaves its target unmeasured rather than met.
func TestS3Targets(t *testing.T) {
	t.Parallel()
	lines := []record{
		{Server: "ferry", Metric: "stor_mbps", Better: "higher", Value: 80},
		{Server: "ferry", Metric: "stor_mbps", Better: "higher", Value: 90}, // the better round
		{Server: "mc", Metric: "stor_mbps", Better: "higher", Value: 100},
		{Server: "sftpgo", Metric: "stor_mbps", Better: "higher", Value: 60},
		{Server: "ferry", Metric: "retr_ms", Better: "lower", Value: 1000},
		{Server: "mc", Metric: "retr_ms", Better: "lower", Value: 800},
		{Server: "sftpgo", Metric: "retr_ms", Better: "lower", Detail: map[string]any{"error": "550 gone"}},
		{Server: "ferry", Metric: "list_ms", Better: "lower", Value: 300},
		{Server: "mc", Metric: "list_ms", Better: "lower", Value: 200},
		{Server: "ferry", Metric: "stor_peak_rss_mib", Better: "lower", Value: 300},
		{Server: "ferry", Metric: "many_stor_100_peak_rss_mib", Better: "lower", Value: 5000},
		{Server: "ferry", Metric: "many_stor_100_bound_mib", Value: 8000},
	}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	var b strings.Builder
	for _, r := range lines {
		j, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteString("\n")
	}
	b.WriteString("a stray line of a failed step\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	best, err := readBest(path)
	if err != nil {
		t.Fatal(err)
	}
	got := s3Targets(best, "ferry", "mc", "sftpgo")
	want := []struct {
		value    float64
		measured bool
		met      bool
	}{
		{0.9, true, true},  // STOR ferry/mc: 90/100
		{1.5, true, true},  // STOR ferry/sftpgo: 90/60
		{0.8, true, false}, // RETR ferry/mc: 800 ms/1000 ms
		{0, false, false},  // RETR ferry/sftpgo: SFTPGo failed
		{1.5, true, true},  // LIST time ferry/mc: 300/200
		{300, true, false}, // peak RSS over 256 MiB
		{5000, true, true}, // 100 at once within the bound
	}
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.measured != w.measured || g.met() != w.met || (w.measured && !near(g.value, w.value)) {
			t.Errorf("%s: value %v measured %v met %v; want %v %v %v", g.what, g.value, g.measured, g.met(), w.value, w.measured, w.met)
		}
	}
	if g := got[6]; g.goal != 8000 {
		t.Errorf("%s: goal %v, want the bound 8000", g.what, g.goal)
	}
	if row := got[3].row(); !strings.Contains(row, "| – |") || strings.Contains(row, "yes") {
		t.Errorf("unmeasured row %q", row)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
