package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// processTree returns root and all its descendants, from /proc: vsftpd,
// Pure-FTPd and ProFTPD fork per session, so a session's memory is spread
// over processes of their own (ferry, pyftpdlib and SFTPGo serve every
// session in their one process, the tree is then root alone).
func processTree(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parens.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// pssKiB reads a process's proportional set size from smaps_rollup.
func pssKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("pid %d: no Pss line", pid)
}

// treePSS sums the PSS of root and its descendants; processes that exit
// while being read are skipped.
func treePSS(root int) (kib int64, procs int) {
	for _, pid := range processTree(root) {
		if n, err := pssKiB(pid); err == nil {
			kib += n
			procs++
		}
	}
	return kib, procs
}

// clockTick is USER_HZ, the unit of CPU times in /proc/PID/stat: 100 on
// every Linux architecture Go supports.
const clockTick = 100

// treeCPU sums the CPU time of root and its descendants, in seconds:
// each live process's time on CPU from /proc/PID/schedstat (in
// nanoseconds: the clock ticks of /proc/PID/stat are truncated per
// process, which loses everything when 2,000 processes run 3 ms each),
// plus the user and system time of the children they have reaped.
func treeCPU(root int) float64 {
	var ns, ticks int64
	for _, pid := range processTree(root) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		// After "(comm)": state ppid pgrp session tty tpgid flags minflt
		// cminflt majflt cmajflt utime stime cutime cstime.
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 15 {
			continue
		}
		if n, ok := taskRuntime(pid); ok {
			ns += n
		} else {
			for _, k := range f[11:13] {
				n, _ := strconv.ParseInt(k, 10, 64)
				ticks += n
			}
		}
		for _, k := range f[13:15] {
			n, _ := strconv.ParseInt(k, 10, 64)
			ticks += n
		}
	}
	return float64(ns)/1e9 + float64(ticks)/clockTick
}

// taskRuntime sums the time on CPU, in nanoseconds, of every thread of
// pid (/proc/PID/schedstat covers the main thread only).
func taskRuntime(pid int) (int64, bool) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, false
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		f := strings.Fields(string(b))
		if err != nil || len(f) == 0 {
			return 0, false
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		ns += n
	}
	return ns, true
}

// selfCPU is this process's user and system CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// cpuMeter measures the CPU the server (process tree of pid) and this
// client spend between start and stop.
type cpuMeter struct {
	pid                    int
	server, client, system float64
	storePid               int // the object store's process (bench/s3); 0: none
	store                  float64
}

// systemCPU is the busy (non-idle, non-iowait) CPU time of the whole
// machine from /proc/stat, in seconds: a cross-check of treeCPU.
func systemCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal
	var ticks int64
	for i, k := range f[1:] {
		if i == 3 || i == 4 || i >= 7 { // idle, iowait; steal and guests
			continue
		}
		n, _ := strconv.ParseInt(k, 10, 64)
		ticks += n
	}
	return float64(ticks) / clockTick
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, client: selfCPU(), system: systemCPU()}
	if pid > 0 {
		m.server = treeCPU(pid)
	}
	return m
}

// alsoStore has the meter measure the object store's process too: a
// server over S3 spends part of its work there (bench/s3).
func (m *cpuMeter) alsoStore(pid int) *cpuMeter {
	if pid > 0 {
		m.storePid, m.store = pid, treeCPU(pid)
	}
	return m
}

// stop adds the CPU seconds spent since start to detail.
func (m *cpuMeter) stop(detail map[string]any) {
	detail["client_cpu_s"] = selfCPU() - m.client
	detail["machine_cpu_s"] = systemCPU() - m.system
	if m.pid > 0 {
		detail["server_cpu_s"] = treeCPU(m.pid) - m.server
	}
	if m.storePid > 0 {
		detail["store_cpu_s"] = treeCPU(m.storePid) - m.store
	}
}

// resetPeakRSS sets the peak resident set size (VmHWM) of root and its
// descendants back to their current RSS, by writing 5 to
// /proc/PID/clear_refs, so that a later peakRSS sees the peak of what
// happened in between without restarting the server.
func resetPeakRSS(root int) error {
	for _, pid := range processTree(root) {
		err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
		if err != nil && pid == root {
			return fmt.Errorf("resetting the peak RSS of %d: %w", pid, err)
		}
	}
	return nil
}

// peakRSS sums VmHWM of root and its descendants (the servers measured
// over S3 run in one process; the sum is for the others), and rssKiB
// their current VmRSS.
func peakRSS(root int) (kib int64, err error) { return statusSum(root, "VmHWM:") }
func rssKiB(root int) (kib int64, err error)  { return statusSum(root, "VmRSS:") }

func statusSum(root int, key string) (int64, error) {
	var sum int64
	for _, pid := range processTree(root) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			if pid == root {
				return 0, err
			}
			continue // exited meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, key); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					n, _ := strconv.ParseInt(f[0], 10, 64)
					sum += n
				}
				break
			}
		}
	}
	return sum, nil
}
