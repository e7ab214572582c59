// Package mirror keeps a directory tree on an FTP or SFTP server and one
// on the local disk the same, in either direction, transferring only what
// changed: the engine of `ferry mirror`.
//
// [Compare] lists both trees (the server's with the [Remote]'s
// WalkConcurrent, several directories at once) and
// returns a [Plan] of what a mirror would do, which is all a dry run
// needs; [Plan.Run] does it, [Run] does both. A file is transferred when
// the target has none, or when their sizes or modification times differ
// (with [Options.OnlyNewer]: when the target's copy is older). What is
// written gets the source's modification time (on an FTP server with
// MFMT, when it offers it; on an SFTP server always), so that a second run transfers nothing.
//
// Downloads are written to a temporary name beside the target and renamed
// into place once complete, so an interrupted mirror never leaves a
// truncated file under a real name. Each failure is reported through
// [Options.Report] and the mirror goes on; [Plan.Run] then returns an
// error wrapping [ErrIncomplete]. The package never prints: progress and
// events go to the callbacks of [Options].
//
// The mirror uses the [Remote] it is given: an [ftpclient.Client], whose
// settings (TLS, active mode, pool size) apply to every transfer and
// whose pool should hold [Options.Parallel] connections, or an SFTP
// client (package sftpclient), which runs the transfers side by side on
// one connection.
package mirror

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

// Remote is the server side of a mirror: the operations it needs of a
// client. *ftpclient.Client and *sftpclient.Client have them.
type Remote interface {
	Stat(ctx context.Context, path string) (ftp.Entry, error)
	WalkConcurrent(ctx context.Context, root string, parallel int, fn ftpclient.WalkFunc) error
	Retrieve(ctx context.Context, path string, offset int64, w io.Writer, opts ...ftpclient.TransferOption) (int64, error)
	Store(ctx context.Context, path string, r io.Reader, offset int64, opts ...ftpclient.TransferOption) (int64, error)
	Mkdir(ctx context.Context, path string) error
	Remove(ctx context.Context, path string) error
	RemoveDir(ctx context.Context, path string) error
	SetModTime(ctx context.Context, path string, t time.Time) error
	ModTime(ctx context.Context, path string) (time.Time, error)
}

var _ Remote = (*ftpclient.Client)(nil)

// featureLister is the optional interface of a Remote whose server
// announces what it can (FTP's FEAT). A Remote without it is taken to set
// modification times and to list them exactly, as SFTP does (setstat,
// attributes to the second).
type featureLister interface {
	Features() ftpclient.Features
}

// canSetTimes reports whether the server can set a file's modification
// time (FTP: MFMT).
func canSetTimes(c Remote) bool {
	if f, ok := c.(featureLister); ok {
		return f.Features().Has("MFMT")
	}
	return true
}

// needsModTimes reports whether listings lack exact times that the server
// gives file by file (FTP: LIST without MLSD, but MDTM).
func needsModTimes(c Remote) bool {
	if f, ok := c.(featureLister); ok {
		feats := f.Features()
		return !feats.Has("MLST") && feats.Has("MDTM")
	}
	return false
}

// Direction says which way a mirror copies.
type Direction int

const (
	// Download copies the server's tree to the local disk.
	Download Direction = iota
	// Upload copies the local tree to the server.
	Upload
)

// DefaultParallel is how many files a mirror transfers at once, and
// directories it lists at once, when Options.Parallel is not set.
const DefaultParallel = 4

// Options say what a mirror does and where it reports.
type Options struct {
	Direction Direction
	// Parallel is how many files are transferred, and directories listed,
	// at once; 0 means DefaultParallel.
	Parallel int
	// Delete removes what the source no longer has from the target, and
	// target entries in the way of a source entry of the other type.
	Delete bool
	// OnlyNewer transfers a file only when the target's copy is older,
	// not merely different.
	OnlyNewer bool
	// Include and Exclude are glob patterns (path.Match syntax) matched
	// against each entry's path relative to the mirrored directory, its
	// name, and the names and paths of the directories it is in. Exclude
	// leaves out files and directories ("build" leaves out every directory
	// named build); with Include, only the files it matches are mirrored
	// (directories are subject to Exclude only).
	Include, Exclude []string

	// TransferOptions are given to every Retrieve and Store.
	TransferOptions []ftpclient.TransferOption
	// Retry, when set, runs each file transfer: it calls try, and may
	// call it again after a failure it deems temporary. what names the
	// operation ("get docs/a.txt"). Without it a transfer is tried once.
	// Failures of the local side are wrapped in a *LocalError, which no
	// retry can mend.
	Retry func(ctx context.Context, what string, try func() error) error
	// Progress, when set, is told of the bytes of files as they are
	// transferred. It is called from several goroutines at once.
	Progress func(n int64)
	// Report, when set, is told of each change made and each failure or
	// warning. Its calls are never concurrent.
	Report func(Event)
}

// Validate checks the options: Parallel not negative, patterns well
// formed.
func (o *Options) Validate() error {
	if o.Parallel < 0 {
		return fmt.Errorf("mirror: Parallel must not be negative, not %d", o.Parallel)
	}
	if o.Direction != Download && o.Direction != Upload {
		return fmt.Errorf("mirror: unknown direction %d", o.Direction)
	}
	_, err := newFilter(o.Include, o.Exclude)
	return err
}

func (o *Options) parallel() int {
	if o.Parallel <= 0 {
		return DefaultParallel
	}
	return o.Parallel
}

// Op is the kind of an Event.
type Op int

const (
	OpList     Op = iota // list a directory (failures and warnings only)
	OpFollow             // follow a symbolic link (failures and warnings only)
	OpMkdir              // make a target directory; Path "" is the target itself
	OpGet                // download a file
	OpPut                // upload a file
	OpDelete             // delete a target file
	OpRmdir              // remove a target directory
	OpSetTime            // set a local directory's modification time (warnings only)
	OpSetTimes           // set modification times on the server: it cannot (a warning)
)

var opNames = [...]string{"list", "follow", "mkdir", "get", "put", "delete", "rmdir", "set time of", "set modification times"}

func (op Op) String() string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

// Event is a change a mirror made, or a failure or warning.
type Event struct {
	Op Op
	// Path is the entry's path relative to the mirrored directories,
	// slash-separated; "" is the directory itself.
	Path string
	// Reason says why a file is transferred (OpGet, OpPut): "new", "size
	// differs", "time differs", "newer".
	Reason string
	// Bytes is how much a transfer moved.
	Bytes int64
	// Err is nil for a change made. Otherwise it is a failure, which
	// makes the mirror incomplete, unless Warning is set: something left
	// alone.
	Err     error
	Warning bool
}

// What names the operation and its path, as in "get docs/a.txt" or
// "list .".
func (e Event) What() string {
	if e.Op == OpSetTimes {
		return e.Op.String()
	}
	return e.Op.String() + " " + show(e.Path)
}

// Result counts what a mirror did.
type Result struct {
	Transferred int   // files
	Bytes       int64 // in the files transferred
	Deleted     int   // files and directories
	UpToDate    int   // files left as they were
	Failed      int   // failures, reported as events; listing's included
}

// ErrIncomplete is wrapped by the error of a mirror that finished but
// failed to list, copy, create or delete something.
var ErrIncomplete = errors.New("mirror incomplete")

// ErrInTheWay is wrapped by the failure of a source entry whose target is
// an entry of the other type (a file where a directory should be, or the
// reverse), when Options.Delete is not set to replace it.
var ErrInTheWay = errors.New("the target is in the way")

// LocalError marks a failure of the local side (disk full, permission
// denied on a local file): retrying the network does not help.
type LocalError struct{ Err error }

func (e *LocalError) Error() string { return e.Err.Error() }
func (e *LocalError) Unwrap() error { return e.Err }

func local(err error) error {
	if err == nil {
		return nil
	}
	return &LocalError{err}
}

// Copy is one file a Plan transfers.
type Copy struct {
	Path   string // relative, slash-separated
	Size   int64  // the source's
	Reason string // "new", "size differs", "time differs" or "newer"

	src, dst entry // dst: the target's copy, when hasDst
	hasDst   bool
}

// Plan is what a mirror will do, in the order it does it. Its lists hold
// relative, slash-separated paths.
type Plan struct {
	MakeRoot bool     // the target directory does not exist
	Clear    []string // target entries in the way of a source entry of the other type (Delete)
	Mkdirs   []string // directories to make, parents first
	Copies   []Copy
	Removes  []string // target files the source does not have (Delete)
	Rmdirs   []string // target directories likewise, deepest first
	UpToDate int      // files already the same
	Bytes    int64    // to transfer
	Failed   int      // failures met listing and comparing, already reported

	job    *job
	src    *tree
	target *tree
}

// Compare lists the directory remote on the server c and the local
// directory local, compares them and returns what a mirror in
// opts.Direction would do. The target directory need not exist. Problems
// with single entries are reported and counted in Plan.Failed; the error
// is for what stops the mirror as a whole: the source cannot be listed,
// the target is not a directory, ctx is done.
func Compare(ctx context.Context, c Remote, remote, local string, opts Options) (*Plan, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	filter, _ := newFilter(opts.Include, opts.Exclude)
	j := &job{client: c, remote: remote, local: local, opts: opts, filter: filter, blocked: map[string]bool{}}
	src, dst, err := j.list(ctx)
	if err != nil {
		return nil, err
	}
	p := j.plan(ctx, src, dst)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.Failed = int(j.failures.Load())
	return p, nil
}

// Run mirrors as Compare and Plan.Run do together.
func Run(ctx context.Context, c Remote, remote, local string, opts Options) (Result, error) {
	p, err := Compare(ctx, c, remote, local, opts)
	if err != nil {
		return Result{}, err
	}
	return p.Run(ctx)
}

// Run does what the plan says, up to Options.Parallel things at once. It
// returns what was done and, when ctx ended it, ctx.Err(); when it
// finished with failures (the plan's included), an error wrapping
// ErrIncomplete. A Plan runs once.
func (p *Plan) Run(ctx context.Context) (Result, error) {
	j := p.job
	j.execute(ctx, p)
	r := Result{
		Transferred: int(j.transferred.Load()),
		Bytes:       j.bytes.Load(),
		Deleted:     int(j.deleted.Load()),
		UpToDate:    p.UpToDate,
		Failed:      int(j.failures.Load()),
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if r.Failed > 0 {
		noun := "failures"
		if r.Failed == 1 {
			noun = "failure"
		}
		return r, fmt.Errorf("%w: %d %s", ErrIncomplete, r.Failed, noun)
	}
	return r, nil
}

// job is one mirror: its options and what it has done so far.
type job struct {
	client Remote
	remote string // the server's directory, as the client takes paths
	local  string // the local directory
	opts   Options
	filter filter

	reportMu     sync.Mutex
	failures     atomic.Int64
	transferred  atomic.Int64
	bytes        atomic.Int64
	deleted      atomic.Int64
	noRemoteTime atomic.Bool // the server cannot set modification times

	mu      sync.Mutex
	blocked map[string]bool // target directories that could not be made
}

func (j *job) upload() bool { return j.opts.Direction == Upload }

func (j *job) report(e Event) {
	if e.Err != nil && !e.Warning {
		j.failures.Add(1)
	}
	if j.opts.Report == nil {
		return
	}
	j.reportMu.Lock()
	defer j.reportMu.Unlock()
	j.opts.Report(e)
}

func (j *job) fail(op Op, rel string, err error) {
	j.report(Event{Op: op, Path: rel, Err: err})
}

func (j *job) warn(op Op, rel string, err error) {
	j.report(Event{Op: op, Path: rel, Err: err, Warning: true})
}

// copyOp is the operation of a file transfer in this mirror's direction.
func (j *job) copyOp() Op {
	if j.upload() {
		return OpPut
	}
	return OpGet
}

// list reads both trees, at the same time. The target tree is nil when
// the target directory does not exist yet.
func (j *job) list(ctx context.Context) (src, dst *tree, err error) {
	var (
		remote, localTree   *tree
		remoteErr, localErr error
		wg                  sync.WaitGroup
	)
	wg.Go(func() {
		remote, remoteErr = j.listRemote(ctx)
		if remoteErr != nil && j.upload() && ftpclient.IsNotExist(remoteErr) {
			remote, remoteErr = nil, nil // the target, made by the mirror
		}
	})
	wg.Go(func() {
		fi, err := os.Stat(j.local)
		switch {
		case err != nil && !j.upload() && errors.Is(err, fs.ErrNotExist):
			return // the target, made by the mirror
		case err != nil:
			localErr = err
			return
		case !fi.IsDir():
			localErr = fmt.Errorf("%s is not a directory", j.local)
			return
		}
		localTree, localErr = j.listLocal(ctx)
	})
	wg.Wait()
	if err := cmp.Or(remoteErr, localErr); err != nil {
		return nil, nil, err
	}
	if j.upload() {
		return localTree, remote, nil
	}
	return remote, localTree, nil
}

// plan compares the trees. dst is nil when the target does not exist.
func (j *job) plan(ctx context.Context, src, dst *tree) *Plan {
	p := &Plan{job: j, src: src, target: dst}
	if dst == nil {
		p.MakeRoot = true
		p.target = newTree()
		dst = p.target
	}
	remote := src
	if j.upload() {
		remote = dst
	}
	j.refineRemoteTimes(ctx, remote, src, dst)

	blocked := map[string]bool{} // source directories whose target is in the way
	// The upload of a file whose time the server cannot set leaves the
	// copy newer than the source, so only a newer source counts then.
	newerOnly := j.opts.OnlyNewer || (j.upload() && !canSetTimes(j.client))
	for _, rel := range slices.Sorted(maps.Keys(src.entries)) {
		if rel == "" || blocked[parent(rel)] {
			if rel != "" {
				blocked[rel] = true
			}
			continue
		}
		s := src.entries[rel]
		d, exists := dst.entries[rel]
		if exists && d.dir != s.dir {
			if !j.opts.Delete {
				what := "a directory"
				if !s.dir {
					what = "a file"
				}
				j.fail(j.copyOp(), rel, fmt.Errorf("%w: it is not %s", ErrInTheWay, what))
				blocked[rel] = true
				continue
			}
			p.Clear = append(p.Clear, rel)
			exists = false
		}
		if s.dir {
			if !exists {
				p.Mkdirs = append(p.Mkdirs, rel)
			}
			continue
		}
		reason := ""
		switch {
		case !exists:
			reason = "new"
		case newerOnly:
			if !d.mtime.IsZero() && !s.mtime.IsZero() && second(s.mtime).After(second(d.mtime)) {
				reason = "newer"
			} else if !j.opts.OnlyNewer && s.size != d.size {
				reason = "size differs"
			}
		case s.size != d.size:
			reason = "size differs"
		case !s.mtime.IsZero() && !d.mtime.IsZero() && !second(s.mtime).Equal(second(d.mtime)):
			reason = "time differs"
		}
		if reason == "" {
			p.UpToDate++
			continue
		}
		p.Copies = append(p.Copies, Copy{Path: rel, Size: s.size, Reason: reason, src: s, dst: d, hasDst: exists})
		p.Bytes += s.size
	}
	if j.opts.Delete {
		for _, rel := range slices.Sorted(maps.Keys(dst.entries)) {
			if rel == "" || src.underPartial(rel) || underAny(rel, p.Clear) {
				continue
			}
			d := dst.entries[rel]
			if s, ok := src.entries[rel]; ok && s.dir == d.dir {
				continue
			}
			if slices.Contains(p.Clear, rel) {
				continue
			}
			switch {
			case !d.dir:
				p.Removes = append(p.Removes, rel)
			case !dst.kept[rel]:
				p.Rmdirs = append(p.Rmdirs, rel)
			}
		}
		DeepestFirst(p.Rmdirs)
	}
	return p
}

// refineRemoteTimes asks the server for exact modification times (MDTM)
// where its listing gave none to trust: a LIST line shows minutes at best,
// in the server's time zone. Only files on both sides with the same size
// need it; the others are copied anyway.
func (j *job) refineRemoteTimes(ctx context.Context, remote, src, dst *tree) {
	if remote == nil || !needsModTimes(j.client) {
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
		case ok && !d.dir && (s.size == d.size || j.opts.OnlyNewer):
			rels = append(rels, rel)
		}
	}
	times := make([]time.Time, len(rels))
	j.each(ctx, len(rels), func(i int) {
		// On an error the time stays unknown: sizes alone are compared.
		times[i], _ = j.client.ModTime(ctx, remotePath(j.remote, rels[i]))
	})
	for i, rel := range rels {
		e := remote.entries[rel]
		e.mtime = times[i]
		remote.entries[rel] = e
	}
}

// second drops what is below the second: what MFMT and MDTM can carry.
func second(t time.Time) time.Time { return t.Truncate(time.Second) }
