package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferry-ftp/ferry/ftpclient/mirror"
)

func init() { register(newMirrorCommand) }

// mirrorOptions are the flags of ferry mirror and of the shell's mirror
// command.
type mirrorOptions struct {
	reverse   bool
	parallel  int
	delete    bool
	dryRun    bool
	onlyNewer bool
	verbose   bool
	include   []string
	exclude   []string
	retry     retryFlags
}

// mirrorDefaultParallel is how many files a mirror transfers at once unless
// told otherwise.
const mirrorDefaultParallel = mirror.DefaultParallel

func (o *mirrorOptions) register(fl *pflag.FlagSet) {
	fl.BoolVarP(&o.reverse, "reverse", "R", false, "upload: mirror the local DIR to the URL")
	fl.IntVarP(&o.parallel, "parallel", "P", mirrorDefaultParallel, "transfer up to `N` files at once (and list N directories at once)")
	fl.BoolVar(&o.delete, "delete", false, "delete what the source no longer has")
	fl.BoolVarP(&o.dryRun, "dry-run", "n", false, "print what would be done, change nothing")
	fl.BoolVar(&o.onlyNewer, "only-newer", false, "transfer a file only when the target's copy is older (not merely different)")
	fl.StringArrayVarP(&o.include, "include", "I", nil, "mirror only files matching `GLOB` (relative path or name; repeatable)")
	fl.StringArrayVarP(&o.exclude, "exclude", "X", nil, "leave out files and directories matching `GLOB` (relative path or name; repeatable)")
	fl.BoolVarP(&o.verbose, "verbose", "v", false, "print each change as it is made")
	o.retry.register(fl)
}

func newMirrorCommand(env Env) *cobra.Command {
	var (
		rf   remoteFlags
		opts mirrorOptions
	)
	cmd := &cobra.Command{
		Use:   "mirror [flags] URL DIR",
		Short: "Copy a directory tree from a server, or to one with --reverse, transferring only what changed",
		Long: `Mirror copies the directory tree at URL into the local directory DIR, or with
--reverse the local DIR to URL:

  ferry mirror [flags] ftp://host/path DIR
  ferry mirror --reverse [flags] DIR sftp://host/path

A file is transferred when the target has none, or when their sizes or
modification times differ (with --only-newer: when the target's is older).
The modification times of what is written are set from the source (on an
FTP server with MFMT, when it offers it; on an SFTP server always), so
that running the mirror again transfers nothing. Each failure is reported and the mirror goes on; the exit
status is non-zero if anything failed.

--include and --exclude take glob patterns (*, ?, [a-z]) matched against
each entry's path relative to the mirrored directory, its name, and the
names and paths of the directories it is in: --exclude .git leaves out every
.git directory, --include '*.pdf' mirrors only PDF files.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			remoteArg, localArg := args[0], args[1]
			if opts.reverse {
				remoteArg, localArg = args[1], args[0]
			}
			if isRemote(localArg) {
				return errors.New("mirror copies between a server and a local directory, not between two servers")
			}
			if !isRemote(remoteArg) {
				if opts.reverse {
					return fmt.Errorf("%q is not an ftp:// URL (with --reverse the URL comes second)", remoteArg)
				}
				return fmt.Errorf("%q is not an ftp:// URL (to upload a local directory use --reverse DIR URL)", remoteArg)
			}
			u, err := parseRemoteURL(remoteArg)
			if err != nil {
				return err
			}
			job, err := newMirrorJob(opts)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := rf.dialAny(ctx, env, u, job.opts.parallel)
			if err != nil {
				return err
			}
			defer c.Close()
			job.client = c
			job.remote = u.resolve()
			job.local = localArg
			job.out = env.Stdout
			job.pg = newProgress(env)
			return job.run(ctx)
		},
	}
	rf.register(cmd.Flags())
	rf.registerCompress(cmd.Flags())
	opts.register(cmd.Flags())
	return cmd
}

// mirrorJob is one run of a mirror between a directory on the server and
// one on the local disk: the flags and output over package mirror.
type mirrorJob struct {
	client mirror.Remote
	remote string // the server's directory, as the client takes paths
	local  string // the local directory
	opts   mirrorOptions
	out    io.Writer      // the plan (--dry-run), --verbose lines, the summary
	pg     *progressGroup // bars, and where failures are reported

	outMu sync.Mutex // one line at a time on out and pg.messages()
}

func newMirrorJob(opts mirrorOptions) (*mirrorJob, error) {
	if opts.parallel < 1 {
		return nil, fmt.Errorf("--parallel must be at least 1, not %d", opts.parallel)
	}
	mo := mirror.Options{Include: opts.include, Exclude: opts.exclude}
	if err := mo.Validate(); err != nil {
		return nil, err
	}
	return &mirrorJob{opts: opts}, nil
}

// errMirrorFailed is wrapped by the error of a mirror that finished but
// failed to copy, create or delete something.
var errMirrorFailed = mirror.ErrIncomplete

// print writes one line to w; the workers share the writers.
func (m *mirrorJob) print(w io.Writer, format string, args ...any) {
	line := fmt.Sprintf(format+"\n", args...)
	m.outMu.Lock()
	defer m.outMu.Unlock()
	io.WriteString(w, line)
}

// mirrorNotice carries the retrier's notices to the mirror's messages, one
// whole line at a time.
type mirrorNotice struct{ m *mirrorJob }

func (n mirrorNotice) Write(p []byte) (int, error) {
	n.m.print(n.m.pg.messages(), "%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// say prints a --verbose line; with bars on screen it goes above them.
func (m *mirrorJob) say(format string, args ...any) {
	if !m.opts.verbose {
		return
	}
	w := m.out
	if m.pg.active() {
		w = m.pg.messages()
	}
	m.print(w, format, args...)
}

func (m *mirrorJob) verb() string {
	if m.opts.reverse {
		return "put"
	}
	return "get"
}

func (m *mirrorJob) targetName() string {
	if m.opts.reverse {
		return m.remote
	}
	return m.local
}

// what names the subject of an event as the user knows it.
func (m *mirrorJob) what(e mirror.Event) string {
	if e.Op == mirror.OpMkdir && e.Path == "" {
		return "mkdir " + m.targetName()
	}
	return e.What()
}

// report prints what the mirror tells: failures and warnings always,
// changes with --verbose.
func (m *mirrorJob) report(e mirror.Event) {
	switch {
	case e.Err != nil && e.Warning:
		m.print(m.pg.messages(), "ferry: mirror: %s: %v (skipped)", m.what(e), e.Err)
	case e.Err != nil:
		err := e.Err
		if errors.Is(err, mirror.ErrInTheWay) {
			err = fmt.Errorf("%w (--delete replaces it)", err)
		}
		m.print(m.pg.messages(), "ferry: mirror: %s: %v", m.what(e), err)
	case e.Op == mirror.OpGet || e.Op == mirror.OpPut:
		m.say("%s (%s, %s)", m.what(e), e.Reason, mirrorBytes(e.Bytes))
	default:
		m.say("%s", m.what(e))
	}
}

func (m *mirrorJob) run(ctx context.Context) error {
	if m.pg == nil {
		m.pg = silentProgress(nil)
	}
	start := time.Now()
	rt := m.opts.retry.retrier(mirrorNotice{m})
	var bar *progressBar // made once the plan tells the bytes to transfer
	opts := mirror.Options{
		Parallel:  m.opts.parallel,
		Delete:    m.opts.delete,
		OnlyNewer: m.opts.onlyNewer,
		Include:   m.opts.include,
		Exclude:   m.opts.exclude,
		Report:    m.report,
		// A file that fails with a temporary error (a 4xx reply such as
		// Pure-FTPd's occasional "425 ... Address already in use", a
		// broken connection) is sent again, as get and put do.
		Retry: func(ctx context.Context, what string, try func() error) error {
			return rt.do(ctx, what, func(int) error {
				err := try()
				if le := (*mirror.LocalError)(nil); errors.As(err, &le) {
					return permanent(err)
				}
				return err
			})
		},
	}
	if m.opts.reverse {
		opts.Direction = mirror.Upload
	}
	if m.pg.active() {
		opts.Progress = func(n int64) { bar.add(n) }
	}
	plan, err := mirror.Compare(ctx, m.client, m.remote, m.local, opts)
	if err != nil {
		return err
	}
	if m.opts.dryRun {
		m.printPlan(plan)
		fmt.Fprintf(m.out, "dry run: %d %s to transfer (%s), %d to delete, %d up to date\n",
			len(plan.Copies), mirrorPlural(len(plan.Copies), "file", "files"), mirrorBytes(plan.Bytes),
			len(plan.Removes)+len(plan.Rmdirs), plan.UpToDate)
		if plan.Failed > 0 {
			return fmt.Errorf("%w: %d %s", errMirrorFailed, plan.Failed, mirrorPlural(plan.Failed, "failure", "failures"))
		}
		return nil
	}
	if len(plan.Copies) > 0 {
		bar = m.pg.bar(fmt.Sprintf("mirror (%d %s)", len(plan.Copies), mirrorPlural(len(plan.Copies), "file", "files")), plan.Bytes)
	}
	res, err := plan.Run(ctx)
	if ctx.Err() != nil || res.Failed > 0 {
		bar.abort()
	} else {
		bar.done()
	}
	m.pg.wait()
	if ctx.Err() != nil {
		return err
	}
	elapsed := time.Since(start).Round(time.Millisecond)
	fmt.Fprintf(m.out, "mirror: %d %s transferred (%s in %v), %d deleted, %d up to date",
		res.Transferred, mirrorPlural(res.Transferred, "file", "files"), mirrorBytes(res.Bytes), elapsed, res.Deleted, res.UpToDate)
	if res.Failed > 0 {
		fmt.Fprintf(m.out, ", %d failed", res.Failed)
	}
	fmt.Fprintln(m.out)
	return err
}

func (m *mirrorJob) printPlan(p *mirror.Plan) {
	if p.MakeRoot {
		fmt.Fprintf(m.out, "mkdir %s\n", m.targetName())
	}
	for _, rel := range p.Clear {
		fmt.Fprintf(m.out, "delete %s (in the way)\n", rel)
	}
	for _, rel := range p.Mkdirs {
		fmt.Fprintf(m.out, "mkdir %s\n", rel)
	}
	for _, c := range p.Copies {
		fmt.Fprintf(m.out, "%s %s (%s, %s)\n", m.verb(), c.Path, c.Reason, mirrorBytes(c.Size))
	}
	for _, rel := range p.Removes {
		fmt.Fprintf(m.out, "delete %s\n", rel)
	}
	for _, rel := range p.Rmdirs {
		fmt.Fprintf(m.out, "rmdir %s\n", rel)
	}
}

func mirrorPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// mirrorBytes formats a byte count for people: "812 B", "1.4 MiB".
func mirrorBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
