package storagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Faults says what a FaultFS injects and how often. Each rate is the
// probability, from 0 to 1, that one call (or one Read, Write or Next)
// gets that fault.
type Faults struct {
	// Seed makes a run repeatable (as far as the order of concurrent
	// calls allows).
	Seed uint64
	// Error makes a call fail before it reaches the backend, so the
	// backend is left as it was.
	Error float64
	// ShortWrite makes a Write store only part of its buffer and fail.
	ShortWrite float64
	// Slow makes a call wait for Delay first (or until its context is
	// done).
	Slow  float64
	Delay time.Duration
	// Errs are the errors a fault picks from; nil means an I/O error, disk
	// full, quota exceeded, permission denied and storage unavailable.
	Errs []error
}

// ErrInjected marks every error a FaultFS makes up.
var ErrInjected = errors.New("injected fault")

// DefaultFaultErrors are the errors Faults.Errs defaults to.
var DefaultFaultErrors = []error{
	syscall.EIO,
	ftpserver.ErrNoSpace,
	ftpserver.ErrQuota,
	fs.ErrPermission,
	ftpserver.ErrUnavailable,
}

// FaultFS wraps a FileSystem and makes its calls fail, write short or
// stall at random, to show that a server over a failing storage answers
// every failure with an error reply, never reports data it did not store,
// and keeps serving. Faults are injected before a call reaches the
// backend, so a failed call changed nothing there, except that a Write
// cut short stores a prefix in the upload (which its Abort then drops as
// the backend's contract says) and a failed Commit aborts the upload as a
// failed Commit must.
//
// Optional capabilities (Chmoder, SpaceReporter, Hasher) are not passed
// through.
type FaultFS struct {
	inner  ftpserver.FileSystem
	faults Faults

	mu  sync.Mutex
	rng *rand.Rand

	enabled  atomic.Bool
	injected atomic.Int64
}

// NewFaultFS returns inner wrapped with faults, enabled.
func NewFaultFS(inner ftpserver.FileSystem, faults Faults) *FaultFS {
	if faults.Errs == nil {
		faults.Errs = DefaultFaultErrors
	}
	f := &FaultFS{inner: inner, faults: faults, rng: rand.New(rand.NewPCG(faults.Seed, faults.Seed^0x9e3779b97f4a7c15))}
	f.enabled.Store(true)
	return f
}

// SetEnabled turns the faults on or off (to check the backend's state
// afterwards through the same wrapper, say).
func (f *FaultFS) SetEnabled(on bool) { f.enabled.Store(on) }

// Injected reports how many faults have been injected so far.
func (f *FaultFS) Injected() int64 { return f.injected.Load() }

// roll reports whether an event of probability p happens, and a random
// number for the fault's details.
func (f *FaultFS) roll(p float64) (bool, int) {
	if p <= 0 || !f.enabled.Load() {
		return false, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < p, f.rng.IntN(1 << 30)
}

// fault is the error injected into op, or nil; it also stalls the call
// when Slow says so.
func (f *FaultFS) fault(ctx context.Context, op string) error {
	if slow, _ := f.roll(f.faults.Slow); slow {
		t := time.NewTimer(f.faults.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	hit, n := f.roll(f.faults.Error)
	if !hit {
		return nil
	}
	f.injected.Add(1)
	return fmt.Errorf("%w in %s: %w", ErrInjected, op, f.faults.Errs[n%len(f.faults.Errs)])
}

func (f *FaultFS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if err := f.fault(ctx, "Stat"); err != nil {
		return nil, err
	}
	return f.inner.Stat(ctx, name)
}

func (f *FaultFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if err := f.fault(ctx, "Open"); err != nil {
		return nil, err
	}
	r, err := f.inner.Open(ctx, name, offset)
	if err != nil {
		return nil, err
	}
	return &faultReader{f: f, ctx: ctx, r: r}, nil
}

func (f *FaultFS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	if err := f.fault(ctx, "Create"); err != nil {
		return nil, err
	}
	w, err := f.inner.Create(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	return &faultWriter{f: f, ctx: ctx, w: w}, nil
}

func (f *FaultFS) List(ctx context.Context, name string) (ftpserver.DirLister, error) {
	if err := f.fault(ctx, "List"); err != nil {
		return nil, err
	}
	l, err := f.inner.List(ctx, name)
	if err != nil {
		return nil, err
	}
	return &faultLister{f: f, ctx: ctx, l: l}, nil
}

func (f *FaultFS) Mkdir(ctx context.Context, name string) error {
	if err := f.fault(ctx, "Mkdir"); err != nil {
		return err
	}
	return f.inner.Mkdir(ctx, name)
}

func (f *FaultFS) Remove(ctx context.Context, name string) error {
	if err := f.fault(ctx, "Remove"); err != nil {
		return err
	}
	return f.inner.Remove(ctx, name)
}

func (f *FaultFS) RemoveDir(ctx context.Context, name string) error {
	if err := f.fault(ctx, "RemoveDir"); err != nil {
		return err
	}
	return f.inner.RemoveDir(ctx, name)
}

func (f *FaultFS) Rename(ctx context.Context, from, to string) error {
	if err := f.fault(ctx, "Rename"); err != nil {
		return err
	}
	return f.inner.Rename(ctx, from, to)
}

func (f *FaultFS) SetModTime(ctx context.Context, name string, mtime time.Time) error {
	if err := f.fault(ctx, "SetModTime"); err != nil {
		return err
	}
	return f.inner.SetModTime(ctx, name, mtime)
}

type faultReader struct {
	f   *FaultFS
	ctx context.Context
	r   io.ReadCloser
}

func (r *faultReader) Read(p []byte) (int, error) {
	if err := r.f.fault(r.ctx, "Read"); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func (r *faultReader) Close() error { return r.r.Close() }

type faultWriter struct {
	f   *FaultFS
	ctx context.Context
	w   ftpserver.FileWriter
}

func (w *faultWriter) Write(p []byte) (int, error) {
	if err := w.f.fault(w.ctx, "Write"); err != nil {
		return 0, err
	}
	if short, n := w.f.roll(w.f.faults.ShortWrite); short && len(p) > 1 {
		w.f.injected.Add(1)
		k, err := w.w.Write(p[:n%len(p)])
		if err == nil {
			err = fmt.Errorf("%w: short write: %w", ErrInjected, io.ErrShortWrite)
		}
		return k, err
	}
	return w.w.Write(p)
}

// Commit may fail before the backend commits; the upload is then aborted
// as failed, since a failed Commit must have released everything.
func (w *faultWriter) Commit(ctx context.Context) error {
	if err := w.f.fault(ctx, "Commit"); err != nil {
		if aerr := w.w.Abort(ctx, ftpserver.AbortFailed); aerr != nil {
			return errors.Join(err, aerr)
		}
		return err
	}
	return w.w.Commit(ctx)
}

func (w *faultWriter) Abort(ctx context.Context, why ftpserver.AbortReason) error {
	return w.w.Abort(ctx, why)
}

type faultLister struct {
	f   *FaultFS
	ctx context.Context
	l   ftpserver.DirLister
}

func (l *faultLister) Next(n int) ([]fs.FileInfo, error) {
	if err := l.f.fault(l.ctx, "Next"); err != nil {
		return nil, err
	}
	return l.l.Next(n)
}

func (l *faultLister) Close() error { return l.l.Close() }
