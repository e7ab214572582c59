package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cmdLogins measures full logins per second against one server: each of
// -concurrency workers connects, logs in (USER, PASS, TYPE I) and quits,
// over and over for -duration. What it weighs is the account store's cost
// per login (a users file read in memory, or a PostgreSQL row per login)
// beside the password hash, which both pay.
func cmdLogins(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("logins", flag.ExitOnError)
	var c common
	c.register(fs)
	conc := fs.Int("concurrency", 8, "sessions logging in at once")
	duration := fs.Duration("duration", 10*time.Second, "how long to keep logging in")
	fs.Parse(args)

	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	cpu := c.startCPU()
	var logins, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				cl, err := dial(ctx, c.dial)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				logins.Add(1)
				cl.quit()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	detail := map[string]any{"logins": logins.Load(), "errors": errs.Load(), "concurrency": *conc, "seconds": took.Seconds()}
	if first, _ := firstErr.Load().(string); first != "" {
		detail["first_error"] = first
	}
	cpu.stop(detail)
	emit(record{Server: c.label, Metric: "logins_per_s", Better: "higher",
		Label: fmt.Sprintf("logins per second, %d at once (connect, USER, PASS, QUIT)", *conc),
		Value: float64(logins.Load()) / took.Seconds(), Unit: "1/s", Detail: detail})
	return nil
}

// cmdSpread opens -sessions logged-in sessions spread evenly (round robin)
// over the servers of -addrs, the nodes of a cluster, holds them idle for
// -settle, measures each node's memory, then has every session QUIT at
// once and times how long until all are answered.
func cmdSpread(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("spread", flag.ExitOnError)
	var c common
	c.register(fs)
	addrs := fs.String("addrs", "", "comma-separated control addresses of the nodes")
	pids := fs.String("pids", "", "comma-separated main processes of the nodes, in -addrs order (for memory and CPU)")
	sessions := fs.Int("sessions", 1000, "sessions in all")
	conc := fs.Int("concurrency", 32, "logins in flight at once, in all")
	settle := fs.Duration("settle", 3*time.Second, "idle time after the last login, before measuring")
	fs.Parse(args)

	nodes := strings.Split(*addrs, ",")
	if *addrs == "" || len(nodes) == 0 {
		return fmt.Errorf("-addrs is required")
	}
	var nodePids []int
	if *pids != "" {
		for _, p := range strings.Split(*pids, ",") {
			n, err := strconv.Atoi(p)
			if err != nil {
				return fmt.Errorf("bad -pids entry %q", p)
			}
			nodePids = append(nodePids, n)
		}
		if len(nodePids) != len(nodes) {
			return fmt.Errorf("-pids names %d processes for %d nodes", len(nodePids), len(nodes))
		}
	}
	pssBefore := make([]int64, len(nodePids))
	for i, pid := range nodePids {
		pssBefore[i], _ = treePSS(pid)
	}

	// Node i gets sessions i, i+n, i+2n...: dialMany per node, each with
	// its share of the concurrency, all at the same time.
	clients := make([][]*client, len(nodes))
	loginErrs := make([]int, len(nodes))
	firstErrs := make([]string, len(nodes))
	start := time.Now()
	var wg sync.WaitGroup
	for i, addr := range nodes {
		share := *sessions / len(nodes)
		if i < *sessions%len(nodes) {
			share++
		}
		o := c.dial
		o.addr = addr
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], loginErrs[i], firstErrs[i] = dialMany(ctx, o, share, max(1, *conc/len(nodes)))
		}()
	}
	wg.Wait()
	loginTime := time.Since(start)
	ok, errs := 0, 0
	detail := map[string]any{"nodes": len(nodes), "login_s": loginTime.Seconds()}
	for i := range nodes {
		ok += len(clients[i]) - loginErrs[i]
		errs += loginErrs[i]
		detail[fmt.Sprintf("node%d_sessions", i+1)] = len(clients[i]) - loginErrs[i]
		if firstErrs[i] != "" {
			detail[fmt.Sprintf("node%d_first_error", i+1)] = firstErrs[i]
		}
	}
	detail["sessions"], detail["errors"] = ok, errs

	select {
	case <-time.After(*settle):
	case <-ctx.Done():
	}
	var pssGrowth int64
	for i, pid := range nodePids {
		after, _ := treePSS(pid)
		detail[fmt.Sprintf("node%d_pss_kib", i+1)] = after
		pssGrowth += after - pssBefore[i]
	}

	// Every session quits at once; each waits for its 221.
	start = time.Now()
	var quits sync.WaitGroup
	for _, list := range clients {
		for _, cl := range list {
			if cl != nil {
				quits.Add(1)
				go func() { defer quits.Done(); cl.quit() }()
			}
		}
	}
	quits.Wait()
	detail["quit_s"] = time.Since(start).Seconds()

	emit(record{Server: c.label, Metric: fmt.Sprintf("cluster_%d_login_s", *sessions), Better: "lower",
		Label: fmt.Sprintf("%d sessions over %d nodes: all logged in (s)", *sessions, len(nodes)),
		Value: loginTime.Seconds(), Unit: "s", Detail: detail})
	if len(nodePids) > 0 && ok > 0 {
		emit(record{Server: c.label, Metric: fmt.Sprintf("cluster_%d_kib", *sessions), Better: "lower",
			Label: fmt.Sprintf("memory per idle session, %d over %d nodes (PSS KiB)", *sessions, len(nodes)),
			Value: float64(pssGrowth) / float64(ok), Unit: "KiB", Detail: detail})
	}
	if errs > 0 {
		return fmt.Errorf("%d of %d sessions failed to log in", errs, *sessions)
	}
	return nil
}
