package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// cmdReport reads records (JSON lines) and prints the markdown table:
// one row per metric in the order first measured, one column per server,
// then ferry's figure divided by each peer's for the peers that -ratios
// names (the targets of issue 5 are ratios to vsftpd and Pure-FTPd; the
// other peers are shown beside them, not as ratios). The client comparisons
// (metrics client_*, whose records name a tool, not a server) follow in a
// second table: ferry's command beside the other tool.
func cmdReport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	in := fs.String("in", "bench/out/results.jsonl", "records from the other subcommands")
	serverList := fs.String("servers", "ferry,vsftpd,pure-ftpd", "columns, ferry first")
	ratioList := fs.String("ratios", "vsftpd,pure-ftpd", "peers whose ratio to the first server gets a column")
	spread := fs.Bool("spread", false, "show each cell's worst round beside its best (the machine's noise)")
	fs.Parse(args)
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	servers := strings.Split(*serverList, ",")
	var ratioPeers []string
	for _, p := range servers[1:] {
		if contains(strings.Split(*ratioList, ","), p) {
			ratioPeers = append(ratioPeers, p)
		}
	}
	// Several records of one server and metric are rounds of the same
	// measurement: the best is shown.
	type row struct {
		label, better string
		values        map[string]record
		rounds        map[string]int
		worst         map[string]record
	}
	var order []string
	rows := map[string]*row{}
	var other []record
	var clientOrder []string
	clientRows := map[string]*row{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20) // a record's detail can be long (the ABOR probe's samples)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // a stray line from a failed step
		}
		if strings.HasPrefix(r.Metric, "client_") {
			rw := clientRows[r.Metric]
			if rw == nil {
				rw = &row{label: r.Label, better: r.Better, values: map[string]record{}, rounds: map[string]int{}}
				clientRows[r.Metric] = rw
				clientOrder = append(clientOrder, r.Metric)
			}
			rw.rounds[r.Server]++
			if prev, ok := rw.values[r.Server]; !ok || better(r, prev) {
				rw.values[r.Server] = r
			}
			continue
		}
		if !contains(servers, r.Server) {
			other = append(other, r)
			continue
		}
		rw := rows[r.Metric]
		if rw == nil {
			rw = &row{label: r.Label, better: r.Better, values: map[string]record{}, rounds: map[string]int{}, worst: map[string]record{}}
			rows[r.Metric] = rw
			order = append(order, r.Metric)
		}
		if _, ok := r.Detail["error"]; !ok {
			rw.label = r.Label // a measured row says what it measured
		}
		rw.rounds[r.Server]++
		if prev, ok := rw.values[r.Server]; !ok || better(r, prev) {
			rw.values[r.Server] = r
		}
		if prev, ok := rw.worst[r.Server]; !ok || better(prev, r) {
			rw.worst[r.Server] = r
		}
	}
	for _, r := range other {
		fmt.Printf("- %s: **%s** %s\n", r.Label, format(r.Value), r.Unit)
	}
	if len(other) > 0 {
		fmt.Println()
	}
	header := "| metric | " + strings.Join(servers, " | ")
	sep := "|---|" + strings.Repeat("---:|", len(servers))
	for _, p := range ratioPeers {
		header += " | " + servers[0] + "/" + p
		sep += "---:|"
	}
	fmt.Println(header + " |")
	fmt.Println(sep)
	for _, m := range order {
		rw := rows[m]
		label := rw.label
		if n := rw.rounds[servers[0]]; n > 1 {
			label += fmt.Sprintf(", best of %d rounds", n)
		}
		if rw.better != "" {
			label += ", " + rw.better + " is better"
		}
		cells := []string{label}
		for _, s := range servers {
			c := cell(rw.values, s)
			if w, ok := measured(rw.worst, s); ok && *spread && rw.rounds[s] > 1 {
				c += " (worst " + format(w) + ")"
			}
			cells = append(cells, c)
		}
		base, okBase := measured(rw.values, servers[0])
		for _, p := range ratioPeers {
			v, ok := measured(rw.values, p)
			switch {
			case !okBase || !ok:
				cells = append(cells, "–")
			case v == 0 && base == 0:
				cells = append(cells, "=")
			case v == 0:
				cells = append(cells, "∞")
			default:
				cells = append(cells, fmt.Sprintf("%.2f", base/v))
			}
		}
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	if len(clientOrder) > 0 {
		fmt.Println()
		fmt.Println("| client | ferry | other tool | ferry/other |")
		fmt.Println("|---|---:|---:|---:|")
	}
	for _, m := range clientOrder {
		rw := clientRows[m]
		label := rw.label
		if n := rw.rounds["ferry"]; n > 1 {
			label += fmt.Sprintf(", best of %d rounds", n)
		}
		if rw.better != "" {
			label += ", " + rw.better + " is better"
		}
		var tools []string
		for t := range rw.values {
			if t != "ferry" {
				tools = append(tools, t)
			}
		}
		sort.Strings(tools)
		for _, t := range tools {
			ratio := "–"
			base, okBase := measured(rw.values, "ferry")
			if v, ok := measured(rw.values, t); okBase && ok && v != 0 {
				ratio = fmt.Sprintf("%.2f", base/v)
			}
			fmt.Printf("| %s | %s | %s: %s | %s |\n", label, cell(rw.values, "ferry"), t, cell(rw.values, t), ratio)
		}
	}
	return sc.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func measured(values map[string]record, server string) (float64, bool) {
	r, ok := values[server]
	if !ok {
		return 0, false
	}
	if _, failed := r.Detail["error"]; failed {
		return 0, false
	}
	return r.Value, true
}

func cell(values map[string]record, server string) string {
	r, ok := values[server]
	if !ok {
		return "–"
	}
	if e, failed := r.Detail["error"]; failed {
		return fmt.Sprintf("n/a (%v)", e)
	}
	s := format(r.Value)
	if e, ok := r.Detail["errors"]; ok && e != float64(0) {
		s += fmt.Sprintf(" (%v errors)", e)
	}
	return s
}

func format(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || a == math.Trunc(a):
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// better reports whether record a beats b: a measured value beats an
// error, then the direction of the metric decides.
func better(a, b record) bool {
	_, aFailed := a.Detail["error"]
	_, bFailed := b.Detail["error"]
	if aFailed != bFailed {
		return bFailed
	}
	if a.Better == "lower" {
		return a.Value < b.Value
	}
	return a.Value > b.Value
}
