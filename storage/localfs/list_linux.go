//go:build linux

package localfs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// pipeLister lists a directory on Linux. It reads names with getdents64
// into a buffer of its own and describes each entry with fstatat(2) on the
// directory's descriptor, in a pipeline: one goroutine reads the names of
// the next batch while workers (one per CPU, at most four) lstat the
// batches before it and the caller formats the one before those: done one
// after the other, reading names and describing them are most of a LIST's
// time (bench/RESULTS.md). At most pipeDepth batches are in flight, so memory stays flat
// whatever the directory's size.
type pipeLister struct {
	ctx  context.Context
	fsys *FS
	name string
	dir  *os.File // open until the pipeline has stopped
	fd   int

	started bool
	order   chan *statBatch // batches in directory order, for Next
	stop    chan struct{}   // closed by Close
	wg      sync.WaitGroup  // the reader and the workers
	rest    []fs.FileInfo   // described but not yet returned by Next
	err     error           // returned once rest is empty
	done    bool
}

// pipeBatch is how many names one worker describes at a time; pipeDepth is
// how many batches may be read ahead of the caller.
const (
	pipeBatch = 256
	pipeDepth = 4
)

type statBatch struct {
	names []string
	infos []fs.FileInfo
	err   error // what ended the listing after names: a stat or read error
	ready chan struct{}
}

// fastLister returns the pipelined lister for the open directory f.
func (fsys *FS) fastLister(ctx context.Context, name string, f *os.File) ftpserver.DirLister {
	return &pipeLister{ctx: ctx, fsys: fsys, name: name, dir: f, fd: int(f.Fd())}
}

// readNames reads at least min names (fewer at the end of the directory),
// leaving out "." and ".." and upload temporary files.
func (l *pipeLister) readNames(buf []byte, min int) ([]string, error) {
	names := make([]string, 0, min)
	var scratch []string
	for len(names) < min {
		n, err := unix.Getdents(l.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, l.fsys.wrap("readdir", l.name, err)
		}
		if n <= 0 {
			return names, io.EOF
		}
		for b := buf[:n]; len(b) > 0; {
			var used int
			used, _, scratch = unix.ParseDirent(b, -1, scratch[:0])
			b = b[used:]
			for _, nm := range scratch {
				if !isTemp(nm) {
					names = append(names, nm)
				}
			}
		}
	}
	return names, nil
}

// Next implements ftpserver.DirLister.
func (l *pipeLister) Next(n int) ([]fs.FileInfo, error) {
	if l.dir == nil {
		return nil, &fs.PathError{Op: "readdir", Path: l.name, Err: fs.ErrClosed}
	}
	if err := ctxErr(l.ctx, "readdir", l.name); err != nil {
		return nil, err
	}
	if n <= 0 {
		n = defaultBatch
	}
	for len(l.rest) == 0 {
		if l.err != nil {
			err := l.err
			l.err = nil
			l.done = true
			return nil, err
		}
		if l.done {
			return nil, io.EOF
		}
		if !l.started {
			l.start()
			continue
		}
		b, ok := <-l.order
		if !ok {
			l.done = true
			continue
		}
		select {
		case <-b.ready:
		case <-l.ctx.Done():
			return nil, ctxErr(l.ctx, "readdir", l.name)
		}
		l.rest, l.err = b.infos, b.err
	}
	k := min(n, len(l.rest))
	out := l.rest[:k:k]
	l.rest = l.rest[k:]
	return out, nil
}

// start reads the first batch. A small directory is described right here;
// a larger one starts the pipeline.
func (l *pipeLister) start() {
	l.started = true
	buf := make([]byte, 16<<10)
	names, err := l.readNames(buf, pipeBatch)
	if err != nil {
		// All that could be read is in names.
		l.done = true
		l.rest, l.err = l.describe(names)
		if l.err == nil && !errors.Is(err, io.EOF) {
			l.err = err
		}
		return
	}
	l.order = make(chan *statBatch, pipeDepth)
	l.stop = make(chan struct{})
	jobs := make(chan *statBatch, pipeDepth)
	workers := min(runtime.GOMAXPROCS(0), 4)
	l.wg.Add(1 + workers)
	for range workers {
		go func() {
			defer l.wg.Done()
			for b := range jobs {
				select {
				case <-l.stop:
				default:
					b.infos, b.err = l.describe(b.names)
				}
				close(b.ready)
			}
		}()
	}
	go func() {
		defer l.wg.Done()
		defer close(l.order)
		defer close(jobs)
		for {
			if len(names) > 0 {
				b := &statBatch{names: names, ready: make(chan struct{})}
				if !l.send(l.order, b) {
					return
				}
				if !l.send(jobs, b) {
					close(b.ready)
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					b := &statBatch{err: err, ready: make(chan struct{})}
					close(b.ready)
					l.send(l.order, b)
				}
				return
			}
			names, err = l.readNames(buf, pipeBatch)
		}
	}()
}

// send hands b on unless Close stops the pipeline first.
func (l *pipeLister) send(ch chan<- *statBatch, b *statBatch) bool {
	select {
	case ch <- b:
		return true
	case <-l.stop:
		return false
	}
}

// describe lstats names in the directory, leaving out entries removed since
// the directory was read.
func (l *pipeLister) describe(names []string) ([]fs.FileInfo, error) {
	all := make([]statInfo, len(names))
	infos := make([]fs.FileInfo, 0, len(names))
	var st unix.Stat_t
	for i, nm := range names {
		err := unix.Fstatat(l.fd, nm, &st, unix.AT_SYMLINK_NOFOLLOW)
		for err == unix.EINTR {
			err = unix.Fstatat(l.fd, nm, &st, unix.AT_SYMLINK_NOFOLLOW)
		}
		switch {
		case err == unix.ENOENT:
			continue
		case err != nil:
			return infos, l.fsys.wrap("lstat", path.Join(l.name, nm), err)
		}
		all[i].set(nm, &st)
		infos = append(infos, &all[i])
	}
	return infos, nil
}

// Close implements ftpserver.DirLister. It stops the pipeline and waits for
// it before the directory's descriptor is closed, so no fstatat can reach a
// descriptor number reused meanwhile.
func (l *pipeLister) Close() error {
	if l.dir == nil {
		return &fs.PathError{Op: "close", Path: l.name, Err: fs.ErrClosed}
	}
	if l.stop != nil {
		close(l.stop)
		l.wg.Wait()
	}
	err := l.dir.Close()
	l.dir = nil
	if err != nil {
		return l.fsys.wrap("close", l.name, err)
	}
	return nil
}

// statInfo is an fs.FileInfo from an lstat, shaped as os.Lstat's: Sys
// returns the *syscall.Stat_t.
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (fi *statInfo) set(name string, st *unix.Stat_t) {
	fi.name = name
	fi.st = syscall.Stat_t{
		Dev:     st.Dev,
		Ino:     st.Ino,
		Nlink:   st.Nlink,
		Mode:    st.Mode,
		Uid:     st.Uid,
		Gid:     st.Gid,
		Rdev:    st.Rdev,
		Size:    st.Size,
		Blksize: st.Blksize,
		Blocks:  st.Blocks,
		Atim:    syscall.Timespec{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec},
		Mtim:    syscall.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
		Ctim:    syscall.Timespec{Sec: st.Ctim.Sec, Nsec: st.Ctim.Nsec},
	}
}

func (fi *statInfo) Name() string       { return fi.name }
func (fi *statInfo) Size() int64        { return fi.st.Size }
func (fi *statInfo) IsDir() bool        { return fi.st.Mode&syscall.S_IFMT == syscall.S_IFDIR }
func (fi *statInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi *statInfo) Sys() any           { return &fi.st }

// Mode maps the Unix mode bits to fs.FileMode as os.Lstat does.
func (fi *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if fi.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if fi.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if fi.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
