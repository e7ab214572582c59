package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

type opError struct {
	path string
	err  string
}

// roundResult is what one round did and found.
type roundResult struct {
	round    int
	acked    int // operations acknowledged
	inFlight int // operations running at the kill
	// killedAtSyscall: killed by -kill-at rather than the timer.
	killedAtSyscall bool
	restart         time.Duration // from exec to the 220 greeting
	swept           time.Duration // until the kill's temporary files were swept
	files           int           // files read and hashed after the restart
	bytes           int64
	opErrors        []opError
	violations      []violation
}

func (r roundResult) String() string {
	how := "timer"
	if r.killedAtSyscall {
		how = "syscall"
	}
	return fmt.Sprintf("round %3d: %4d ops acknowledged, %d in flight at the kill (%s), restart %v, temp files swept after %v, %d files / %s checked, %d violations",
		r.round, r.acked, r.inFlight, how, r.restart.Round(100*time.Microsecond), r.swept.Round(time.Millisecond), r.files, mib(r.bytes), len(r.violations))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// summary adds the rounds up.
type summary struct {
	cfg        config
	base       string // kept temporary directory, "" once removed
	rounds     int
	timedOut   bool
	acked      [numOpKinds]int
	inFlight   int
	atSyscall  int    // rounds killed by -kill-at
	outcomes   [3]int // of the operations in flight, by outcome
	files      int
	bytes      int64
	restarts   []time.Duration
	violations []violation
}

func (s *summary) add(r roundResult) {
	s.rounds++
	s.inFlight += r.inFlight
	if r.killedAtSyscall {
		s.atSyscall++
	}
	s.files += r.files
	s.bytes += r.bytes
	s.restarts = append(s.restarts, r.restart)
	s.violations = append(s.violations, r.violations...)
}

func (s *summary) totalAcked() int {
	n := 0
	for _, k := range s.acked {
		n += k
	}
	return n
}

// restartPercentile returns the p-th percentile (nearest rank) of the
// restart times.
func (s *summary) restartPercentile(p int) time.Duration {
	if len(s.restarts) == 0 {
		return 0
	}
	sorted := slices.Clone(s.restarts)
	slices.Sort(sorted)
	i := (p*len(sorted) + 99) / 100
	return sorted[max(i-1, 0)]
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rounds := fmt.Sprint(s.rounds)
	if s.cfg.killAt != "" {
		rounds += fmt.Sprintf(", %d of them on entering %s", s.atSyscall, s.cfg.killAt)
	}
	if s.timedOut {
		rounds += fmt.Sprintf(" (stopped by -timeout %v)", s.cfg.timeout)
	}
	var ops []string
	for k, n := range s.acked {
		ops = append(ops, fmt.Sprintf("%s %d", opKind(k), n))
	}
	kinds := map[string]int{}
	for _, v := range s.violations {
		kinds[v.kind]++
	}
	var byKind []string
	for _, k := range []string{violMissing, violCorrupt, violTempFile, violStray, violNotRegular, violOpError} {
		byKind = append(byKind, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	fmt.Fprintf(tw, "seed\t%d\n", s.cfg.seed)
	fmt.Fprintf(tw, "upload mode\t%s\n", s.cfg.uploadMode)
	fmt.Fprintf(tw, "workers\t%d\n", s.cfg.workers)
	fmt.Fprintf(tw, "rounds (kills)\t%s\n", rounds)
	fmt.Fprintf(tw, "ops acknowledged\t%d (%s)\n", s.totalAcked(), strings.Join(ops, ", "))
	fmt.Fprintf(tw, "in flight at kill\t%d (found undone %d, done %d, partly written in place %d)\n",
		s.inFlight, s.outcomes[outcomeBefore], s.outcomes[outcomeAfter], s.outcomes[outcomePartial])
	fmt.Fprintf(tw, "files checked\t%d\n", s.files)
	fmt.Fprintf(tw, "bytes checked\t%d (%s)\n", s.bytes, mib(s.bytes))
	fmt.Fprintf(tw, "restart to 220\tp50 %v, max %v\n", s.restartPercentile(50).Round(100*time.Microsecond), s.restartPercentile(100).Round(100*time.Microsecond))
	fmt.Fprintf(tw, "violations\t%d (%s)\n", len(s.violations), strings.Join(byKind, ", "))
	tw.Flush()
	for _, v := range s.violations {
		fmt.Fprintln(w, "  ", v)
	}
	if s.base != "" {
		fmt.Fprintf(w, "kept: %s (root/, evidence/, ferry.log)\n", s.base)
	}
}
