package sftpclient

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

// WalkConcurrent walks the tree rooted at root as
// [ftpclient.Client.WalkConcurrent] does, with the same order, concurrency
// and meaning of fn's results: fn is called for the root first, for a
// directory before its entries, for the entries of one directory one
// after the other in lexical order; up to parallel directories are listed
// (and fn calls run) at once. Symbolic links are not followed.
func (c *Client) WalkConcurrent(ctx context.Context, root string, parallel int, fn ftpclient.WalkFunc) error {
	p := c.abs(root)
	e, err := c.Stat(ctx, p)
	if err != nil {
		err = fn(p, e, err)
	} else {
		err = fn(p, e, nil)
	}
	if err != nil || !e.IsDir() {
		if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &walk{c: c, fn: fn, cancel: cancel, slots: make(chan struct{}, max(parallel, 1))}
	w.wg.Add(1)
	go w.dir(ctx, p, e)
	w.wg.Wait()
	if w.err != nil {
		if errors.Is(w.err, fs.SkipAll) {
			return nil
		}
		return w.err
	}
	return ctx.Err()
}

type walk struct {
	c      *Client
	fn     ftpclient.WalkFunc
	cancel context.CancelFunc
	slots  chan struct{} // bounds listings and fn calls at once
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // what stopped the walk
}

func (w *walk) stop(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.cancel()
}

// dir lists the directory p and calls fn for its entries, then walks its
// subdirectories, each on a goroutine of its own.
func (w *walk) dir(ctx context.Context, p string, e ftp.Entry) {
	defer w.wg.Done()
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	subdirs := w.entries(ctx, p, e)
	<-w.slots
	for _, d := range subdirs {
		w.wg.Add(1)
		go w.dir(ctx, d.path, d.e)
	}
}

type subdir struct {
	path string
	e    ftp.Entry
}

func (w *walk) entries(ctx context.Context, p string, e ftp.Entry) []subdir {
	entries, err := w.c.List(ctx, p)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		if err := w.fn(p, e, err); err != nil && !errors.Is(err, fs.SkipDir) {
			w.stop(err)
		}
		return nil
	}
	slices.SortFunc(entries, func(a, b ftp.Entry) int { return strings.Compare(a.Name, b.Name) })
	var subdirs []subdir
	for _, child := range entries {
		if ctx.Err() != nil {
			return nil
		}
		cp := path.Join(p, child.Name)
		err := w.fn(cp, child, nil)
		switch {
		case err == nil:
			if child.IsDir() {
				subdirs = append(subdirs, subdir{cp, child})
			}
		case errors.Is(err, fs.SkipDir):
			if !child.IsDir() {
				return subdirs // the rest of this directory
			}
		default:
			w.stop(err)
			return nil
		}
	}
	return subdirs
}
