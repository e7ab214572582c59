// Command loadgen is the neutral load client of ferry's comparative
// benchmarks (bench/run): one Go FTP client, written here from RFC 959
// rather than taken from any server's project, drives ferry, vsftpd,
// Pure-FTPd, ProFTPD, pyftpdlib and SFTPGo alike, reading data connections
// 1 MiB at a time.
//
// Each subcommand measures one thing and prints one JSON record per
// figure on stdout (see record); "report" turns a file of such records
// into the markdown table of bench/RESULTS.md.
//
//	loadgen mkdata     -dir DIR -big SIZE -small N -list N -mid SIZE
//	loadgen raw        -file F -runs 3             loopback TCP ceiling (sendfile)
//	loadgen retr       -addr A -file NAME -runs 3  [-tls]
//	loadgen stor       -addr A -size SIZE -name NAME -fsync-path HOSTPATH [-tls] [-peak-rss]
//	loadgen smallfiles -addr A -sessions 8 -duration 10s -dir small -count 2000
//	loadgen list       -addr A -cmd LIST|MLSD -dir list -runs 3
//	loadgen idle       -addr A -sessions 1000 -pid PID [-hold]
//	loadgen many       -addr A -sessions 1000 -file NAME
//	loadgen client     -url ftp://U:P@H:PORT -ferry BIN -data DIR    ferry get/mirror vs curl/lftp
//	loadgen report     -in results.jsonl -servers ferry,vsftpd,pure-ftpd[,...] [-ratios vsftpd,pure-ftpd]
//	loadgen timecmd    -server mc -metric retr_ms -count bytes -- mc cat ...   time a tool (bench/s3)
//	loadgen manystor   -addr A -sessions 100 -size 64MiB -pid PID            uploads at once, peak RSS
//	loadgen s3targets  -in bench/out/s3/results.jsonl                         issue 11's ratios
//	loadgen logins     -addr A -concurrency 8 -duration 10s [-pid PID]      logins per second
//	loadgen spread     -addrs A,B -sessions 1000 [-pids P1,P2]              idle sessions over a cluster, then QUIT
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// record is one measured figure.
type record struct {
	Server string         `json:"server"`
	Metric string         `json:"metric"`
	Label  string         `json:"label"`            // row title in the report
	Better string         `json:"better,omitempty"` // "lower" or "higher"
	Value  float64        `json:"value"`
	Unit   string         `json:"unit"`
	Detail map[string]any `json:"detail,omitempty"`
}

func emit(r record) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

// common holds the flags every server-facing subcommand takes.
type common struct {
	label string
	dial  dialOptions
	pid   int // server's main process, for CPU accounting; 0: none
	// storePid is the object store's process (MinIO in bench/s3), whose
	// CPU time is reported beside the server's; 0: none.
	storePid int
}

// startCPU measures the server's CPU time, and the store's if known.
func (c *common) startCPU() *cpuMeter { return startCPU(c.pid).alsoStore(c.storePid) }

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.label, "label", "server", "name of the server measured, for the records")
	fs.StringVar(&c.dial.addr, "addr", "127.0.0.1:21", "control address of the server")
	fs.StringVar(&c.dial.user, "user", "bench", "user name")
	fs.StringVar(&c.dial.pass, "pass", "bench", "password")
	fs.BoolVar(&c.dial.tls, "tls", false, "AUTH TLS with PROT P data connections")
	fs.DurationVar(&c.dial.timeout, "timeout", 60*time.Second, "bound on each protocol step")
	fs.IntVar(&c.pid, "pid", 0, "server's main process: its CPU time (and its children's) is reported")
	fs.IntVar(&c.storePid, "store-pid", 0, "object store's process (MinIO): its CPU time is reported too")
}

// parseSize reads "1GiB", "256MiB", "4KiB" or a plain byte count.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

type sizeFlag struct{ n int64 }

func (f *sizeFlag) String() string { return strconv.FormatInt(f.n, 10) }
func (f *sizeFlag) Set(s string) (err error) {
	f.n, err = parseSize(s)
	return err
}

var subcommands = map[string]func(ctx context.Context, args []string) error{
	"mkdata":     cmdMkdata,
	"raw":        cmdRaw,
	"retr":       cmdRetr,
	"stor":       cmdStor,
	"smallfiles": cmdSmallFiles,
	"list":       cmdList,
	"idle":       cmdIdle,
	"many":       cmdMany,
	"client":     cmdClient,
	"report":     cmdReport,
	"timecmd":    cmdTimeCmd,
	"manystor":   cmdManyStor,
	"s3targets":  cmdS3Targets,
	"logins":     cmdLogins,
	"spread":     cmdSpread,
}

func main() {
	if len(os.Args) < 2 || subcommands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: loadgen mkdata|raw|retr|stor|smallfiles|list|idle|many|client|report|timecmd|manystor|s3targets|logins|spread [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := subcommands[os.Args[1]](ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
