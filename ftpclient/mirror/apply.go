package mirror

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ferry-ftp/ferry/ftpclient"
)

func (j *job) execute(ctx context.Context, p *Plan) {
	if p.MakeRoot {
		if err := j.makeRoot(ctx); err != nil {
			j.fail(OpMkdir, "", err)
			return
		}
		j.report(Event{Op: OpMkdir})
	}
	for _, rel := range p.Clear {
		j.removeTree(ctx, p.target, rel)
	}
	mkdirs := slices.Clone(p.Mkdirs)
	slices.SortStableFunc(mkdirs, func(a, b string) int { return depth(a) - depth(b) })
	j.byDepth(ctx, mkdirs, func(rel string) { j.mkdir(ctx, rel) })
	j.each(ctx, len(p.Copies), func(i int) { j.copy(ctx, p.Copies[i]) })
	j.each(ctx, len(p.Removes), func(i int) { j.remove(ctx, p.Removes[i], false) })
	j.byDepth(ctx, p.Rmdirs, func(rel string) { j.remove(ctx, rel, true) })
	if !j.upload() {
		j.setLocalDirTimes(ctx, p.src)
	}
}

// each runs fn(0) … fn(n-1) on up to Parallel goroutines, until the
// context is done.
func (j *job) each(ctx context.Context, n int, fn func(i int)) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(j.opts.parallel(), n) {
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
func (j *job) byDepth(ctx context.Context, rels []string, fn func(rel string)) {
	for len(rels) > 0 && ctx.Err() == nil {
		d := depth(rels[0])
		end := 1
		for end < len(rels) && depth(rels[end]) == d {
			end++
		}
		group := rels[:end]
		j.each(ctx, len(group), func(i int) { fn(group[i]) })
		rels = rels[end:]
	}
}

func (j *job) localPath(rel string) string {
	return filepath.Join(j.local, filepath.FromSlash(rel))
}

func (j *job) remotePath(rel string) string {
	return remotePath(j.remote, rel)
}

// block records that the target directory rel could not be made, so that
// nothing is tried below it.
func (j *job) block(rel string) {
	j.mu.Lock()
	j.blocked[rel] = true
	j.mu.Unlock()
}

// blockedDir reports whether the directory rel itself could not be made.
func (j *job) blockedDir(rel string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.blocked[rel]
}

// isBlocked reports whether a directory above rel could not be made.
func (j *job) isBlocked(rel string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for p := parent(rel); ; p = parent(p) {
		if j.blocked[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

func (j *job) makeRoot(ctx context.Context) error {
	if j.upload() {
		return MkdirAll(ctx, j.client, j.remote)
	}
	return os.MkdirAll(j.local, 0o777)
}

// MkdirAll makes the directory p on the server, and its parents, as
// os.MkdirAll does on the local disk.
func MkdirAll(ctx context.Context, c Remote, p string) error {
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
	if err := MkdirAll(ctx, c, parent); err != nil {
		return err
	}
	return c.Mkdir(ctx, p)
}

// mkdirExisting makes the directory p on the server; one that is there
// already (made meanwhile) is no failure.
func mkdirExisting(ctx context.Context, c Remote, p string) error {
	err := c.Mkdir(ctx, p)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if st, serr := c.Stat(ctx, p); serr == nil && st.IsDir() {
		return nil
	}
	return err
}

func (j *job) mkdir(ctx context.Context, rel string) {
	if j.isBlocked(rel) {
		j.block(rel)
		return
	}
	var err error
	if j.upload() {
		err = mkdirExisting(ctx, j.client, j.remotePath(rel))
	} else {
		err = local(os.Mkdir(j.localPath(rel), 0o777))
		if fi, serr := os.Stat(j.localPath(rel)); err != nil && serr == nil && fi.IsDir() {
			err = nil
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			j.fail(OpMkdir, rel, err)
		}
		j.block(rel)
		return
	}
	j.report(Event{Op: OpMkdir, Path: rel})
}

func (j *job) copy(ctx context.Context, c Copy) {
	if j.isBlocked(c.Path) {
		return // the failure to make its directory was reported
	}
	var (
		n   int64
		err error
	)
	try := func() error {
		if j.upload() {
			n, err = j.put(ctx, c)
		} else {
			n, err = j.get(ctx, c)
		}
		return err
	}
	if j.opts.Retry != nil {
		err = j.opts.Retry(ctx, j.copyOp().String()+" "+c.Path, try)
	} else {
		err = try()
	}
	if err != nil {
		if ctx.Err() == nil {
			j.fail(j.copyOp(), c.Path, err)
		}
		return
	}
	j.transferred.Add(1)
	j.bytes.Add(n)
	j.report(Event{Op: j.copyOp(), Path: c.Path, Reason: c.Reason, Bytes: n})
}

// progressWriter tells Options.Progress of the bytes written through it.
type progressWriter struct {
	w        io.Writer
	progress func(int64)
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.progress(int64(n))
	return n, err
}

type progressReader struct {
	r        io.Reader
	progress func(int64)
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.progress(int64(n))
	return n, err
}

// get writes the file to a temporary name beside its target and renames
// it into place once complete, with the server's modification time, so
// that an interrupted mirror never leaves a truncated file that looks like
// a copy.
func (j *job) get(ctx context.Context, c Copy) (int64, error) {
	target := j.localPath(c.Path)
	f, err := createTemp(filepath.Dir(target))
	if err != nil {
		return 0, local(err)
	}
	tmp := f.Name()
	var w io.Writer = f
	if j.opts.Progress != nil {
		w = progressWriter{f, j.opts.Progress}
	}
	n, err := j.client.Retrieve(ctx, j.remotePath(c.Path), 0, w, j.opts.TransferOptions...)
	if cerr := f.Close(); err == nil {
		err = local(cerr)
	}
	if err == nil && c.hasDst && c.dst.mode != 0 {
		err = local(os.Chmod(tmp, c.dst.mode.Perm()))
	}
	if err == nil && !c.src.mtime.IsZero() {
		err = local(os.Chtimes(tmp, c.src.mtime, c.src.mtime))
	}
	if err == nil {
		err = local(os.Rename(tmp, target))
	}
	if err != nil {
		os.Remove(tmp)
		return n, err
	}
	return n, nil
}

// createTemp creates a new file in dir for a download, with the
// permissions a new file gets (0666 less the umask), which os.CreateTemp
// would not give.
func createTemp(dir string) (*os.File, error) {
	for {
		var b [8]byte
		rand.Read(b[:])
		f, err := os.OpenFile(filepath.Join(dir, TempPrefix+hex.EncodeToString(b[:])), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

func (j *job) put(ctx context.Context, c Copy) (int64, error) {
	f, err := os.Open(j.localPath(c.Path))
	if err != nil {
		return 0, local(err)
	}
	defer f.Close()
	var r io.Reader = f
	if j.opts.Progress != nil {
		r = progressReader{f, j.opts.Progress}
	}
	target := j.remotePath(c.Path)
	n, err := j.client.Store(ctx, target, r, 0, j.opts.TransferOptions...)
	if err != nil {
		return n, err
	}
	if c.src.mtime.IsZero() || j.noRemoteTime.Load() {
		return n, nil
	}
	if err := j.client.SetModTime(ctx, target, c.src.mtime); err != nil {
		if !errors.Is(err, ftpclient.ErrUnsupported) {
			return n, err
		}
		if j.noRemoteTime.CompareAndSwap(false, true) {
			j.warn(OpSetTimes, "", errors.New("the server cannot (no MFMT): a file will be sent again when the local copy is newer"))
		}
	}
	return n, nil
}

func (j *job) remove(ctx context.Context, rel string, dir bool) {
	var err error
	switch {
	case j.upload() && dir:
		err = j.client.RemoveDir(ctx, j.remotePath(rel))
	case j.upload():
		err = j.client.Remove(ctx, j.remotePath(rel))
	default:
		err = local(os.Remove(j.localPath(rel)))
	}
	op := OpDelete
	if dir {
		op = OpRmdir
	}
	if err != nil {
		if ctx.Err() == nil {
			j.fail(OpDelete, rel, err)
		}
		return
	}
	j.deleted.Add(1)
	j.report(Event{Op: op, Path: rel})
}

// removeTree deletes the target entry rel and, for a directory, what the
// target tree holds below it.
func (j *job) removeTree(ctx context.Context, target *tree, rel string) {
	if !target.entries[rel].dir {
		j.remove(ctx, rel, false)
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
	j.each(ctx, len(files), func(i int) { j.remove(ctx, files[i], false) })
	dirs = append(dirs, rel)
	DeepestFirst(dirs)
	j.byDepth(ctx, dirs, func(r string) { j.remove(ctx, r, true) })
}

// setLocalDirTimes gives the local directories the modification times of
// the server's, deepest first since writing in a directory changes its
// time.
func (j *job) setLocalDirTimes(ctx context.Context, src *tree) {
	var dirs []string
	for rel, e := range src.entries {
		if e.dir && !e.mtime.IsZero() {
			dirs = append(dirs, rel)
		}
	}
	DeepestFirst(dirs)
	for _, rel := range dirs {
		if ctx.Err() != nil {
			return
		}
		if j.isBlocked(rel) || j.blockedDir(rel) {
			continue
		}
		t := src.entries[rel].mtime
		if err := os.Chtimes(j.localPath(rel), t, t); err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.warn(OpSetTime, rel, err)
		}
	}
}
