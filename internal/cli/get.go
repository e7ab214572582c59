package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/ftp"
)

func init() { register(newGetCommand) }

type getOptions struct {
	clientOptions
	resume    bool
	segments  int
	limitRate string
	noVerify  bool
}

func newGetCommand(env Env) *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get [-c] [--segments N] [--limit-rate RATE] [--compress] URL [LOCAL]",
		Short: "Download a file",
		Long: `Download the file URL names to LOCAL (default: its base name in the current
directory; a directory LOCAL receives the file under its base name).

The download writes LOCAL in place, so an interrupted one leaves what arrived
and -c continues it from there (REST). Broken transfers are resumed
automatically on temporary errors. With --segments N the file is fetched over
N connections at once, each a range of it (a status file LOCAL.ferry-segments
remembers their progress for -c until the download is complete).

When the server offers a digest (HASH, XSHA256, XMD5, ...) the local copy is
checked against it, and a mismatch is an error. The local file gets the
remote modification time.

sftp:// URLs name files on an SSH server: the path is absolute
(sftp://host/~/x is x in the login directory), the host key is checked
against ~/.ssh/known_hosts as ssh does (--known-hosts, --accept-new-host-key),
and the login uses the URL's or --user's password, -i keys, OpenSSH's
default keys or ssh-agent.`,
		Example: `  ferry get ftp://ftp.example.com/pub/file.iso
  ferry get -c --segments 4 --limit-rate 8M ftpes://alice@example.com/big.tar ~/Downloads/
  ferry get sftp://alice@example.com/~/reports/q3.pdf`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd.Context(), env, &o, args)
		},
	}
	fl := cmd.Flags()
	o.register(cmd)
	fl.BoolVarP(&o.resume, "continue", "c", false, "continue a partial download from the local file's size")
	fl.IntVar(&o.segments, "segments", 1, "download over N connections at once, each a part of the file")
	fl.StringVar(&o.limitRate, "limit-rate", "", "limit the transfer rate to RATE bytes/s (500K, 8M, ...)")
	fl.BoolVar(&o.noVerify, "no-verify", false, "do not check the download against the server's digest")
	o.remote.registerCompress(fl)
	return cmd
}

func runGet(ctx context.Context, env Env, o *getOptions, args []string) error {
	r, err := parseRemoteURL(args[0])
	if err != nil {
		return err
	}
	base, err := remoteBase(r)
	if err != nil {
		return err
	}
	local := base
	if len(args) == 2 {
		local = localTarget(args[1], base)
	}
	rateBytes, err := parseRate(o.limitRate)
	if err != nil {
		return err
	}
	if o.segments < 1 {
		return fmt.Errorf("--segments must be at least 1")
	}
	pg, rt := o.transferProgress(env)
	c, err := connect(ctx, env, &o.remote, rt, r, o.segments)
	if err != nil {
		return err
	}
	defer c.Close()

	d := &download{
		c:          c,
		remotePath: r.resolve(),
		display:    r.String(),
		limit:      newRateLimit(rateBytes),
		rt:         rt,
	}
	var st ftp.Entry
	err = rt.do(ctx, "stat "+d.display, func(int) error {
		st, err = c.Stat(ctx, d.remotePath)
		return err
	})
	if err != nil {
		return fmt.Errorf("get %s: %w", d.display, err)
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory (ferry mirror copies trees)", d.display)
	}
	d.size, d.mtime = st.Size, st.ModTime

	d.bar = pg.bar(base, d.size)
	err = d.toFile(ctx, local, o.resume, o.segments)
	if err != nil {
		d.bar.abort()
		pg.wait()
		return fmt.Errorf("get %s: %w", d.display, err)
	}
	d.bar.done()
	pg.wait()

	if !o.noVerify {
		algo, err := verifyLocalFile(ctx, c, d.remotePath, local)
		if err := reportVerify(env, pg, local, algo, err); err != nil {
			return fmt.Errorf("get %s: %w", d.display, err)
		}
	}
	if !d.mtime.IsZero() {
		if err := os.Chtimes(local, d.mtime, d.mtime); err != nil {
			fmt.Fprintf(env.Stderr, "ferry: warning: keeping the modification time: %v\n", err)
		}
	}
	return nil
}

// localTarget is where a download named base goes when the user said dst:
// into dst when it is a directory (or ends with a separator), else dst.
func localTarget(dst, base string) string {
	if strings.HasSuffix(dst, "/") || strings.HasSuffix(dst, string(filepath.Separator)) {
		return filepath.Join(dst, base)
	}
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		return filepath.Join(dst, base)
	}
	return dst
}

// download is one file being fetched.
type download struct {
	c          remoteClient
	remotePath string
	display    string
	size       int64
	mtime      time.Time
	limit      *rateLimit
	bar        *progressBar
	rt         *retrier
}

// Segments smaller than this are not worth a connection of their own.
const minSegment = 256 << 10

func segmentStatePath(local string) string { return local + ".ferry-segments" }

// toFile downloads into local, from its current size when resume is set,
// over up to segments connections.
func (d *download) toFile(ctx context.Context, local string, resume bool, segments int) error {
	statePath := segmentStatePath(local)
	if _, err := os.Stat(local); !resume || err != nil {
		// A status file describes a local file that is gone or about
		// to be replaced: a later -c must not trust it.
		os.Remove(statePath)
	}
	if resume {
		st, err := loadSegmentState(statePath)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return permanent(fmt.Errorf("cannot continue: %w; download again without -c", err))
		}
		if err == nil {
			if st.Size != d.size {
				return permanent(fmt.Errorf("%s is from a download of a %d-byte file, the remote one now has %d bytes; download again without -c", statePath, st.Size, d.size))
			}
			f, err := os.OpenFile(local, os.O_WRONLY, 0)
			if err != nil {
				return permanent(err)
			}
			defer f.Close()
			return d.segmented(ctx, f, st, statePath)
		}
	}
	flags := os.O_WRONLY | os.O_CREATE
	if !resume {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(local, flags, 0o644)
	if err != nil {
		return permanent(err)
	}
	defer f.Close()
	var offset int64
	if resume {
		fi, err := f.Stat()
		if err != nil {
			return permanent(err)
		}
		offset = fi.Size()
		if offset > d.size {
			return permanent(fmt.Errorf("%s has %d bytes, more than the remote file's %d: not resuming", local, offset, d.size))
		}
		if offset == d.size {
			d.bar.setCurrent(offset)
			return nil // already complete
		}
	}
	if n := segmentCount(d.size-offset, segments); n > 1 && hasFeature(d.c, "REST") {
		st := newSegmentState(d.size, offset, n)
		if err := st.save(statePath); err != nil {
			return permanent(err)
		}
		if err := f.Truncate(d.size); err != nil {
			return permanent(err)
		}
		return d.segmented(ctx, f, st, statePath)
	}
	return d.sequential(ctx, f, offset)
}

// sequential downloads over one connection from offset, resuming where a
// broken transfer stopped.
func (d *download) sequential(ctx context.Context, f *os.File, offset int64) error {
	written := offset
	d.bar.setCurrent(offset)
	return d.rt.do(ctx, "get "+d.display, func(int) error {
		if _, err := f.Seek(written, io.SeekStart); err != nil {
			return permanent(err)
		}
		var w io.Writer = &localWriter{w: f, n: &written}
		w = d.limit.writer(ctx, d.bar.writer(w))
		_, err := d.c.Retrieve(ctx, d.remotePath, written, w)
		return err
	})
}

// localWriter writes a download to w (a file, standard output), counting
// into n what arrived; its errors (a full disk, a closed pipe) are local,
// not worth a retry.
type localWriter struct {
	w io.Writer
	n *int64
}

func (l *localWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	*l.n += int64(n)
	return n, permanent(err)
}

// segmentCount is how many segments a download of size bytes is split
// into: at most want, each at least minSegment.
func segmentCount(size int64, want int) int {
	if want <= 1 || size < 2*minSegment {
		return 1
	}
	return int(min(int64(want), size/minSegment))
}

// segmentState is the progress of a segmented download, kept beside the
// local file so that -c can continue each segment where it stopped.
type segmentState struct {
	Size     int64     `json:"size"`
	Segments []segment `json:"segments"`

	mu sync.Mutex
}

type segment struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"` // exclusive
	Done  int64 `json:"done"`
}

func newSegmentState(size, offset int64, n int) *segmentState {
	st := &segmentState{Size: size}
	span := (size - offset) / int64(n)
	start := offset
	for i := range n {
		end := start + span
		if i == n-1 {
			end = size
		}
		st.Segments = append(st.Segments, segment{Start: start, End: end})
		start = end
	}
	return st
}

func loadSegmentState(name string) (*segmentState, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var st segmentState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, s := range st.Segments {
		if s.Start < 0 || s.End < s.Start || s.Done < 0 || s.Done > s.End-s.Start || s.End > st.Size {
			return nil, fmt.Errorf("%s: inconsistent segment %+v", name, s)
		}
	}
	return &st, nil
}

// save writes the state atomically (a new file renamed over the old one),
// so a kill never leaves half a status file.
func (st *segmentState) save(name string) error {
	st.mu.Lock()
	data, err := json.Marshal(st)
	st.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// segmented downloads the segments of st at once, each over its own
// connection with REST and a read of exactly its length, writing at its
// offsets in f.
func (d *download) segmented(ctx context.Context, f *os.File, st *segmentState, statePath string) error {
	var already int64
	if len(st.Segments) > 0 {
		already = st.Segments[0].Start
	}
	for _, s := range st.Segments {
		already += s.Done
	}
	d.bar.setCurrent(already)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Save the progress now and then, so a killed download loses little.
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				st.save(statePath)
			}
		}
	}()

	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for i := range st.Segments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.rt.do(ctx, fmt.Sprintf("get %s (segment %d)", d.display, i+1), func(int) error {
				return d.fetchSegment(ctx, f, st, i)
			})
			if err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	cancel()
	<-saved
	if firstErr != nil {
		if err := st.save(statePath); err != nil {
			return errors.Join(firstErr, err)
		}
		return firstErr
	}
	if err := f.Sync(); err != nil {
		return permanent(err)
	}
	os.Remove(statePath)
	return nil
}

// fetchSegment downloads what remains of segment i.
func (d *download) fetchSegment(ctx context.Context, f *os.File, st *segmentState, i int) error {
	st.mu.Lock()
	seg := st.Segments[i]
	st.mu.Unlock()
	remaining := seg.End - seg.Start - seg.Done
	if remaining == 0 {
		return nil
	}
	last := seg.End == st.Size
	rd, err := d.c.Open(ctx, d.remotePath, seg.Start+seg.Done)
	if err != nil {
		return err
	}
	defer rd.Close()
	w := &segmentWriter{f: f, st: st, i: i, off: seg.Start + seg.Done}
	n, err := io.CopyN(d.bar.writer(w), d.limit.reader(ctx, rd), remaining)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return permanent(fmt.Errorf("the file ended after %d bytes: it shrank during the download", seg.Start+seg.Done+n))
		}
		return err
	}
	if last {
		// Read on to the end, so that the server's final reply is
		// checked; a file that grew meanwhile is not followed.
		var one [1]byte
		if _, err := rd.Read(one[:]); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}

// segmentWriter writes a segment at its offsets and records its progress
// once the bytes are in the file.
type segmentWriter struct {
	f   *os.File
	st  *segmentState
	i   int
	off int64
}

func (w *segmentWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	w.st.mu.Lock()
	w.st.Segments[w.i].Done += int64(n)
	w.st.mu.Unlock()
	return n, permanent(err)
}
