package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// human writes a byte count as the dataset is described: "1 GiB".
func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func mbps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / d.Seconds() / 1e6
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// randomBuffer is incompressible content for the dataset and uploads.
func randomBuffer(n int, seed uint64) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1, 2, 3})
	b := make([]byte, n)
	r.Read(b)
	return b
}

// cmdMkdata writes the dataset every server serves, skipping what is
// already there with the right size.
func cmdMkdata(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mkdata", flag.ExitOnError)
	dir := fs.String("dir", "bench/out/data", "dataset directory")
	big := sizeFlag{1 << 30}
	mid := sizeFlag{8 << 20}
	fs.Var(&big, "big", "size of big.bin (RETR)")
	fs.Var(&mid, "mid", "size of mid.bin (many sessions at once)")
	small := fs.Int("small", 2000, "number of 4 KiB files in small/")
	list := fs.Int("list", 10000, "number of entries in list/")
	fs.Parse(args)

	for _, d := range []string{"", "small", "list", "upload"} {
		if err := os.MkdirAll(filepath.Join(*dir, d), 0o755); err != nil {
			return err
		}
	}
	buf := randomBuffer(1<<20, 1)
	writeFile := func(name string, size int64) error {
		if fi, err := os.Stat(name); err == nil && fi.Size() == size {
			return nil
		}
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		for left := size; left > 0; {
			chunk := buf[:min(int64(len(buf)), left)]
			if _, err := f.Write(chunk); err != nil {
				f.Close()
				return err
			}
			left -= int64(len(chunk))
			// Vary the content so no two MiB are the same.
			buf[left%int64(len(buf))]++
		}
		return f.Close()
	}
	if err := writeFile(filepath.Join(*dir, "big.bin"), big.n); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(*dir, "mid.bin"), mid.n); err != nil {
		return err
	}
	for i := 0; i < *small; i++ {
		if err := writeFile(filepath.Join(*dir, "small", fmt.Sprintf("f%05d", i)), 4096); err != nil {
			return err
		}
	}
	for i := 0; i < *list; i++ {
		name := filepath.Join(*dir, "list", fmt.Sprintf("entry-%05d.dat", i))
		if err := writeFile(name, int64(i%7)*100); err != nil {
			return err
		}
	}
	return nil
}

// cmdRaw measures the ceiling: sendfile(2) of the file into a TCP
// socket that a reader drains with 1 MiB reads, no FTP involved. By
// default both ends are in this process, on loopback; with -serve this
// process only sends (to each connection, until stopped), with -connect
// it only reads, so the two ends can sit in different network namespaces
// (bench/run --net veth).
func cmdRaw(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("raw", flag.ExitOnError)
	file := fs.String("file", "bench/out/data/big.bin", "file to send")
	runs := fs.Int("runs", 3, "runs; the best is kept")
	mode := fs.String("mode", "sendfile", "how the sender writes: sendfile, or write from a 1 MiB buffer (read(2) from the file)")
	listen := fs.String("listen", "127.0.0.1:0", "sender's address")
	serve := fs.Bool("serve", false, "only send: serve -file to every connection until SIGINT/SIGTERM")
	connect := fs.String("connect", "", "only read: from a -serve sender at this address (-file is then only its name in the record)")
	label := fs.String("label", "loopback", "the records' server: the link measured")
	fs.Parse(args)
	sendTo := func(c net.Conn) error {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		if *mode == "write" {
			_, err = io.CopyBuffer(writerOnly{c}, readerOnly{f}, make([]byte, readSize))
		} else {
			_, err = c.(*net.TCPConn).ReadFrom(f) // sendfile
		}
		return err
	}
	if *serve {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		context.AfterFunc(ctx, func() { ln.Close() })
		for {
			c, err := ln.Accept()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if err := sendTo(c); err != nil {
				fmt.Fprintf(os.Stderr, "loadgen raw: %v\n", err)
			}
			c.Close()
		}
	}
	var size int64 = -1
	addr := *connect
	if addr == "" {
		fi, err := os.Stat(*file)
		if err != nil {
			return err
		}
		size = fi.Size()
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		defer ln.Close()
		addr = ln.Addr().String()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				sendTo(c)
				c.Close()
			}
		}()
	}
	buf := make([]byte, readSize)
	var best time.Duration
	var all []float64
	for i := 0; i < *runs; i++ {
		start := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		var total int64
		for {
			n, err := c.Read(buf)
			total += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		d := time.Since(start)
		c.Close()
		if size < 0 {
			size = total // the first run's length is the file's
		}
		if total != size || total == 0 {
			return fmt.Errorf("read %d bytes, want %d", total, size)
		}
		all = append(all, ms(d))
		if best == 0 || d < best {
			best = d
		}
	}
	metric, how := "raw_mbps", "sendfile"
	if *mode == "write" {
		metric, how = "raw_write_mbps", "read+write with a 1 MiB buffer"
	}
	emit(record{Server: *label, Metric: metric, Better: "higher",
		Label: fmt.Sprintf("raw TCP, %s of %s into a 1 MiB reader (MB/s)", how, human(size)),
		Value: mbps(size, best), Unit: "MB/s",
		Detail: map[string]any{"best_ms": ms(best), "runs_ms": all}})
	return nil
}

// writerOnly and readerOnly hide ReaderFrom/WriterTo, so io.CopyBuffer
// really copies through the buffer given.
type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

// cmdRetr downloads one file -runs times over one session and keeps the
// best time.
func cmdRetr(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("retr", flag.ExitOnError)
	var c common
	c.register(fs)
	file := fs.String("file", "big.bin", "remote file")
	runs := fs.Int("runs", 3, "runs; the best is kept")
	fs.Parse(args)
	cl, err := dial(ctx, c.dial)
	if err != nil {
		return err
	}
	defer cl.quit()
	msg, err := cl.cmd(2, "SIZE "+*file)
	if err != nil {
		return err
	}
	want, err := strconv.ParseInt(msg, 10, 64)
	if err != nil {
		return fmt.Errorf("SIZE: %q", msg)
	}
	buf := make([]byte, readSize)
	var best time.Duration
	var all []float64
	cpu := c.startCPU()
	for i := 0; i < *runs; i++ {
		start := time.Now()
		n, err := cl.transferIn("RETR "+*file, buf, nil)
		d := time.Since(start)
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("RETR read %d bytes, want %d", n, want)
		}
		all = append(all, ms(d))
		if best == 0 || d < best {
			best = d
		}
	}
	metric, label := "retr_ms", fmt.Sprintf("RETR %s, best of %d (ms)", human(want), *runs)
	if c.dial.tls {
		metric, label = "retr_tls_ms", fmt.Sprintf("RETR %s over TLS (PROT P), best of %d (ms)", human(want), *runs)
	}
	detail := map[string]any{"mbps": mbps(want, best), "runs_ms": all, "bytes": want}
	cpu.stop(detail)
	if cl.tlsInfo != "" {
		detail["tls"] = cl.tlsInfo
	}
	emit(record{Server: c.label, Metric: metric, Label: label, Better: "lower",
		Value: ms(best), Unit: "ms", Detail: detail})
	return nil
}

// cmdStor uploads -size bytes. The server's 226 ends the first clock;
// the second also includes an fsync of the stored file by this client,
// so servers that do not sync before 226 (ferry does) are measured to
// the same durability. With -fsync-path the file is removed after each
// run.
func cmdStor(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stor", flag.ExitOnError)
	var c common
	c.register(fs)
	size := sizeFlag{1 << 30}
	fs.Var(&size, "size", "bytes to upload")
	name := fs.String("name", "upload/big.bin", "remote name")
	fsyncPath := fs.String("fsync-path", "", "host path of the stored file, fsynced after 226")
	runs := fs.Int("runs", 1, "runs; the best is kept")
	peak := fs.Bool("peak-rss", false, "also report the server's peak RSS during the uploads (needs -pid)")
	fs.Parse(args)
	if *peak && c.pid == 0 {
		return errors.New("-peak-rss needs -pid")
	}
	cl, err := dial(ctx, c.dial)
	if err != nil {
		return err
	}
	defer cl.quit()
	buf := randomBuffer(readSize, 2)
	var best226, bestDurable time.Duration
	var all226, allDurable []float64
	var peakKiB, baseKiB int64
	var cpuBest map[string]any
	for i := 0; i < *runs; i++ {
		syscall.Sync() // start each run with no dirty pages of earlier ones
		if *peak {
			if err := resetPeakRSS(c.pid); err != nil {
				return err
			}
			if rss, err := rssKiB(c.pid); err == nil && (baseKiB == 0 || rss < baseKiB) {
				baseKiB = rss
			}
		}
		cpu := c.startCPU()
		start := time.Now()
		if err := cl.store(*name, size.n, buf); err != nil {
			return err
		}
		d226 := time.Since(start)
		cpuRun := map[string]any{}
		cpu.stop(cpuRun)
		if *peak {
			hwm, err := peakRSS(c.pid)
			if err != nil {
				return err
			}
			peakKiB = max(peakKiB, hwm)
		}
		if best226 == 0 || d226 < best226 {
			cpuBest = cpuRun
		}
		if *fsyncPath != "" {
			f, err := os.OpenFile(*fsyncPath, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			fi, _ := f.Stat()
			f.Close()
			if fi.Size() != size.n {
				return fmt.Errorf("stored %d bytes, want %d", fi.Size(), size.n)
			}
		}
		dDurable := time.Since(start)
		if *fsyncPath != "" {
			// Free the file's pages before the next run: a run that must
			// take never-used memory from the VM's host is much slower
			// than one reusing freed pages (see bench/RESULTS.md).
			os.Remove(*fsyncPath)
		}
		all226, allDurable = append(all226, ms(d226)), append(allDurable, ms(dDurable))
		if best226 == 0 || d226 < best226 {
			best226 = d226
		}
		if bestDurable == 0 || dDurable < bestDurable {
			bestDurable = dDurable
		}
	}
	metric, what := "stor", fmt.Sprintf("STOR %s", human(size.n))
	if c.dial.tls {
		metric, what = "stor_tls", fmt.Sprintf("STOR %s over TLS (PROT P)", human(size.n))
	}
	detail := map[string]any{"ms": ms(best226), "runs_ms": all226}
	for k, v := range cpuBest { // of the best run
		detail[k] = v
	}
	if cl.tlsInfo != "" {
		detail["tls"] = cl.tlsInfo
	}
	emit(record{Server: c.label, Metric: metric + "_mbps", Better: "higher",
		Label: fmt.Sprintf("%s, to the 226 reply, best of %d (MB/s)", what, *runs),
		Value: mbps(size.n, best226), Unit: "MB/s", Detail: detail})
	if *peak {
		emit(record{Server: c.label, Metric: metric + "_peak_rss_mib", Better: "lower",
			Label: fmt.Sprintf("%s: the server's peak RSS (VmHWM, reset before each of %d runs; MiB)", what, *runs),
			Value: float64(peakKiB) / 1024, Unit: "MiB",
			Detail: map[string]any{"rss_before_mib": float64(baseKiB) / 1024}})
	}
	if *fsyncPath != "" {
		emit(record{Server: c.label, Metric: metric + "_durable_mbps", Better: "higher",
			Label: fmt.Sprintf("%s, to the 226 reply + fsync of the file, best of %d (MB/s, fsync on)", what, *runs),
			Value: mbps(size.n, bestDurable), Unit: "MB/s", Detail: map[string]any{"ms": ms(bestDurable), "runs_ms": allDurable}})
	}
	return nil
}

// cmdSmallFiles has -sessions sessions download 4 KiB files in a loop,
// one data connection each, for -duration.
func cmdSmallFiles(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("smallfiles", flag.ExitOnError)
	var c common
	c.register(fs)
	sessions := fs.Int("sessions", 8, "concurrent sessions")
	duration := fs.Duration("duration", 10*time.Second, "how long to run")
	dir := fs.String("dir", "small", "remote directory of fNNNNN files")
	count := fs.Int("count", 2000, "number of files in -dir")
	fs.Parse(args)

	clients := make([]*client, *sessions)
	for i := range clients {
		cl, err := dial(ctx, c.dial)
		if err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		clients[i] = cl
	}
	var files, bytes, errs atomic.Int64
	var firstErr atomic.Value
	cpu := c.startCPU()
	start := time.Now()
	deadline := start.Add(*duration)
	var wg sync.WaitGroup
	for w, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, readSize)
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				if cl == nil {
					var err error
					if cl, err = dial(ctx, c.dial); err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						time.Sleep(10 * time.Millisecond)
						continue
					}
				}
				name := fmt.Sprintf("%s/f%05d", *dir, (w*997+i)%*count)
				n, err := cl.transferIn("RETR "+name, buf, nil)
				if err == nil && n != 4096 {
					err = fmt.Errorf("%s: %d bytes", name, n)
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					cl.conn.Close()
					cl = nil
					continue
				}
				files.Add(1)
				bytes.Add(n)
			}
			if cl != nil {
				cl.quit()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	detail := map[string]any{"files": files.Load(), "errors": errs.Load(), "seconds": elapsed.Seconds()}
	cpu.stop(detail)
	if s, ok := detail["server_cpu_s"].(float64); ok && files.Load() > 0 {
		detail["server_cpu_us_per_file"] = s / float64(files.Load()) * 1e6
	}
	if e := firstErr.Load(); e != nil {
		detail["first_error"] = e
	}
	emit(record{Server: c.label, Metric: fmt.Sprintf("smallfiles_%d", *sessions), Better: "higher",
		Label: fmt.Sprintf("4 KiB RETR, files/s with %d sessions", *sessions),
		Value: float64(files.Load()) / elapsed.Seconds(), Unit: "files/s", Detail: detail})
	return nil
}

// cmdList times LIST or MLSD of one directory and counts its lines.
func cmdList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("list", flag.ExitOnError)
	var c common
	c.register(fs)
	verb := fs.String("cmd", "LIST", "LIST or MLSD")
	dir := fs.String("dir", "list", "remote directory")
	runs := fs.Int("runs", 3, "runs; the best is kept")
	fs.Parse(args)
	cl, err := dial(ctx, c.dial)
	if err != nil {
		return err
	}
	defer cl.quit()
	buf := make([]byte, readSize)
	var best time.Duration
	var lines int
	var all []float64
	metric := "list_ms"
	if *verb == "MLSD" {
		metric = "mlsd_ms"
	}
	cpu := c.startCPU()
	for i := 0; i < *runs; i++ {
		n := 0
		start := time.Now()
		_, err := cl.transferIn(*verb+" "+*dir, buf, func(b []byte) { n += bytes.Count(b, []byte{'\n'}) })
		d := time.Since(start)
		var er *errReply
		if errors.As(err, &er) && er.code >= 500 {
			emit(record{Server: c.label, Metric: metric, Label: fmt.Sprintf("%s of the list directory (ms)", *verb),
				Better: "lower", Unit: "ms", Detail: map[string]any{"error": fmt.Sprintf("%d %s", er.code, er.msg)}})
			return nil
		}
		if err != nil {
			return err
		}
		all = append(all, ms(d))
		lines = n
		if best == 0 || d < best {
			best = d
		}
	}
	detail := map[string]any{"lines": lines, "runs_ms": all}
	cpu.stop(detail)
	emit(record{Server: c.label, Metric: metric, Better: "lower",
		Label: fmt.Sprintf("%s of a directory of %d entries, best of %d (ms)", *verb, lines, *runs),
		Value: ms(best), Unit: "ms", Detail: detail})
	return nil
}

// dialMany logs in n sessions, conc at a time; failed ones are nil.
func dialMany(ctx context.Context, o dialOptions, n, conc int) ([]*client, int, string) {
	clients := make([]*client, n)
	errs, first := inParallel(ctx, n, conc, func(i int) (err error) {
		clients[i], err = dial(ctx, o)
		return err
	})
	return clients, errs, first
}

// inParallel calls do for 0..n-1, conc calls at once, until ctx ends; it
// returns how many failed and the first error's text.
func inParallel(ctx context.Context, n, conc int, do func(i int) error) (int, string) {
	var next atomic.Int64
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := do(i); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	first, _ := firstErr.Load().(string)
	return int(errs.Load()), first
}

func closeAll(clients []*client) {
	for _, cl := range clients {
		if cl != nil {
			cl.conn.Close()
		}
	}
}

// cmdIdle opens -sessions logged-in sessions and measures the growth of
// the server's memory (PSS of the process tree of -pid) they cost.
func cmdIdle(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	var c common
	c.register(fs)
	sessions := fs.Int("sessions", 1000, "sessions to open and hold")
	conc := fs.Int("concurrency", 32, "logins in flight at once")
	settle := fs.Duration("settle", 3*time.Second, "wait after the last login before measuring")
	hold := fs.Bool("hold", false, "after measuring, hold the sessions until SIGINT/SIGTERM")
	fs.Parse(args)

	pid := &c.pid
	var before int64
	var procsBefore int
	if *pid > 0 {
		before, procsBefore = treePSS(*pid)
	}
	start := time.Now()
	clients, errs, firstErr := dialMany(ctx, c.dial, *sessions, *conc)
	loginTime := time.Since(start)
	defer closeAll(clients)
	ok := *sessions - errs
	time.Sleep(*settle)
	detail := map[string]any{"sessions": ok, "errors": errs, "login_s": loginTime.Seconds()}
	if firstErr != "" {
		detail["first_error"] = firstErr
	}
	if *pid > 0 && ok > 0 {
		after, procsAfter := treePSS(*pid)
		detail["pss_before_kib"], detail["pss_after_kib"] = before, after
		detail["procs_before"], detail["procs_after"] = procsBefore, procsAfter
		emit(record{Server: c.label, Metric: fmt.Sprintf("idle_%d_kib", *sessions), Better: "lower",
			Label: fmt.Sprintf("memory per idle logged-in session, %d sessions (PSS KiB)", *sessions),
			Value: float64(after-before) / float64(ok), Unit: "KiB", Detail: detail})
	} else {
		emit(record{Server: c.label, Metric: fmt.Sprintf("idle_%d_sessions", *sessions), Better: "higher",
			Label: fmt.Sprintf("idle sessions logged in of %d", *sessions), Value: float64(ok), Detail: detail})
	}
	if *hold {
		fmt.Fprintf(os.Stderr, "loadgen idle: %d sessions ready; holding until SIGINT/SIGTERM\n", ok)
		<-ctx.Done()
	}
	return nil
}

// cmdMany logs in -sessions sessions, then has all of them download -file
// at the same moment.
func cmdMany(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("many", flag.ExitOnError)
	var c common
	c.register(fs)
	sessions := fs.Int("sessions", 1000, "sessions transferring at once")
	conc := fs.Int("concurrency", 32, "logins in flight at once")
	file := fs.String("file", "mid.bin", "remote file each session downloads")
	probeFile := fs.String("abort-probe", "", "instead of the many_* records: while the sessions download, one more session starts RETR of this (large) file and aborts it again and again; ABOR to 426 is reported")
	probeAfter := fs.Duration("probe-after", 50*time.Millisecond, "how long each probe transfer runs before its ABOR")
	fs.Parse(args)

	clients, loginErrs, firstErr := dialMany(ctx, c.dial, *sessions, *conc)
	defer closeAll(clients)
	var probe *client
	if *probeFile != "" {
		var err error
		if probe, err = dial(ctx, c.dial); err != nil {
			return fmt.Errorf("probe session: %w", err)
		}
		defer probe.conn.Close()
	}
	// Sessions between their first byte and their last, for the probe.
	var running atomic.Int64
	var want int64 = -1
	for _, cl := range clients {
		if cl != nil {
			msg, err := cl.cmd(2, "SIZE "+*file)
			if err != nil {
				return err
			}
			if want, err = strconv.ParseInt(msg, 10, 64); err != nil {
				return fmt.Errorf("SIZE: %q", msg)
			}
			break
		}
	}
	// Each session's time from the common start to its last byte, for
	// the fairness of the share each got.
	took := make([]time.Duration, len(clients))
	// And its time to its first byte: how far the sessions' starts spread.
	first := make([]time.Duration, len(clients))
	var samples []abortSample
	var probeErr error
	var during func()
	if probe != nil {
		during = func() { samples, probeErr = abortProbe(probe, *probeFile, *probeAfter, &running) }
	}
	cpu := c.startCPU()
	res := atOnce(clients, func(i int, cl *client, start time.Time) (int64, error) {
		buf := make([]byte, readSize)
		n, err := cl.transferIn("RETR "+*file, buf, func([]byte) {
			if first[i] == 0 {
				first[i] = time.Since(start)
				running.Add(1)
			}
		})
		if first[i] != 0 {
			running.Add(-1)
		}
		if err == nil && n != want {
			err = fmt.Errorf("%d bytes, want %d", n, want)
		}
		if err == nil {
			took[i] = time.Since(start)
		}
		return n, err
	}, during)
	if probe != nil {
		if probeErr != nil {
			return probeErr
		}
		emitAbort(c.label, *sessions, samples)
		return nil
	}
	wall := res.wall
	errs := int64(loginErrs) + res.errs
	detail := res.detail(loginErrs, firstErr)
	detail["file_size"] = want
	cpu.stop(detail)
	emit(record{Server: c.label, Metric: fmt.Sprintf("many_%d_errors", *sessions), Better: "lower",
		Label: fmt.Sprintf("%d sessions RETR %s at once: errors", *sessions, human(want)),
		Value: float64(errs), Detail: detail})
	emit(record{Server: c.label, Metric: fmt.Sprintf("many_%d_mbps", *sessions), Better: "higher",
		Label: fmt.Sprintf("%d sessions RETR %s at once: aggregate MB/s", *sessions, human(want)),
		Value: mbps(res.total, wall), Unit: "MB/s"})
	if f, d := fairness(took); d != nil {
		first = slices.DeleteFunc(first, func(d time.Duration) bool { return d == 0 })
		if slices.Sort(first); len(first) > 0 {
			last := first[len(first)-1]
			d["first_byte_median_ms"] = ms(first[len(first)/2])
			d["first_byte_slowest_ms"] = ms(last)
			early := 0
			for _, t := range took {
				if t > 0 && t < last {
					early++
				}
			}
			d["done_before_last_start"] = early
		}
		emit(record{Server: c.label, Metric: fmt.Sprintf("many_%d_fairness", *sessions), Better: "higher",
			Label: fmt.Sprintf("%d sessions RETR %s at once: fairness (Jain's index of per-session rates, 1 = equal)", *sessions, human(want)),
			Value: f, Detail: d})
	}
	return nil
}

// atOnceResult is what atOnce saw of the transfers.
type atOnceResult struct {
	total, errs int64 // bytes of the transfers that succeeded; failures
	firstErr    string
	wall        time.Duration
}

// atOnce runs each for every logged-in client (nil ones are those whose
// login failed), all released at the same moment, start; during, if set,
// runs meanwhile. It returns when every transfer and during have ended.
func atOnce(clients []*client, each func(i int, cl *client, start time.Time) (int64, error), during func()) atOnceResult {
	var total, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	gate := make(chan struct{})
	var start time.Time
	for i, cl := range clients {
		if cl == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			n, err := each(i, cl, start)
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			total.Add(n)
		}()
	}
	start = time.Now()
	close(gate)
	if during != nil {
		during()
	}
	wg.Wait()
	res := atOnceResult{total: total.Load(), errs: errs.Load(), wall: time.Since(start)}
	res.firstErr, _ = firstErr.Load().(string)
	return res
}

// detail is the record detail of the transfers and of the logins before.
func (r atOnceResult) detail(loginErrs int, firstLoginErr string) map[string]any {
	d := map[string]any{"login_errors": loginErrs, "transfer_errors": r.errs,
		"bytes": r.total, "wall_ms": ms(r.wall)}
	if firstLoginErr != "" {
		d["first_login_error"] = firstLoginErr
	}
	if r.firstErr != "" {
		d["first_transfer_error"] = r.firstErr
	}
	return d
}

// fairness is Jain's index over the sessions' rates (size/time, the size
// being the same for all): (sum x)^2 / (n * sum x^2), 1 when every session
// got the same share, 1/n when one got everything. The detail gives the
// fastest, median and slowest session's time. Failed sessions (zero) are
// left out; they are counted as errors.
func fairness(took []time.Duration) (float64, map[string]any) {
	var ds []time.Duration
	for _, d := range took {
		if d > 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return 0, nil
	}
	slices.Sort(ds)
	var sum, sumSq float64
	for _, d := range ds {
		x := 1 / d.Seconds()
		sum += x
		sumSq += x * x
	}
	return sum * sum / (float64(len(ds)) * sumSq), map[string]any{
		"sessions": len(ds), "fastest_ms": ms(ds[0]), "p1_ms": ms(ds[len(ds)/100]), "p10_ms": ms(ds[len(ds)/10]), "median_ms": ms(ds[len(ds)/2]), "slowest_ms": ms(ds[len(ds)-1]),
	}
}

// abortSample is one ABOR of the probe: how many other sessions were
// downloading when it was sent, and how long the server took to answer
// it with the transfer's 426 (and then 226).
type abortSample struct {
	running      int64
	to426, to2xx time.Duration
	codes        string
}

// abortProbe runs RETR of file on cl, lets it move data for after (from
// its first byte), sends ABOR (in band, as curl and lftp do, while
// still reading the data connection, as RFC 959 expects of a client) and
// times the replies; again and again while other sessions are running.
func abortProbe(cl *client, file string, after time.Duration, running *atomic.Int64) ([]abortSample, error) {
	var samples []abortSample
	// Wait for the load to be under way: the first sessions' bytes.
	for deadline := time.Now().Add(cl.opts.timeout); running.Load() == 0; {
		if time.Now().After(deadline) {
			return nil, errors.New("abort probe: no session started downloading")
		}
		time.Sleep(time.Millisecond)
	}
	for running.Load() > 0 {
		data, err := cl.passive()
		if err != nil {
			return samples, fmt.Errorf("abort probe: %w", err)
		}
		if _, err := cl.cmd(1, "RETR "+file); err != nil {
			data.Close()
			return samples, fmt.Errorf("abort probe: %w", err)
		}
		began := time.Now()
		moved := make(chan struct{})
		drained := make(chan int64, 1)
		go func() {
			buf := make([]byte, readSize)
			var n int64
			signalled := false
			for {
				data.SetReadDeadline(time.Now().Add(cl.opts.timeout))
				k, err := data.Read(buf)
				n += int64(k)
				if !signalled && n > 0 {
					close(moved)
					signalled = true
				}
				if err != nil {
					break
				}
			}
			if !signalled {
				close(moved)
			}
			drained <- n
		}()
		<-moved
		if d := after - time.Since(began); d > 0 {
			time.Sleep(d)
		}
		sample := abortSample{running: running.Load()}
		sent := time.Now()
		code1, msg1, err := cl.do("ABOR")
		if err != nil {
			data.Close()
			return samples, fmt.Errorf("abort probe: ABOR: %w", err)
		}
		sample.to426 = time.Since(sent)
		sample.codes = strconv.Itoa(code1)
		if code1 == 426 || code1 == 451 {
			// The transfer's reply came first; ABOR's own follows.
			code2, _, err := cl.read()
			if err != nil {
				data.Close()
				return samples, fmt.Errorf("abort probe: ABOR's second reply: %w", err)
			}
			sample.codes += "," + strconv.Itoa(code2)
		} else if code1/100 != 2 {
			data.Close()
			return samples, fmt.Errorf("abort probe: ABOR: %d %s", code1, msg1)
		}
		sample.to2xx = time.Since(sent)
		data.Close()
		<-drained
		samples = append(samples, sample)
	}
	return samples, nil
}

// emitAbort reports the probe's ABOR-to-426 times taken while the server
// was loaded: at least a tenth of the sessions downloading. The samples
// taken as the last sessions finish are summarised apart; they say little
// about a busy server.
func emitAbort(label string, sessions int, samples []abortSample) {
	loadedAt := max(1, int64(sessions/10))
	var loaded, light []time.Duration
	var kept []map[string]any
	for _, s := range samples {
		if s.running < loadedAt {
			if s.running > 0 {
				light = append(light, s.to426)
			}
			continue
		}
		loaded = append(loaded, s.to426)
		kept = append(kept, map[string]any{"running": s.running, "to_426_ms": ms(s.to426), "to_final_ms": ms(s.to2xx), "codes": s.codes})
	}
	detail := map[string]any{"samples": kept, "loaded_at": loadedAt}
	if len(light) > 0 {
		slices.Sort(light)
		detail["light_aborts"] = len(light)
		detail["light_median_ms"] = ms(light[len(light)/2])
		detail["light_max_ms"] = ms(light[len(light)-1])
	}
	metric := fmt.Sprintf("many_%d_abort_ms", sessions)
	label2 := fmt.Sprintf("ABOR to 426 while %d sessions download, >= %d of them running (median ms)", sessions, loadedAt)
	if len(loaded) == 0 {
		detail["error"] = "no ABOR while the server was loaded"
		emit(record{Server: label, Metric: metric, Better: "lower", Label: label2, Unit: "ms", Detail: detail})
		return
	}
	slices.Sort(loaded)
	detail["aborts"] = len(loaded)
	detail["max_ms"] = ms(loaded[len(loaded)-1])
	emit(record{Server: label, Metric: metric, Better: "lower", Label: label2,
		Value: ms(loaded[len(loaded)/2]), Unit: "ms", Detail: detail})
}
