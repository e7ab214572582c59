package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// bench/sftp's subcommands:
//
//	loadgen sftpxfer -targets ferry=PORT:PID,openssh=PORT:PID -key K -known-hosts F -home DIR -work DIR
//	loadgen sftpidle -addr A -pid PID -sessions 200 -key K -known-hosts F
func init() {
	subcommands["sftpxfer"] = cmdSFTPXfer
	subcommands["sftpidle"] = cmdSFTPIdle
}

// sftpTarget is one SFTP server of bench/sftp: NAME=PORT:PID.
type sftpTarget struct {
	name string
	port int
	pid  int
}

func parseSFTPTargets(s string) ([]sftpTarget, error) {
	var ts []sftpTarget
	for _, item := range strings.Split(s, ",") {
		name, rest, ok1 := strings.Cut(item, "=")
		port, pid, ok2 := strings.Cut(rest, ":")
		p, err1 := strconv.Atoi(port)
		q, err2 := strconv.Atoi(pid)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || name == "" {
			return nil, fmt.Errorf("-targets: want NAME=PORT:PID[,...], not %q", item)
		}
		ts = append(ts, sftpTarget{name, p, q})
	}
	return ts, nil
}

// cmdSFTPXfer times OpenSSH's sftp client in batch mode (its default
// transfer options) downloading and uploading one file from each server
// of -targets, -rounds rounds, the servers' order rotating from round to
// round, and records each server's median. The first round checks the
// bytes (size and SHA-256) both ways. Uploads are also timed to an fsync
// of the stored file by this program, so that a server that syncs before
// answering the close (ferry does) and one that does not (sftp-server)
// are compared at the same durability as well.
func cmdSFTPXfer(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("sftpxfer", flag.ExitOnError)
	targetList := fl.String("targets", "", "servers, NAME=PORT:PID[,...]; PID's process tree is the server's CPU")
	host := fl.String("host", "127.0.0.1", "servers' address")
	user := fl.String("user", "ferrybench", "login")
	key := fl.String("key", "", "private key file")
	knownHosts := fl.String("known-hosts", "", "known_hosts file holding the servers' host keys")
	home := fl.String("home", "", "host directory that is the login's home on every server")
	file := fl.String("file", "big.bin", "file under -home to download, and the upload's source")
	work := fl.String("work", "", "host directory for the downloaded copies (same disk as -home)")
	rounds := fl.Int("rounds", 3, "rounds; the median is recorded")
	sftpBin := fl.String("sftp", "sftp", "OpenSSH's sftp client")
	sftpArgs := fl.String("sftp-args", "", "more options for every sftp run, space-separated (such as \"-c aes128-gcm@openssh.com\")")
	fl.Parse(args)
	targets, err := parseSFTPTargets(*targetList)
	if err != nil {
		return err
	}
	if *key == "" || *knownHosts == "" || *home == "" || *work == "" {
		return errors.New("want -key, -known-hosts, -home and -work")
	}
	src := filepath.Join(*home, *file)
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	size := fi.Size()
	want, err := fileSHA256(src)
	if err != nil {
		return err
	}
	sftpArgv := func(t sftpTarget, extra ...string) []string {
		argv := []string{"-b", "-", "-P", strconv.Itoa(t.port), "-i", *key,
			"-o", "UserKnownHostsFile=" + *knownHosts, "-o", "StrictHostKeyChecking=yes",
			"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"}
		argv = append(append(argv, extra...), strings.Fields(*sftpArgs)...)
		return append(argv, *user+"@"+*host)
	}
	// What the client negotiates with each server (sftp -v names the
	// cipher and MAC each way), for the records: servers may offer
	// different lists.
	ciphers := map[string]string{}
	for _, t := range targets {
		out, err := exec.CommandContext(ctx, *sftpBin, sftpArgv(t, "-v")...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: sftp -v: %v: %s", t.name, err, out)
		}
		m := kexCipher.FindSubmatch(out)
		if m == nil {
			return fmt.Errorf("%s: sftp -v names no cipher:\n%s", t.name, out)
		}
		ciphers[t.name] = string(m[1]) + " " + string(m[2])
		fmt.Fprintf(os.Stderr, "%s: cipher and MAC %s\n", t.name, ciphers[t.name])
	}
	run := func(t sftpTarget, batch string) (time.Duration, map[string]any, error) {
		argv := sftpArgv(t)
		cmd := exec.CommandContext(ctx, *sftpBin, argv...)
		cmd.Stdin = strings.NewReader(batch)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		syscall.Sync() // no dirty pages of an earlier step in this one
		cpu := startCPU(0)
		server := sampleTreeCPU(t.pid)
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			server.stop()
			return 0, nil, fmt.Errorf("%s: sftp %q: %v: %s", t.name, batch, err, strings.TrimSpace(out.String()))
		}
		// Until OpenSSH's per-connection processes are gone.
		settleTree(t.pid, 10*time.Second)
		detail := map[string]any{"server_cpu_s": server.stop()}
		cpu.stop(detail)
		delete(detail, "client_cpu_s") // this process only waited
		st := cmd.ProcessState
		detail["sftp_cpu_s"] = (st.UserTime() + st.SystemTime()).Seconds()
		return d, detail, nil
	}
	type series struct {
		mbps, cpu []float64
	}
	get := map[string]*series{}
	put := map[string]*series{}
	putDurable := map[string]*series{}
	for _, t := range targets {
		get[t.name], put[t.name], putDurable[t.name] = &series{}, &series{}, &series{}
	}
	for round := 0; round < *rounds; round++ {
		k := round % len(targets)
		order := append(slices.Clone(targets[k:]), targets[:k]...)
		for _, t := range order {
			dst := filepath.Join(*work, "get-"+t.name+".bin")
			d, detail, err := run(t, fmt.Sprintf("get %s %s\n", sftpQuote(*file), sftpQuote(dst)))
			if err != nil {
				return err
			}
			if round == 0 {
				if err := sameFile(dst, size, want); err != nil {
					return fmt.Errorf("%s: download: %w", t.name, err)
				}
			}
			os.Remove(dst)
			s := get[t.name]
			s.mbps = append(s.mbps, mbps(size, d))
			s.cpu = append(s.cpu, detail["server_cpu_s"].(float64))
			fmt.Fprintf(os.Stderr, "round %d %s get: %.0f MB/s, server %.2f s CPU, sftp %.2f s CPU\n",
				round+1, t.name, mbps(size, d), detail["server_cpu_s"], detail["sftp_cpu_s"])
		}
		for _, t := range order {
			name := "upload/sftp-" + t.name + ".bin"
			stored := filepath.Join(*home, name)
			start := time.Now()
			d, detail, err := run(t, fmt.Sprintf("put %s %s\n", sftpQuote(src), sftpQuote(name)))
			if err != nil {
				return err
			}
			f, err := os.OpenFile(stored, os.O_RDWR, 0)
			if err != nil {
				return fmt.Errorf("%s: upload: %w", t.name, err)
			}
			err = f.Sync()
			f.Close()
			durable := time.Since(start)
			if err != nil {
				return err
			}
			if round == 0 {
				if err := sameFile(stored, size, want); err != nil {
					return fmt.Errorf("%s: upload: %w", t.name, err)
				}
			}
			os.Remove(stored)
			s := put[t.name]
			s.mbps = append(s.mbps, mbps(size, d))
			s.cpu = append(s.cpu, detail["server_cpu_s"].(float64))
			putDurable[t.name].mbps = append(putDurable[t.name].mbps, mbps(size, durable))
			fmt.Fprintf(os.Stderr, "round %d %s put: %.0f MB/s (%.0f with fsync), server %.2f s CPU, sftp %.2f s CPU\n",
				round+1, t.name, mbps(size, d), mbps(size, durable), detail["server_cpu_s"], detail["sftp_cpu_s"])
		}
	}
	what := human(size)
	emitMedian := func(server, metric, label, better, unit string, values []float64) {
		emit(record{Server: server, Metric: metric, Label: label, Better: better, Value: median(values),
			Unit: unit, Detail: map[string]any{"rounds": values, "cipher": ciphers[server]}})
	}
	for _, t := range targets {
		emitMedian(t.name, "sftp_get_mbps", fmt.Sprintf("SFTP download of %s, OpenSSH sftp, median of %d (MB/s)", what, *rounds), "higher", "MB/s", get[t.name].mbps)
		emitMedian(t.name, "sftp_put_mbps", fmt.Sprintf("SFTP upload of %s, to the close's reply, median of %d (MB/s)", what, *rounds), "higher", "MB/s", put[t.name].mbps)
		emitMedian(t.name, "sftp_put_durable_mbps", fmt.Sprintf("SFTP upload of %s, + fsync of the file, median of %d (MB/s)", what, *rounds), "higher", "MB/s", putDurable[t.name].mbps)
		emitMedian(t.name, "sftp_get_cpu_s", fmt.Sprintf("server CPU per download of %s, median (s)", what), "lower", "s", get[t.name].cpu)
		emitMedian(t.name, "sftp_put_cpu_s", fmt.Sprintf("server CPU per upload of %s, median (s)", what), "lower", "s", put[t.name].cpu)
	}
	return nil
}

// kexCipher finds, in sftp -v's output, the cipher and MAC the client
// chose for what it receives.
var kexCipher = regexp.MustCompile(`kex: server->client cipher: (\S+) MAC: (\S+)`)

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sftpQuote quotes a path for an sftp batch file.
func sftpQuote(p string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
}

// treeSampler measures the CPU time of a process tree whose members come
// and go: sshd's per-connection monitor exits without waiting for its
// unprivileged child, which is then reaped by init, so its time never
// reaches the listener's children's times (what treeCPU adds). Each
// member's own time is sampled every samplePeriod instead, and its last
// sample counted (a zero-based count for a member found after the start;
// a zombie keeps its times until reaped): what is lost is each exiting
// process's last few milliseconds. The sampler must stay light, since it
// shares the machine with what it measures: /proc is scanned for new
// members only every rescanEvery samples (a scan reads every process's
// stat), and a sample reads each member's stat, not its threads'.
type treeSampler struct {
	root    int
	members []int
	base    map[int]float64 // at the start
	last    map[int]float64
	quit    chan struct{}
	done    chan struct{}
}

const (
	samplePeriod = 10 * time.Millisecond
	rescanEvery  = 10
)

func sampleTreeCPU(root int) *treeSampler {
	s := &treeSampler{root: root, base: map[int]float64{}, last: map[int]float64{},
		quit: make(chan struct{}), done: make(chan struct{})}
	s.sample(true, true)
	for pid, v := range s.last {
		s.base[pid] = v
	}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(samplePeriod)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-s.quit:
				return
			case <-tick.C:
				s.sample(n%rescanEvery == 0, false)
			}
		}
	}()
	return s
}

// sample reads the members' times; rescan first looks for new members,
// precise adds up their threads' time on CPU (more files to read, but
// not truncated to clock ticks).
func (s *treeSampler) sample(rescan, precise bool) {
	if rescan {
		s.members = processTree(s.root)
	}
	for _, pid := range s.members {
		if v, ok := ownCPU(pid, precise); ok && v > s.last[pid] {
			s.last[pid] = v
		}
	}
}

// stop ends the sampling and returns the CPU seconds spent since the
// start by the tree's processes.
func (s *treeSampler) stop() float64 {
	close(s.quit)
	<-s.done
	s.sample(true, true)
	var sum float64
	for pid, v := range s.last {
		sum += v - s.base[pid]
	}
	return sum
}

// ownCPU is a process's own CPU time in seconds (not its children's):
// from the clock ticks of its stat, or with precise from its threads'
// schedstat when that says more.
func ownCPU(pid int, precise bool) (float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	var ticks int64
	for _, k := range f[11:13] {
		n, _ := strconv.ParseInt(k, 10, 64)
		ticks += n
	}
	v := float64(ticks) / clockTick
	if !precise {
		return v, true
	}
	if ns, ok := taskRuntime(pid); ok {
		v = max(v, float64(ns)/1e9)
	}
	return v, true
}

// settleTree waits until root has no descendants left (its per-session
// processes have exited and been reaped), up to limit.
func settleTree(root int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for len(processTree(root)) > 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

func fileSHA256(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func sameFile(name string, size int64, sum []byte) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	if fi.Size() != size {
		return fmt.Errorf("%s: %d bytes, want %d", name, fi.Size(), size)
	}
	got, err := fileSHA256(name)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, sum) {
		return fmt.Errorf("%s: SHA-256 %x, want %x", name, got, sum)
	}
	return nil
}

// cmdSFTPIdle opens -sessions SSH connections, each with the sftp
// subsystem started and initialised (pkg/sftp's client), holds them idle
// and records the growth of the server's memory: the PSS of the process
// tree of -pid (ferry's one process; OpenSSH's listener with the
// per-connection sshd and sftp-server processes under it) after minus
// before, per session.
func cmdSFTPIdle(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("sftpidle", flag.ExitOnError)
	label := fl.String("label", "server", "name of the server measured")
	addr := fl.String("addr", "127.0.0.1:22", "server's address")
	user := fl.String("user", "ferrybench", "login")
	keyFile := fl.String("key", "", "private key file")
	knownHosts := fl.String("known-hosts", "", "known_hosts file holding the server's host key")
	pid := fl.Int("pid", 0, "server's main process (its tree's PSS is measured)")
	sessions := fl.Int("sessions", 200, "sessions to open and hold")
	conc := fl.Int("concurrency", 8, "logins in flight at once")
	settle := fl.Duration("settle", 3*time.Second, "wait after the last login before measuring")
	fl.Parse(args)
	if *pid == 0 || *keyFile == "" || *knownHosts == "" {
		return errors.New("want -pid, -key and -known-hosts")
	}
	pem, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return err
	}
	hostKeys, err := knownhosts.New(*knownHosts)
	if err != nil {
		return err
	}
	config := &ssh.ClientConfig{User: *user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys, Timeout: 30 * time.Second}
	before, procsBefore := treePSS(*pid)

	type session struct {
		conn *ssh.Client
		sftp *sftp.Client
	}
	held := make([]session, *sessions)
	defer func() {
		for _, s := range held {
			if s.sftp != nil {
				s.sftp.Close()
			}
			if s.conn != nil {
				s.conn.Close()
			}
		}
	}()
	start := time.Now()
	errs, firstErr := inParallel(ctx, *sessions, *conc, func(i int) error {
		conn, err := ssh.Dial("tcp", *addr, config)
		if err != nil {
			return err
		}
		cl, err := sftp.NewClient(conn)
		if err == nil {
			// A round trip: the server has served a request.
			_, err = cl.Getwd()
		}
		if err != nil {
			conn.Close()
			return err
		}
		held[i] = session{conn, cl}
		return nil
	})
	loginTime := time.Since(start)
	ok := *sessions - errs
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*settle):
	}
	after, procsAfter := treePSS(*pid)
	detail := map[string]any{"sessions": ok, "errors": errs, "login_s": loginTime.Seconds(),
		"pss_before_kib": before, "pss_after_kib": after, "procs_before": procsBefore, "procs_after": procsAfter}
	if firstErr != "" {
		detail["first_error"] = firstErr
	}
	if ok == 0 {
		detail["error"] = "no session opened"
		ok = 1
	}
	emit(record{Server: *label, Metric: fmt.Sprintf("sftp_idle_%d_kib", *sessions), Better: "lower",
		Label: fmt.Sprintf("memory per idle SFTP session, %d sessions (PSS KiB)", *sessions),
		Value: float64(after-before) / float64(ok), Unit: "KiB", Detail: detail})
	return nil
}
