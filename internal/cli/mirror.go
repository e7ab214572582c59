package cli

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferry-ftp/ferry/ftpclient"
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
const mirrorDefaultParallel = 4

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
  ferry mirror --reverse [flags] DIR ftp://host/path

A file is transferred when the target has none, or when their sizes or
modification times differ (with --only-newer: when the target's is older).
The modification times of what is written are set from the source (on the
server with MFMT, when it offers it), so that running the mirror again
transfers nothing. Each failure is reported and the mirror goes on; the exit
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
			c, err := rf.dial(ctx, env, u, job.opts.parallel)
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
// one on the local disk.
type mirrorJob struct {
	client *ftpclient.Client
	remote string // the server's directory, as the client takes paths
	local  string // the local directory
	opts   mirrorOptions
	filter mirrorFilter
	out    io.Writer      // the plan (--dry-run), --verbose lines, the summary
	pg     *progressGroup // bars, and where failures are reported

	failures     atomic.Int64
	transferred  atomic.Int64 // files
	bytes        atomic.Int64
	deleted      atomic.Int64
	noRemoteTime atomic.Bool // the server cannot set modification times

	outMu   sync.Mutex // one line at a time on out and pg.messages()
	mu      sync.Mutex
	blocked map[string]bool // target directories that could not be made
}

func newMirrorJob(opts mirrorOptions) (*mirrorJob, error) {
	if opts.parallel < 1 {
		return nil, fmt.Errorf("--parallel must be at least 1, not %d", opts.parallel)
	}
	filter, err := newMirrorFilter(opts.include, opts.exclude)
	if err != nil {
		return nil, err
	}
	return &mirrorJob{opts: opts, filter: filter, blocked: map[string]bool{}}, nil
}

// errMirrorFailed is wrapped by the error of a mirror that finished but
// failed to copy, create or delete something.
var errMirrorFailed = errors.New("mirror incomplete")

func (m *mirrorJob) fail(what string, err error) {
	m.failures.Add(1)
	m.print(m.pg.messages(), "ferry: mirror: %s: %v", what, err)
}

func (m *mirrorJob) warn(what string, err error) {
	m.print(m.pg.messages(), "ferry: mirror: %s: %v (skipped)", what, err)
}

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

// mirrorCopy is one file to transfer.
type mirrorCopy struct {
	rel    string
	src    mirrorEntry
	dst    mirrorEntry // the target's copy, when it has one
	hasDst bool
	reason string
}

// mirrorPlan is what a mirror will do, in the order it does it.
type mirrorPlan struct {
	makeRoot bool
	target   *mirrorTree
	clear    []string // target entries in the way of a source entry of the other type (--delete)
	mkdirs   []string // parents first
	copies   []mirrorCopy
	removes  []string // target files the source does not have (--delete)
	rmdirs   []string // target directories likewise, deepest first
	upToDate int
	bytes    int64
}

func (m *mirrorJob) verb() string {
	if m.opts.reverse {
		return "put"
	}
	return "get"
}

func (m *mirrorJob) run(ctx context.Context) error {
	if m.pg == nil {
		m.pg = silentProgress(nil)
	}
	start := time.Now()
	src, dst, err := m.list(ctx)
	if err != nil {
		return err
	}
	plan := m.plan(ctx, src, dst)
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.opts.dryRun {
		m.printPlan(plan)
		fmt.Fprintf(m.out, "dry run: %d %s to transfer (%s), %d to delete, %d up to date\n",
			len(plan.copies), mirrorPlural(len(plan.copies), "file", "files"), mirrorBytes(plan.bytes),
			len(plan.removes)+len(plan.rmdirs), plan.upToDate)
	} else {
		m.execute(ctx, plan, src)
		if err := ctx.Err(); err != nil {
			return err
		}
		elapsed := time.Since(start).Round(time.Millisecond)
		n := int(m.transferred.Load())
		fmt.Fprintf(m.out, "mirror: %d %s transferred (%s in %v), %d deleted, %d up to date",
			n, mirrorPlural(n, "file", "files"), mirrorBytes(m.bytes.Load()), elapsed, m.deleted.Load(), plan.upToDate)
		if f := m.failures.Load(); f > 0 {
			fmt.Fprintf(m.out, ", %d failed", f)
		}
		fmt.Fprintln(m.out)
	}
	if f := int(m.failures.Load()); f > 0 {
		return fmt.Errorf("%w: %d %s", errMirrorFailed, f, mirrorPlural(f, "failure", "failures"))
	}
	return nil
}

// list reads both trees, at the same time. The target tree is nil when
// the target directory does not exist yet.
func (m *mirrorJob) list(ctx context.Context) (src, dst *mirrorTree, err error) {
	var (
		remote, local       *mirrorTree
		remoteErr, localErr error
		wg                  sync.WaitGroup
	)
	wg.Go(func() {
		root, err := m.client.Stat(ctx, m.remote)
		switch {
		case err != nil && m.opts.reverse && ftpclient.IsNotExist(err):
			return // the target, made by the mirror
		case err != nil:
			remoteErr = err
			return
		case !root.IsDir():
			remoteErr = fmt.Errorf("%s is not a directory on the server", m.remote)
			return
		}
		remote, remoteErr = listRemoteTree(ctx, m.client, m.remote, m.opts.parallel, m.filter, m)
		if remote != nil {
			remote.add("", mirrorEntry{dir: true, mtime: root.ModTime})
		}
	})
	wg.Go(func() {
		fi, err := os.Stat(m.local)
		switch {
		case err != nil && !m.opts.reverse && errors.Is(err, fs.ErrNotExist):
			return // the target, made by the mirror
		case err != nil:
			localErr = err
			return
		case !fi.IsDir():
			localErr = fmt.Errorf("%s is not a directory", m.local)
			return
		}
		local, localErr = listLocalTree(ctx, m.local, m.filter, m)
	})
	wg.Wait()
	if err := cmp.Or(remoteErr, localErr); err != nil {
		return nil, nil, err
	}
	if m.opts.reverse {
		return local, remote, nil
	}
	return remote, local, nil
}

// plan compares the trees. dst is nil when the target does not exist.
func (m *mirrorJob) plan(ctx context.Context, src, dst *mirrorTree) *mirrorPlan {
	p := &mirrorPlan{target: dst}
	if dst == nil {
		p.makeRoot = true
		p.target = newMirrorTree()
		dst = p.target
	}
	remote := src
	if m.opts.reverse {
		remote = dst
	}
	m.refineRemoteTimes(ctx, remote, src, dst)

	blocked := map[string]bool{} // source directories whose target is in the way
	// The upload of a file whose time the server cannot set leaves the
	// copy newer than the source, so only a newer source counts then.
	newerOnly := m.opts.onlyNewer || (m.opts.reverse && !m.client.Features().Has("MFMT"))
	for _, rel := range slices.Sorted(maps.Keys(src.entries)) {
		if rel == "" || blocked[mirrorParent(rel)] {
			if rel != "" {
				blocked[rel] = true
			}
			continue
		}
		s := src.entries[rel]
		d, exists := dst.entries[rel]
		if exists && d.dir != s.dir {
			if !m.opts.delete {
				what := "a directory"
				if !s.dir {
					what = "a file"
				}
				m.fail(m.verb()+" "+rel, fmt.Errorf("the target is in the way: it is not %s (--delete replaces it)", what))
				blocked[rel] = true
				continue
			}
			p.clear = append(p.clear, rel)
			exists = false
		}
		if s.dir {
			if !exists {
				p.mkdirs = append(p.mkdirs, rel)
			}
			continue
		}
		reason := ""
		switch {
		case !exists:
			reason = "new"
		case newerOnly:
			if !d.mtime.IsZero() && !s.mtime.IsZero() && mirrorSecond(s.mtime).After(mirrorSecond(d.mtime)) {
				reason = "newer"
			} else if !m.opts.onlyNewer && s.size != d.size {
				reason = "size differs"
			}
		case s.size != d.size:
			reason = "size differs"
		case !s.mtime.IsZero() && !d.mtime.IsZero() && !mirrorSecond(s.mtime).Equal(mirrorSecond(d.mtime)):
			reason = "time differs"
		}
		if reason == "" {
			p.upToDate++
			continue
		}
		p.copies = append(p.copies, mirrorCopy{rel: rel, src: s, dst: d, hasDst: exists, reason: reason})
		p.bytes += s.size
	}
	if m.opts.delete {
		for _, rel := range slices.Sorted(maps.Keys(dst.entries)) {
			if rel == "" || src.underPartial(rel) || mirrorUnderAny(rel, p.clear) {
				continue
			}
			d := dst.entries[rel]
			if s, ok := src.entries[rel]; ok && s.dir == d.dir {
				continue
			}
			if slices.Contains(p.clear, rel) {
				continue
			}
			switch {
			case !d.dir:
				p.removes = append(p.removes, rel)
			case !dst.kept[rel]:
				p.rmdirs = append(p.rmdirs, rel)
			}
		}
		mirrorDeepestFirst(p.rmdirs)
	}
	return p
}

// refineRemoteTimes asks the server for exact modification times (MDTM)
// where its listing gave none to trust: a LIST line shows minutes at best,
// in the server's time zone. Only files on both sides with the same size
// need it; the others are copied anyway.
func (m *mirrorJob) refineRemoteTimes(ctx context.Context, remote, src, dst *mirrorTree) {
	feats := m.client.Features()
	if remote == nil || feats.Has("MLST") || !feats.Has("MDTM") {
		return
	}
	var rels []string
	for rel, s := range src.entries {
		d, ok := dst.entries[rel]
		switch {
		case s.dir:
		case remote == src && (!ok || !d.dir):
			// A download: the local copy gets this time.
			rels = append(rels, rel)
		case ok && !d.dir && (s.size == d.size || m.opts.onlyNewer):
			rels = append(rels, rel)
		}
	}
	times := make([]time.Time, len(rels))
	m.each(ctx, len(rels), func(i int) {
		// On an error the time stays unknown: sizes alone are compared.
		times[i], _ = m.client.ModTime(ctx, mirrorRemotePath(m.remote, rels[i]))
	})
	for i, rel := range rels {
		e := remote.entries[rel]
		e.mtime = times[i]
		remote.entries[rel] = e
	}
}

func (m *mirrorJob) printPlan(p *mirrorPlan) {
	if p.makeRoot {
		fmt.Fprintf(m.out, "mkdir %s\n", m.targetName())
	}
	for _, rel := range p.clear {
		fmt.Fprintf(m.out, "delete %s (in the way)\n", rel)
	}
	for _, rel := range p.mkdirs {
		fmt.Fprintf(m.out, "mkdir %s\n", rel)
	}
	for _, c := range p.copies {
		fmt.Fprintf(m.out, "%s %s (%s, %s)\n", m.verb(), c.rel, c.reason, mirrorBytes(c.src.size))
	}
	for _, rel := range p.removes {
		fmt.Fprintf(m.out, "delete %s\n", rel)
	}
	for _, rel := range p.rmdirs {
		fmt.Fprintf(m.out, "rmdir %s\n", rel)
	}
}

func (m *mirrorJob) targetName() string {
	if m.opts.reverse {
		return m.remote
	}
	return m.local
}

// each runs fn(0) … fn(n-1) on up to opts.parallel goroutines, until the
// context is done.
func (m *mirrorJob) each(ctx context.Context, n int, fn func(i int)) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(m.opts.parallel, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// byDepth runs fn on rels one depth at a time (in the order the depths
// first appear in rels), in parallel within a depth.
func (m *mirrorJob) byDepth(ctx context.Context, rels []string, fn func(rel string)) {
	for len(rels) > 0 && ctx.Err() == nil {
		depth := mirrorDepth(rels[0])
		end := 1
		for end < len(rels) && mirrorDepth(rels[end]) == depth {
			end++
		}
		group := rels[:end]
		m.each(ctx, len(group), func(i int) { fn(group[i]) })
		rels = rels[end:]
	}
}

func (m *mirrorJob) execute(ctx context.Context, p *mirrorPlan, src *mirrorTree) {
	var bar *progressBar
	if len(p.copies) > 0 {
		bar = m.pg.bar(fmt.Sprintf("mirror (%d %s)", len(p.copies), mirrorPlural(len(p.copies), "file", "files")), p.bytes)
	}
	defer func() {
		if ctx.Err() != nil || m.failures.Load() > 0 {
			bar.abort()
		} else {
			bar.done()
		}
		m.pg.wait()
	}()

	if p.makeRoot {
		if err := m.makeRoot(ctx); err != nil {
			m.fail("mkdir "+m.targetName(), err)
			return
		}
		m.say("mkdir %s", m.targetName())
	}
	for _, rel := range p.clear {
		m.removeTree(ctx, p.target, rel)
	}
	mkdirs := slices.Clone(p.mkdirs)
	slices.SortStableFunc(mkdirs, func(a, b string) int { return mirrorDepth(a) - mirrorDepth(b) })
	m.byDepth(ctx, mkdirs, func(rel string) { m.mkdir(ctx, rel) })
	m.each(ctx, len(p.copies), func(i int) { m.copy(ctx, p.copies[i], bar) })
	m.each(ctx, len(p.removes), func(i int) { m.remove(ctx, p.removes[i], false) })
	m.byDepth(ctx, p.rmdirs, func(rel string) { m.remove(ctx, rel, true) })
	if !m.opts.reverse {
		m.setLocalDirTimes(ctx, src)
	}
}

func (m *mirrorJob) localPath(rel string) string {
	return filepath.Join(m.local, filepath.FromSlash(rel))
}

func (m *mirrorJob) remotePath(rel string) string {
	return mirrorRemotePath(m.remote, rel)
}

// block records that the target directory rel could not be made, so that
// nothing is tried below it.
func (m *mirrorJob) block(rel string) {
	m.mu.Lock()
	m.blocked[rel] = true
	m.mu.Unlock()
}

// blockedDir reports whether the directory rel itself could not be made.
func (m *mirrorJob) blockedDir(rel string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blocked[rel]
}

// isBlocked reports whether a directory above rel could not be made.
func (m *mirrorJob) isBlocked(rel string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := mirrorParent(rel); ; p = mirrorParent(p) {
		if m.blocked[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

func (m *mirrorJob) makeRoot(ctx context.Context) error {
	if m.opts.reverse {
		return mirrorMkdirAll(ctx, m.client, m.remote)
	}
	return os.MkdirAll(m.local, 0o777)
}

// mirrorMkdirAll makes the directory p on the server, and its parents.
func mirrorMkdirAll(ctx context.Context, c *ftpclient.Client, p string) error {
	err := c.Mkdir(ctx, p)
	if err == nil {
		return nil
	}
	if st, serr := c.Stat(ctx, p); serr == nil {
		if st.IsDir() {
			return nil
		}
		return fmt.Errorf("%s exists and is not a directory", p)
	}
	parent := path.Dir(p)
	if parent == p || parent == "." || parent == "/" || !ftpclient.IsNotExist(err) {
		return err
	}
	if err := mirrorMkdirAll(ctx, c, parent); err != nil {
		return err
	}
	return c.Mkdir(ctx, p)
}

func (m *mirrorJob) mkdir(ctx context.Context, rel string) {
	if m.isBlocked(rel) {
		m.block(rel)
		return
	}
	var err error
	if m.opts.reverse {
		err = mkdirExisting(ctx, m.client, m.remotePath(rel)) // it may have been made meanwhile
	} else {
		err = os.Mkdir(m.localPath(rel), 0o777)
		if fi, serr := os.Stat(m.localPath(rel)); err != nil && serr == nil && fi.IsDir() {
			err = nil
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			m.fail("mkdir "+rel, err)
		}
		m.block(rel)
		return
	}
	m.say("mkdir %s", rel)
}

func (m *mirrorJob) copy(ctx context.Context, c mirrorCopy, bar *progressBar) {
	if m.isBlocked(c.rel) {
		return // the failure to make its directory was reported
	}
	var (
		n   int64
		err error
	)
	// A file that fails with a temporary error (a 4xx reply such as
	// Pure-FTPd's occasional "425 ... Address already in use", a broken
	// connection) is sent again, as get and put do.
	err = m.opts.retry.retrier(mirrorNotice{m}).do(ctx, m.verb()+" "+c.rel, func(int) error {
		if m.opts.reverse {
			n, err = m.upload(ctx, c, bar)
		} else {
			n, err = m.download(ctx, c, bar)
		}
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			m.fail(m.verb()+" "+c.rel, err)
		}
		return
	}
	m.transferred.Add(1)
	m.bytes.Add(n)
	m.say("%s %s (%s, %s)", m.verb(), c.rel, c.reason, mirrorBytes(n))
}

// download writes the file to a temporary name beside its target and
// renames it into place once complete, with the server's modification
// time, so that an interrupted mirror never leaves a truncated file that
// looks like a copy.
func (m *mirrorJob) download(ctx context.Context, c mirrorCopy, bar *progressBar) (int64, error) {
	target := m.localPath(c.rel)
	f, err := mirrorCreateTemp(filepath.Dir(target))
	if err != nil {
		return 0, permanent(err)
	}
	tmp := f.Name()
	n, err := m.client.Retrieve(ctx, m.remotePath(c.rel), 0, bar.writer(f))
	if cerr := f.Close(); err == nil {
		err = permanent(cerr)
	}
	if err == nil && c.hasDst && c.dst.mode != 0 {
		err = permanent(os.Chmod(tmp, c.dst.mode.Perm()))
	}
	if err == nil && !c.src.mtime.IsZero() {
		err = permanent(os.Chtimes(tmp, c.src.mtime, c.src.mtime))
	}
	if err == nil {
		err = permanent(os.Rename(tmp, target))
	}
	if err != nil {
		os.Remove(tmp)
		return n, err
	}
	return n, nil
}

// mirrorCreateTemp creates a new file in dir for a download, with the
// permissions a new file gets (0666 less the umask).
func mirrorCreateTemp(dir string) (*os.File, error) {
	for {
		var b [8]byte
		rand.Read(b[:])
		f, err := os.OpenFile(filepath.Join(dir, mirrorTempPrefix+hex.EncodeToString(b[:])), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

func (m *mirrorJob) upload(ctx context.Context, c mirrorCopy, bar *progressBar) (int64, error) {
	f, err := os.Open(m.localPath(c.rel))
	if err != nil {
		return 0, permanent(err)
	}
	defer f.Close()
	target := m.remotePath(c.rel)
	n, err := m.client.Store(ctx, target, bar.reader(f), 0)
	if err != nil {
		return n, err
	}
	if c.src.mtime.IsZero() || m.noRemoteTime.Load() {
		return n, nil
	}
	if err := m.client.SetModTime(ctx, target, c.src.mtime); err != nil {
		if !errors.Is(err, ftpclient.ErrUnsupported) {
			return n, err
		}
		if m.noRemoteTime.CompareAndSwap(false, true) {
			m.warn("set modification times", errors.New("the server cannot (no MFMT): a file will be sent again when the local copy is newer"))
		}
	}
	return n, nil
}

func (m *mirrorJob) remove(ctx context.Context, rel string, dir bool) {
	var err error
	switch {
	case m.opts.reverse && dir:
		err = m.client.RemoveDir(ctx, m.remotePath(rel))
	case m.opts.reverse:
		err = m.client.Remove(ctx, m.remotePath(rel))
	default:
		err = os.Remove(m.localPath(rel))
	}
	if err != nil {
		if ctx.Err() == nil {
			m.fail("delete "+rel, err)
		}
		return
	}
	m.deleted.Add(1)
	if dir {
		m.say("rmdir %s", rel)
	} else {
		m.say("delete %s", rel)
	}
}

// removeTree deletes the target entry rel and, for a directory, what the
// target tree holds below it.
func (m *mirrorJob) removeTree(ctx context.Context, target *mirrorTree, rel string) {
	if !target.entries[rel].dir {
		m.remove(ctx, rel, false)
		return
	}
	var files, dirs []string
	for r, e := range target.entries {
		if !strings.HasPrefix(r, rel+"/") {
			continue
		}
		if e.dir {
			dirs = append(dirs, r)
		} else {
			files = append(files, r)
		}
	}
	slices.Sort(files)
	m.each(ctx, len(files), func(i int) { m.remove(ctx, files[i], false) })
	dirs = append(dirs, rel)
	mirrorDeepestFirst(dirs)
	m.byDepth(ctx, dirs, func(r string) { m.remove(ctx, r, true) })
}

// setLocalDirTimes gives the local directories the modification times of
// the server's, deepest first since writing in a directory changes its
// time.
func (m *mirrorJob) setLocalDirTimes(ctx context.Context, src *mirrorTree) {
	var dirs []string
	for rel, e := range src.entries {
		if e.dir && !e.mtime.IsZero() {
			dirs = append(dirs, rel)
		}
	}
	mirrorDeepestFirst(dirs)
	for _, rel := range dirs {
		if ctx.Err() != nil {
			return
		}
		if m.isBlocked(rel) || m.blockedDir(rel) {
			continue
		}
		t := src.entries[rel].mtime
		if err := os.Chtimes(m.localPath(rel), t, t); err != nil && !errors.Is(err, fs.ErrNotExist) {
			m.warn("set time of "+mirrorShow(rel), err)
		}
	}
}

// mirrorSecond drops what is below the second: what MFMT and MDTM can
// carry.
func mirrorSecond(t time.Time) time.Time { return t.Truncate(time.Second) }

// mirrorUnderAny reports whether rel is below one of dirs.
func mirrorUnderAny(rel string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

// mirrorDeepestFirst sorts relative paths deepest first, by name within a
// depth.
func mirrorDeepestFirst(rels []string) {
	sort.Slice(rels, func(i, j int) bool {
		di, dj := mirrorDepth(rels[i]), mirrorDepth(rels[j])
		if di != dj {
			return di > dj
		}
		return rels[i] < rels[j]
	})
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
