// Command crash kills a ferry server with SIGKILL again and again during
// concurrent uploads, overwrites, appends, resumes, renames and deletes,
// and checks after each restart, on the served directory itself, that
// every file the server acknowledged is there with its content and that
// nothing else is: no temporary file, no stray file.
//
//	go run ./bench/crash [-rounds 100] [-workers 8] [-ferry PATH] [-upload-mode atomic-resume]
//
// Each worker keeps a model of its directory: name → content of every
// file acknowledged (226, 250). The one operation a worker has in flight
// when the server dies may have happened or not; written in place (APPE
// and REST+STOR in atomic-resume mode, everything in direct mode) it may
// also have left a part of its data, which is checked byte for byte. The
// exit status is 1 when anything else is found; offending files are moved
// to evidence/ beside the root, which is then kept.
//
// A kill at a random time lands mostly in the middle of data transfers.
// -kill-at renameat (or linkat, fsync, ...) runs the server under strace,
// which kills it on entering the Nth call of one of those system calls,
// so that the instants between two steps on disk are tested every round.
// -seed repeats the operations and kill times; the interleaving of the
// workers, and so the exact state at the kill, still varies between runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
)

type config struct {
	rounds, workers int
	ferry           string   // ferry executable; built when empty
	serverEnv       []string // added to the server's environment
	dir             string   // where the temporary directory is made
	keep            bool     // keep the temporary directory
	uploadMode      ftpserver.UploadMode
	seed            uint64
	timeout         time.Duration // for the whole run
	killMin         time.Duration
	killMax         time.Duration
	maxSize         int64
	// killAt lists system calls (strace names) at one of which, chosen
	// at random each round, the server is killed on entry instead of at
	// a random time: it then dies in the narrow windows between two
	// steps on disk that a timer almost never hits.
	killAt string
	out    io.Writer
}

func main() {
	cfg := config{out: os.Stdout}
	flag.IntVar(&cfg.rounds, "rounds", 100, "kills")
	flag.IntVar(&cfg.workers, "workers", 8, "concurrent clients, one directory each")
	flag.StringVar(&cfg.ferry, "ferry", "", "ferry executable (default: go build ./cmd/ferry)")
	flag.StringVar(&cfg.dir, "dir", "", "directory for the served root, on the disk under test (default: $TMPDIR)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the served root and the server's log")
	mode := flag.String("upload-mode", "atomic-resume", `upload_mode of the server: "atomic-resume", "atomic" or "direct"`)
	flag.Uint64Var(&cfg.seed, "seed", 0, "seed of the operations and kill times (default: from the clock)")
	flag.DurationVar(&cfg.timeout, "timeout", 15*time.Minute, "stop after this long even if rounds remain")
	flag.DurationVar(&cfg.killMin, "kill-min", 200*time.Millisecond, "shortest time between a (re)start and the kill")
	flag.DurationVar(&cfg.killMax, "kill-max", 2*time.Second, "longest time between a (re)start and the kill")
	flag.Int64Var(&cfg.maxSize, "max-size", 8<<20, "largest file, in bytes")
	flag.StringVar(&cfg.killAt, "kill-at", "", "also kill the server on entering one of these system calls, such as \"linkat,renameat,fsync\" (runs it under strace; the timer stays as a fallback)")
	flag.Parse()
	var err error
	if cfg.uploadMode, err = ftpserver.ParseUploadMode(*mode); err != nil {
		fmt.Fprintln(os.Stderr, "crash:", err)
		os.Exit(2)
	}
	if cfg.rounds < 1 || cfg.workers < 1 || cfg.killMin < 0 || cfg.killMax < cfg.killMin || cfg.maxSize < 0 {
		fmt.Fprintln(os.Stderr, "crash: -rounds and -workers must be at least 1, 0 <= -kill-min <= -kill-max, -max-size >= 0")
		os.Exit(2)
	}
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, cfg)
	if sum != nil {
		sum.print(cfg.out)
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "crash:", err)
		os.Exit(1)
	case len(sum.violations) > 0:
		os.Exit(1)
	}
}

// run does the benchmark. It returns what it saw so far even with an
// error, which means the run could not go on (the server does not
// restart, a worker hangs), not that a violation was found.
func run(ctx context.Context, cfg config) (sum *summary, err error) {
	base, err := os.MkdirTemp(cfg.dir, "ferry-crash-")
	if err != nil {
		return nil, err
	}
	sum = &summary{cfg: cfg, base: base}
	defer func() {
		if err == nil && len(sum.violations) == 0 && !cfg.keep {
			os.RemoveAll(base)
			sum.base = ""
		}
	}()
	if isTmpfs(base) {
		fmt.Fprintf(cfg.out, "warning: %s is on tmpfs, not on a disk; choose another with -dir\n", base)
	}
	srv, err := setup(ctx, cfg, base)
	if err != nil {
		return sum, err
	}
	defer srv.log.Close()
	defer srv.stop()

	workers := make([]*worker, cfg.workers)
	defer func() {
		for _, w := range workers {
			if w != nil {
				for k, n := range w.acked {
					sum.acked[k] += n
				}
			}
		}
	}()
	for i := range workers {
		workers[i] = newWorker(i, cfg.seed, cfg.maxSize)
		if err := os.Mkdir(filepath.Join(base, "root", workers[i].dir), 0o755); err != nil {
			return sum, err
		}
	}
	if _, err := srv.start(ctx); err != nil {
		return sum, err
	}
	fmt.Fprintf(cfg.out, "crash: seed %d, %d workers, upload mode %s, ferry %s, root %s\n",
		cfg.seed, cfg.workers, cfg.uploadMode, srv.bin, filepath.Join(base, "root"))
	killRand := rand.New(rand.NewPCG(cfg.seed, 0))
	check := &checker{root: filepath.Join(base, "root"), evidence: filepath.Join(base, "evidence"), mode: cfg.uploadMode}
	end := time.Now().Add(cfg.timeout)
	for round := 1; round <= cfg.rounds; round++ {
		if time.Now().After(end) {
			sum.timedOut = true
			break
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		delay := cfg.killMin + time.Duration(killRand.Int64N(int64(cfg.killMax-cfg.killMin)+1))
		r, err := runRound(ctx, cfg, srv, workers, delay)
		if err != nil {
			return sum, fmt.Errorf("round %d: %w", round, err)
		}
		r.round = round
		check.round = round
		files, bytes, nviol := check.files, check.bytes, len(check.violations)
		for _, e := range r.opErrors {
			check.violate(violOpError, e.path, "%s", e.err)
		}
		// The server sweeps what a killed upload left in the background
		// after its start: give it sweepWait before a temporary file
		// counts as left behind.
		r.swept = waitNoTemps(check.root, sweepWait)
		if err := check.checkRoot(workers); err != nil {
			return sum, err
		}
		for _, w := range workers {
			if err := check.checkWorker(w); err != nil {
				return sum, err
			}
		}
		for _, v := range check.violations[nviol:] {
			fmt.Fprintln(cfg.out, "VIOLATION", v)
		}
		r.files, r.bytes = check.files-files, check.bytes-bytes
		r.violations = check.violations[nviol:]
		sum.add(r)
		sum.outcomes = check.outcomes
		fmt.Fprintln(cfg.out, r)
	}
	return sum, nil
}

// setup builds ferry if needed and writes the server's files.
func setup(ctx context.Context, cfg config, base string) (*server, error) {
	if err := os.Mkdir(filepath.Join(base, "root"), 0o755); err != nil {
		return nil, err
	}
	bin := cfg.ferry
	if bin == "" {
		bin = filepath.Join(base, "ferry")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ferry-ftp/ferry/cmd/ferry")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("building ferry: %w", err)
		}
	}
	password := filepath.Join(base, "password")
	secret := fmt.Sprintf("%016x", rand.Uint64())
	if err := os.WriteFile(password, []byte(secret+"\n"), 0o600); err != nil {
		return nil, err
	}
	// Passive ports from the kernel: a fixed range could collide with
	// other servers on the machine.
	conf := filepath.Join(base, "ferry.toml")
	text := fmt.Sprintf("upload_mode = %q\npassive_ports = \"\"\n", cfg.uploadMode)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(base, "ferry.log"))
	if err != nil {
		return nil, err
	}
	return &server{
		bin: bin, env: cfg.serverEnv, log: log, password: secret,
		killAt: cfg.killAt, killRand: rand.New(rand.NewPCG(cfg.seed, 1<<32)),
		args: []string{"serve", "--config", conf, "--root", filepath.Join(base, "root"),
			"--user", "u", "--password-file", password, "--write"},
	}, nil
}

// runRound lets the workers run until the kill, then restarts the server.
func runRound(ctx context.Context, cfg config, srv *server, workers []*worker, delay time.Duration) (roundResult, error) {
	var r roundResult
	clients := make([]*ftpclient.Client, len(workers))
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range workers {
		var err error
		clients[i], err = ftpclient.Dial(ctx, srv.addr(),
			ftpclient.WithLogin("u", srv.password),
			ftpclient.WithPoolSize(1), ftpclient.WithTimeout(30*time.Second))
		if err != nil {
			return r, fmt.Errorf("logging in after the restart: %w", err)
		}
	}
	workCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stats := make([]roundStats, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() { stats[i] = w.run(workCtx, clients[i], srv.done) })
	}
	select {
	case <-time.After(delay):
	case <-srv.done: // -kill-at: killed at a system call
		r.killedAtSyscall = true
	case <-ctx.Done():
	}
	if err := srv.kill(); err != nil {
		return r, err
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		cancel()
		return r, fmt.Errorf("workers still busy 2 minutes after the kill")
	}
	for _, st := range stats {
		r.acked += st.acked
		if st.inFlight {
			r.inFlight++
		}
		if st.failure != nil {
			r.opErrors = append(r.opErrors, opError{path: st.dir + "/" + st.failedOp.name, err: fmt.Sprintf("%s: %v", st.failedOp, st.failure)})
		}
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	var err error
	r.restart, err = srv.start(ctx)
	return r, err
}

// sweepWait is how long the restarted server has to sweep temporary
// files left by the kill.
const sweepWait = 10 * time.Second

// waitNoTemps waits until no temporary file is left under root, at most
// limit, and returns how long it waited (0: there was none).
func waitNoTemps(root string, limit time.Duration) time.Duration {
	start := time.Now()
	for {
		found := false
		filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
				found = true
				return filepath.SkipAll
			}
			return nil
		})
		waited := time.Since(start)
		if !found || waited > limit {
			return waited
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isTmpfs(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == 0x01021994
}
