package main

// Subcommands of bench/s3, which measures ferry and SFTPGo over S3 beside
// mc, MinIO's own client talking to the store directly.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"time"
)

// cmdTimeCmd runs a command -runs times and records its best time, as
// the FTP subcommands record theirs, so that a tool that talks to the
// store directly (mc) lands in the same rows as the servers. Its standard
// output is read here with 1 MiB reads, as a data connection is, and
// counted (bytes or lines), so a run that fetched the wrong thing fails.
//
//	loadgen timecmd -server mc -metric retr_ms -label ... -count bytes -want N -- mc cat ...
func cmdTimeCmd(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("timecmd", flag.ExitOnError)
	server := fl.String("server", "tool", "column of the records")
	metric := fl.String("metric", "", "metric of the record (retr_ms, stor_mbps, list_ms, ...)")
	label := fl.String("label", "", "row title")
	runs := fl.Int("runs", 3, "runs; the best is kept")
	count := fl.String("count", "none", "what to count on standard output: bytes, lines or none")
	want := fl.Int64("want", -1, "the count a complete run gives; -1: no check")
	size := sizeFlag{-1}
	fl.Var(&size, "size", "bytes each run moves: the record is in MB/s instead of ms")
	storePid := fl.Int("store-pid", 0, "object store's process (MinIO): its CPU time is reported")
	mask := fl.String("mask", "", "text (a secret) to hide in the command recorded")
	fl.Parse(args)
	argv := fl.Args()
	if len(argv) == 0 || *metric == "" {
		return errors.New("want -metric and a command after --")
	}
	if *count != "bytes" && *count != "lines" && *count != "none" {
		return fmt.Errorf("-count: bytes, lines or none, not %q", *count)
	}
	buf := make([]byte, readSize)
	var best time.Duration
	var all []float64
	var bestDetail map[string]any
	var counted int64
	for i := 0; i < *runs; i++ {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		cpu := startCPU(0).alsoStore(*storePid)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		var n int64
		for {
			k, err := out.Read(buf)
			if *count == "lines" {
				n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			} else {
				n += int64(k)
			}
			if err != nil {
				break
			}
		}
		err = cmd.Wait()
		d := time.Since(start)
		detail := map[string]any{}
		cpu.stop(detail)
		delete(detail, "client_cpu_s") // this process only waited
		if err != nil {
			return fmt.Errorf("%s: %v: %s", argv[0], err, strings.TrimSpace(stderr.String()))
		}
		if *want >= 0 && n != *want {
			return fmt.Errorf("%s: %d %s on its output, want %d", argv[0], n, *count, *want)
		}
		st := cmd.ProcessState
		detail["tool_cpu_s"] = (st.UserTime() + st.SystemTime()).Seconds()
		all = append(all, ms(d))
		if best == 0 || d < best {
			best, bestDetail, counted = d, detail, n
		}
	}
	detail := bestDetail
	detail["runs_ms"] = all
	if *count != "none" {
		detail[*count] = counted
	}
	command := strings.Join(argv, " ")
	if *mask != "" {
		command = strings.ReplaceAll(command, *mask, "***")
	}
	detail["command"] = command
	r := record{Server: *server, Metric: *metric, Label: *label, Better: "lower", Value: ms(best), Unit: "ms", Detail: detail}
	if size.n >= 0 {
		detail["ms"] = ms(best)
		r.Better, r.Value, r.Unit = "higher", mbps(size.n, best), "MB/s"
	}
	emit(r)
	return nil
}

// cmdManyStor logs in -sessions sessions and has all of them upload
// -size bytes at the same moment, each to a name of its own, while the
// server's peak RSS (VmHWM, reset after the logins) is watched. Beside the
// peak it records the bound ferry documents for this,
// base + uploads x part size x (parts in flight + 1), with base the
// server's RSS once every session is logged in.
func cmdManyStor(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("manystor", flag.ExitOnError)
	var c common
	c.register(fl)
	sessions := fl.Int("sessions", 100, "uploads at once")
	conc := fl.Int("concurrency", 32, "logins in flight at once")
	size := sizeFlag{64 << 20}
	fl.Var(&size, "size", "bytes each session uploads")
	prefix := fl.String("prefix", "many-", "remote names are PREFIX + NNN + .bin")
	partSize := sizeFlag{16 << 20}
	fl.Var(&partSize, "part-size", "the server's multipart part size, for the bound")
	parts := fl.Int("parts", 4, "parts of one upload the server keeps in flight, for the bound")
	fl.Parse(args)
	if c.pid == 0 {
		return errors.New("manystor needs -pid (the server's peak RSS is what it measures)")
	}
	clients, loginErrs, firstLoginErr := dialMany(ctx, c.dial, *sessions, *conc)
	defer closeAll(clients)
	if dir := path.Dir(*prefix); dir != "." {
		// The directory may be there from an earlier run: the reply is
		// not checked, the uploads say whether it exists.
		for _, cl := range clients {
			if cl != nil {
				cl.do("MKD " + dir)
				break
			}
		}
	}
	base, err := rssKiB(c.pid)
	if err != nil {
		return err
	}
	if err := resetPeakRSS(c.pid); err != nil {
		return err
	}
	buf := randomBuffer(readSize, 3)
	cpu := c.startCPU()
	res := atOnce(clients, func(i int, cl *client, _ time.Time) (int64, error) {
		return size.n, cl.store(fmt.Sprintf("%s%03d.bin", *prefix, i), size.n, buf)
	}, nil)
	hwm, err := peakRSS(c.pid)
	if err != nil {
		return err
	}
	detail := res.detail(loginErrs, firstLoginErr)
	detail["base_mib"] = float64(base) / 1024
	cpu.stop(detail)
	what := fmt.Sprintf("%d sessions STOR %s at once", *sessions, human(size.n))
	errs := int64(loginErrs) + res.errs
	emit(record{Server: c.label, Metric: fmt.Sprintf("many_stor_%d_errors", *sessions), Better: "lower",
		Label: what + ": errors", Value: float64(errs), Detail: detail})
	emit(record{Server: c.label, Metric: fmt.Sprintf("many_stor_%d_mbps", *sessions), Better: "higher",
		Label: what + ": aggregate MB/s", Value: mbps(res.total, res.wall), Unit: "MB/s"})
	emit(record{Server: c.label, Metric: fmt.Sprintf("many_stor_%d_peak_rss_mib", *sessions), Better: "lower",
		Label: what + ": the server's peak RSS (VmHWM; MiB)", Value: float64(hwm) / 1024, Unit: "MiB",
		Detail: map[string]any{"base_mib": float64(base) / 1024}})
	bound := func(parts int) float64 {
		return float64(base)/1024 + float64(*sessions)*float64(partSize.n)/(1<<20)*float64(parts)
	}
	// ferry documents part_size x (concurrency + 1) per upload: the parts
	// in flight and the one being filled. The wording counts the
	// parts in flight only; that figure is in the detail.
	emit(record{Server: c.label, Metric: fmt.Sprintf("many_stor_%d_bound_mib", *sessions),
		Label: fmt.Sprintf("%s: bound base + %d x %s part x (%d in flight + 1 filling) (MiB)", what, *sessions, human(partSize.n), *parts),
		Value: bound(*parts + 1), Unit: "MiB",
		Detail: map[string]any{"base_mib": float64(base) / 1024, "part_size": partSize.n, "parts": *parts,
			"in_flight_only_mib": bound(*parts)}})
	return nil
}

// cmdS3Targets prints issue 11's performance targets from the records of
// a bench/s3 run: each as the ratio the issue states, beside its goal.
func cmdS3Targets(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("s3targets", flag.ExitOnError)
	in := fl.String("in", "bench/out/s3/results.jsonl", "records of bench/s3")
	ferry := fl.String("ferry", "ferry", "the server the targets are for")
	direct := fl.String("direct", "mc", "the tool talking to the store directly (the ceiling)")
	peer := fl.String("peer", "sftpgo", "the other FTP server over S3")
	fl.Parse(args)
	best, err := readBest(*in)
	if err != nil {
		return err
	}
	fmt.Println("| target (issue 11) | measured | goal | met |")
	fmt.Println("|---|---:|---:|:---:|")
	for _, t := range s3Targets(best, *ferry, *direct, *peer) {
		fmt.Println(t.row())
	}
	return nil
}

// target is one of issue 11's performance targets: a measured value
// against a goal it must reach (atLeast) or stay under.
type target struct {
	what     string
	value    float64
	measured bool // false: a figure it needs is missing or failed
	goal     float64
	atLeast  bool
}

func (t target) met() bool {
	if t.atLeast {
		return t.measured && t.value >= t.goal
	}
	return t.measured && t.value <= t.goal
}

func (t target) row() string {
	op := "<="
	if t.atLeast {
		op = ">="
	}
	if !t.measured {
		return fmt.Sprintf("| %s | – | %s %.2f | – |", t.what, op, t.goal)
	}
	met := "**no**"
	if t.met() {
		met = "yes"
	}
	return fmt.Sprintf("| %s | %.2f | %s %.2f | %s |", t.what, t.value, op, t.goal, met)
}

// s3Targets computes issue 11's targets from the best records: speeds as
// ratios whatever the unit of the metric (MB/s, or ms where the ratio is
// inverted), LIST as a ratio of times, memory in MiB.
func s3Targets(best map[string]map[string]record, ferry, direct, peer string) []target {
	value := func(metric, server string) (float64, bool) {
		r, ok := best[metric][server]
		if !ok || r.Value == 0 {
			return 0, false
		}
		if _, failed := r.Detail["error"]; failed {
			return 0, false
		}
		return r.Value, true
	}
	ratio := func(metric, a, b string, invert bool) (float64, bool) {
		va, okA := value(metric, a)
		vb, okB := value(metric, b)
		if !okA || !okB {
			return 0, false
		}
		if invert {
			return vb / va, true
		}
		return va / vb, true
	}
	var ts []target
	add := func(what string, goal float64, atLeast bool, v float64, ok bool) {
		ts = append(ts, target{what: what, value: v, measured: ok, goal: goal, atLeast: atLeast})
	}
	for _, m := range []struct{ metric, what string }{{"stor_mbps", "STOR"}, {"retr_ms", "RETR"}} {
		inv := strings.HasSuffix(m.metric, "_ms")
		v, ok := ratio(m.metric, ferry, direct, inv)
		add(fmt.Sprintf("%s speed %s / %s", m.what, ferry, direct), 0.9, true, v, ok)
		v, ok = ratio(m.metric, ferry, peer, inv)
		add(fmt.Sprintf("%s speed %s / %s", m.what, ferry, peer), 1.2, true, v, ok)
	}
	v, ok := ratio("list_ms", ferry, direct, false)
	add(fmt.Sprintf("LIST time %s / %s ls", ferry, direct), 1.5, false, v, ok)
	v, ok = value("stor_peak_rss_mib", ferry)
	add(fmt.Sprintf("%s peak RSS in the big STOR (MiB)", ferry), 256, false, v, ok)
	var many []string
	for metric := range best {
		if n, found := strings.CutSuffix(metric, "_peak_rss_mib"); found && strings.HasPrefix(n, "many_stor_") {
			many = append(many, n)
		}
	}
	slices.Sort(many)
	for _, n := range many {
		peak, okP := value(n+"_peak_rss_mib", ferry)
		bound, okB := value(n+"_bound_mib", ferry)
		ts = append(ts, target{what: fmt.Sprintf("%s peak RSS, %s uploads at once (MiB; goal: the bound)", ferry, strings.TrimPrefix(n, "many_stor_")),
			value: peak, measured: okP && okB, goal: bound})
	}
	return ts
}

// readBest reads records and keeps the best of each metric and server.
func readBest(path string) (map[string]map[string]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	best := map[string]map[string]record{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue // a stray line from a failed step
		}
		if best[r.Metric] == nil {
			best[r.Metric] = map[string]record{}
		}
		if prev, ok := best[r.Metric][r.Server]; !ok || better(r, prev) {
			best[r.Metric][r.Server] = r
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return best, nil
}
