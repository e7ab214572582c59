package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// clientTool is one command-line client measured by cmdClient: how to
// run it to fetch what the comparison fetches into out.
type clientTool struct {
	name string
	args func(out string) []string
}

// cmdClient compares ferry's client commands with the usual tools on
// the same server: `ferry get` with curl for one big file, `ferry mirror
// --parallel N` with lftp's `mirror --parallel=N` for a directory of
// small files. The tools take turns (the first of each run alternates),
// every run starts on an empty target that is removed afterwards, and
// each run is checked against the dataset on this host: byte count for
// the file, number and bytes of the files for the mirror.
func cmdClient(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("client", flag.ExitOnError)
	ferry := fl.String("ferry", "bench/out/ferry", "ferry binary")
	rawURL := fl.String("url", "", "ftp://USER:PASS@HOST:PORT of the server (plain FTP)")
	data := fl.String("data", "bench/out/data", "the server's root on this host, to check what was copied")
	file := fl.String("file", "big.bin", "file for get")
	dir := fl.String("dir", "small", "directory for mirror")
	parallel := fl.Int("parallel", 8, "parallel transfers of both mirrors")
	out := fl.String("out", "bench/out/client", "scratch directory for the copies")
	runs := fl.Int("runs", 3, "runs of each tool; the best is kept")
	only := fl.String("only", "get,mirror", "comparisons to run")
	pid := fl.Int("pid", 0, "server's main process: its CPU time (and its children's) is reported")
	server := fl.String("server", "vsftpd", "name of the server, for the labels")
	fl.Parse(args)

	u, err := url.Parse(*rawURL)
	if err != nil || u.Scheme != "ftp" || u.User == nil {
		return fmt.Errorf("-url: want ftp://USER:PASS@HOST:PORT, got %q", *rawURL)
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	base := "ftp://" + u.User.String() + "@" + u.Host
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	for _, what := range strings.Split(*only, ",") {
		switch what {
		case "get":
			fi, err := os.Stat(filepath.Join(*data, *file))
			if err != nil {
				return err
			}
			target := filepath.Join(*out, filepath.Base(*file))
			check := func() (map[string]any, error) {
				got, err := os.Stat(target)
				if err != nil {
					return nil, err
				}
				if got.Size() != fi.Size() {
					return nil, fmt.Errorf("%s: %d bytes, want %d", target, got.Size(), fi.Size())
				}
				return map[string]any{"bytes": got.Size()}, nil
			}
			tools := []clientTool{
				{"ferry", func(o string) []string { return []string{*ferry, "get", base + "/" + *file, o} }},
				{"curl", func(o string) []string { return []string{"curl", "-s", "-o", o, base + "/" + *file} }},
			}
			label := fmt.Sprintf("get %s from %s", human(fi.Size()), *server)
			err = compareClients(ctx, "client_get_ms", label, tools, target, false, check, *runs, *pid, pass,
				func(d time.Duration) map[string]any { return map[string]any{"mbps": mbps(fi.Size(), d)} })
			if err != nil {
				return err
			}
		case "mirror":
			wantFiles, wantBytes, err := countFiles(filepath.Join(*data, *dir))
			if err != nil {
				return err
			}
			target := filepath.Join(*out, "mirror")
			check := func() (map[string]any, error) {
				files, bytes, err := countFiles(target)
				if err != nil {
					return nil, err
				}
				if files != wantFiles || bytes != wantBytes {
					return nil, fmt.Errorf("%s: %d files, %d bytes; want %d files, %d bytes", target, files, bytes, wantFiles, wantBytes)
				}
				return map[string]any{"files": files, "bytes": bytes}, nil
			}
			lftpScript := fmt.Sprintf("set net:max-retries 1; open -u %s,%s ftp://%s; mirror --parallel=%d %s %s",
				user, pass, u.Host, *parallel, *dir, target)
			tools := []clientTool{
				{"ferry", func(o string) []string {
					return []string{*ferry, "mirror", "--parallel", fmt.Sprint(*parallel), base + "/" + *dir, o}
				}},
				{"lftp", func(o string) []string { return []string{"lftp", "-c", lftpScript} }},
			}
			label := fmt.Sprintf("mirror --parallel %d of %d files of %s from %s", *parallel, wantFiles, human(wantBytes/int64(max(wantFiles, 1))), *server)
			err = compareClients(ctx, "client_mirror_ms", label, tools, target, true, check, *runs, *pid, pass,
				func(d time.Duration) map[string]any {
					return map[string]any{"files_per_s": float64(wantFiles) / d.Seconds()}
				})
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("-only: unknown comparison %q", what)
		}
	}
	return nil
}

// compareClients runs each tool runs times, taking turns, and emits one
// record per tool with its best time. target is removed before and after
// every run (with targetDir, each run starts on a new empty directory
// target), and check (run after each) says whether the copy is complete.
// pass is masked in the command lines recorded.
func compareClients(ctx context.Context, metric, label string, tools []clientTool, target string, targetDir bool,
	check func() (map[string]any, error), runs, pid int, pass string, extra func(time.Duration) map[string]any) error {
	type result struct {
		best      time.Duration
		all       []float64
		clientCPU float64 // of the best run
		serverCPU float64
		checked   map[string]any
	}
	results := make([]result, len(tools))
	if err := os.RemoveAll(target); err != nil {
		return err
	}
	for run := 0; run < runs; run++ {
		for k := range tools {
			i := (k + run) % len(tools) // alternate which tool goes first
			argv := tools[i].args(target)
			if targetDir {
				if err := os.Mkdir(target, 0o755); err != nil {
					return err
				}
			}
			syscall.Sync() // no dirty pages of the previous run
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cpu := startCPU(pid)
			start := time.Now()
			err := cmd.Run()
			d := time.Since(start)
			cpuDetail := map[string]any{}
			cpu.stop(cpuDetail)
			if err != nil {
				return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
			}
			checked, err := check()
			if err != nil {
				return fmt.Errorf("%s: %w", tools[i].name, err)
			}
			if err := os.RemoveAll(target); err != nil {
				return err
			}
			r := &results[i]
			r.all = append(r.all, ms(d))
			if r.best == 0 || d < r.best {
				r.best, r.checked = d, checked
				st := cmd.ProcessState
				r.clientCPU = (st.UserTime() + st.SystemTime()).Seconds()
				r.serverCPU, _ = cpuDetail["server_cpu_s"].(float64)
			}
		}
	}
	for i, t := range tools {
		r := results[i]
		detail := extra(r.best)
		for k, v := range r.checked {
			detail[k] = v
		}
		detail["runs_ms"] = r.all
		detail["tool_cpu_s"] = r.clientCPU
		if pid > 0 {
			detail["server_cpu_s"] = r.serverCPU
		}
		command := strings.Join(t.args(target), " ")
		if pass != "" {
			command = strings.ReplaceAll(command, pass, "***")
		}
		detail["command"] = command
		emit(record{Server: t.name, Metric: metric, Better: "lower",
			Label: fmt.Sprintf("%s, best of %d (ms)", label, runs), Value: ms(r.best), Unit: "ms", Detail: detail})
	}
	return nil
}

// countFiles counts the regular files under dir and their bytes.
func countFiles(dir string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files++
			bytes += fi.Size()
		}
		return nil
	})
	return files, bytes, err
}
