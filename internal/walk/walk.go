// Package walk is the bounded-parallel tree walk that ftpclient and
// sftpclient both offer as WalkConcurrent. It is written once, over the
// two operations a client gives it (describe a path, list a directory),
// so that the order, concurrency and meaning of the callback's results
// are the same whichever protocol lists the tree.
package walk

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/ferry-ftp/ferry/ftp"
)

// Func is the callback of a walk (ftpclient.WalkFunc): called for the
// root with err nil (or, if the root cannot be described, with that
// error), for each entry below it, and for a directory a second time with
// the error if it cannot be listed.
type Func = func(p string, e ftp.Entry, err error) error

// StatFunc describes the file or directory p.
type StatFunc = func(ctx context.Context, p string) (ftp.Entry, error)

// ListFunc lists the directory dir, without "." and "..". Every entry's
// name must be one path element: joined to dir, "../x" or "a/b" would
// name another file, and a walk could climb back into the directory it
// is listing, for ever. A ListFunc leaves such names out and reports them
// in its error; entries it returns together with an error are walked when
// the callback, told that error, returns nil.
type ListFunc = func(ctx context.Context, dir string) ([]ftp.Entry, error)

// Concurrent walks the tree rooted at root (a path as stat and list take
// it) with up to parallel listings at once (at least one). It does not
// follow symbolic links: list describes them as links.
//
// fn is called for a directory before its entries, and for the entries of
// one directory one after the other, in lexical order, on one goroutine.
// The entries of different directories are passed to fn from several
// goroutines at the same time; at most parallel calls of fn run at once.
// Apart from that, directories are taken in no set order.
//
// fs.SkipDir returned for a directory skips it, returned for a file the
// rest of its directory's entries; fs.SkipAll or another error stops the
// walk: no listing starts and fn is called no more, except by calls
// already under way on other goroutines, and Concurrent returns the error
// (nil for fs.SkipAll). When ctx is done the walk stops likewise and
// returns ctx.Err().
func Concurrent(ctx context.Context, root string, parallel int, stat StatFunc, list ListFunc, fn Func) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e, err := stat(ctx, root)
	if err != nil {
		err = fn(root, e, err)
	} else {
		err = fn(root, e, nil)
	}
	if err != nil || !e.IsDir() {
		if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
			return nil
		}
		return err
	}
	w := &walker{list: list, fn: fn, cancel: cancel, queue: []dir{{root, e}}}
	w.wake = sync.NewCond(&w.mu)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Go(func() { w.work(ctx) })
	}
	wg.Wait()
	if w.stopped {
		if errors.Is(w.err, fs.SkipAll) {
			return nil
		}
		return w.err
	}
	return ctx.Err()
}

// Join names the entry name of the directory dir: as path.Join for an
// absolute dir; a relative one (from the login directory) stays relative
// and is not cleaned, since the server resolves it.
func Join(dir, name string) string {
	if strings.HasPrefix(dir, "/") {
		return path.Join(dir, name)
	}
	if dir == "" {
		return name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}

// dir is a directory the walk has yet to list.
type dir struct {
	path  string
	entry ftp.Entry
}

// walker is the state of one walk: a stack of directories to list, shared
// by a fixed set of workers, so that a wide tree costs memory for its
// pending paths, not a goroutine for each.
type walker struct {
	list   ListFunc
	fn     Func
	cancel context.CancelFunc

	mu      sync.Mutex
	wake    *sync.Cond // a directory was queued, or the walk ended
	queue   []dir
	busy    int  // workers listing a directory or calling fn for it
	stopped bool // fn returned an error: no more listings or calls
	err     error
}

func (w *walker) work(ctx context.Context) {
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && w.busy > 0 && !w.stopped && ctx.Err() == nil {
			w.wake.Wait()
		}
		if len(w.queue) == 0 || w.stopped || ctx.Err() != nil {
			// Nothing left, and nobody who could queue more: the others
			// waiting must hear it too.
			w.wake.Broadcast()
			w.mu.Unlock()
			return
		}
		d := w.queue[len(w.queue)-1]
		w.queue = w.queue[:len(w.queue)-1]
		w.busy++
		w.mu.Unlock()

		children := w.dir(ctx, d)

		w.mu.Lock()
		w.busy--
		// Pushed last first, so that they are taken in lexical order.
		for _, child := range slices.Backward(children) {
			w.queue = append(w.queue, child)
		}
		w.wake.Broadcast()
		w.mu.Unlock()
	}
}

// dir lists the directory d, passes its entries to fn and returns the
// subdirectories to walk.
func (w *walker) dir(ctx context.Context, d dir) []dir {
	entries, err := w.list(ctx, d.path)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if !w.call(d.path, d.entry, err) {
			return nil
		}
	}
	slices.SortFunc(entries, func(a, b ftp.Entry) int { return strings.Compare(a.Name, b.Name) })
	var dirs []dir
	for _, child := range entries {
		// Checked before each call, not after: a walk that ends, by fn's
		// error or by ctx, ends for the rest of this directory too.
		if w.isStopped() || ctx.Err() != nil {
			return nil
		}
		p := Join(d.path, child.Name)
		switch err := w.result(w.fn(p, child, nil)); {
		case err == nil:
			if child.IsDir() {
				dirs = append(dirs, dir{p, child})
			}
		case !errors.Is(err, fs.SkipDir):
			return nil // the walk stopped
		case !child.IsDir():
			return dirs // the rest of this directory is skipped
		}
	}
	return dirs
}

// call passes a listing error to fn and reports whether to go on with the
// entries that came with it.
func (w *walker) call(p string, e ftp.Entry, listErr error) bool {
	if w.isStopped() {
		return false
	}
	err := w.result(w.fn(p, e, listErr))
	return err == nil
}

// result stops the walk when fn returned an error other than fs.SkipDir,
// and returns that error.
func (w *walker) result(err error) error {
	if err == nil || errors.Is(err, fs.SkipDir) {
		return err
	}
	w.mu.Lock()
	if !w.stopped {
		w.stopped, w.err = true, err
		w.wake.Broadcast()
	}
	w.mu.Unlock()
	w.cancel()
	return err
}

func (w *walker) isStopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}
