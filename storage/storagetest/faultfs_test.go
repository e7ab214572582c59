package storagetest_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
	"github.com/ferry-ftp/ferry/storage/storagetest"
)

// Without faults the wrapper is the backend: it passes the conformance
// suite as memfs does (minus the optional interfaces it hides).
func TestFaultFSWithoutFaultsConforms(t *testing.T) {
	t.Parallel()
	caps := []storagetest.Capability{}
	for _, c := range storagetest.AllCapabilities() {
		if c != storagetest.Chmod && c != storagetest.SpaceReport {
			caps = append(caps, c)
		}
	}
	storagetest.Run(t, func(t *testing.T) ftpserver.FileSystem {
		return storagetest.NewFaultFS(memfs.New(), storagetest.Faults{})
	}, storagetest.WithCapabilities(caps...))
}

// With every call failing, each fails with ErrInjected and one of the
// errors asked for, and the backend is left alone.
func TestFaultFSFailsBeforeTheBackend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mfs := memfs.New()
	if err := mfs.WriteFile("/f", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	ffs := storagetest.NewFaultFS(mfs, storagetest.Faults{Seed: 7, Error: 1, Errs: []error{ftpserver.ErrNoSpace}})
	checks := map[string]error{
		"Mkdir":  ffs.Mkdir(ctx, "/d"),
		"Remove": ffs.Remove(ctx, "/f"),
		"Rename": ffs.Rename(ctx, "/f", "/g"),
	}
	_, checks["Stat"] = ffs.Stat(ctx, "/f")
	_, checks["Create"] = ffs.Create(ctx, "/f", ftpserver.CreateOptions{})
	for op, err := range checks {
		if !errors.Is(err, storagetest.ErrInjected) || !errors.Is(err, ftpserver.ErrNoSpace) {
			t.Errorf("%s: %v, want an injected ErrNoSpace", op, err)
		}
	}
	if got := ffs.Injected(); got != int64(len(checks)) {
		t.Errorf("Injected() = %d, want %d", got, len(checks))
	}
	ffs.SetEnabled(false)
	if _, err := ffs.Stat(ctx, "/d"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("/d: %v: the failed Mkdir reached the backend", err)
	}
	if fi, err := ffs.Stat(ctx, "/f"); err != nil || fi.Size() != 4 {
		t.Errorf("/f after failed Remove, Rename and Create: %v, %v", fi, err)
	}
}
