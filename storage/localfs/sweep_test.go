package localfs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// plant writes a file of size bytes at rel below dir, last modified age ago.
func plant(t *testing.T, dir, rel string, size int, age time.Duration) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Now().Add(-age)
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// holdLock holds the upload lock of the file at rel until the test ends,
// as a running upload does.
func holdLock(t *testing.T, dir, rel string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

func exists(dir, rel string) bool {
	_, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel)))
	return err == nil
}

func TestSweepTemp(t *testing.T) {
	t.Parallel()
	fsys, dir := newFS(t)
	stale := []string{".ferry-upload-a", "d/.ferry-upload-b", "d/e/.ferry-upload-c"}
	for i, rel := range stale {
		plant(t, dir, rel, 1000*(i+1), 2*time.Hour)
	}
	// Young, but no upload holds it: a crashed process's.
	plant(t, dir, "d/.ferry-upload-orphan", 5, time.Second)
	stale = append(stale, "d/.ferry-upload-orphan")
	kept := []string{
		"d/.ferry-upload-fresh",  // an upload in progress
		"d/old-file",             // not ours
		"d/e/x.ferry-upload-old", // not our prefix
	}
	plant(t, dir, kept[0], 10, time.Minute)
	holdLock(t, dir, kept[0])
	plant(t, dir, kept[1], 10, 2*time.Hour)
	plant(t, dir, kept[2], 10, 2*time.Hour)
	os.Mkdir(filepath.Join(dir, ".ferry-upload-dir"), 0o755) // a directory by that name is not a temp file
	kept = append(kept, ".ferry-upload-dir")
	// A link by that name is not followed or removed, nor is what it names.
	outside := t.TempDir()
	plant(t, outside, ".ferry-upload-outside", 10, 2*time.Hour)
	os.Symlink(filepath.Join(outside, ".ferry-upload-outside"), filepath.Join(dir, "d", ".ferry-upload-link"))
	os.Symlink(outside, filepath.Join(dir, "linkdir"))
	kept = append(kept, "d/.ferry-upload-link")

	var removed []localfs.SweptFile
	files, bytes, err := fsys.SweepTemp(t.Context(), localfs.TempGrace, func(f localfs.SweptFile) { removed = append(removed, f) })
	if err != nil {
		t.Fatal(err)
	}
	if files != 4 || bytes != 6005 {
		t.Errorf("SweepTemp = %d files, %d bytes; want 4, 6005", files, bytes)
	}
	var names []string
	for _, f := range removed {
		names = append(names, f.Name)
		if f.Name != "/d/.ferry-upload-orphan" && (f.Age < 2*time.Hour-time.Minute || f.Age > 3*time.Hour) {
			t.Errorf("%s: age %v, want about 2h", f.Name, f.Age)
		}
	}
	slices.Sort(names)
	if want := "/.ferry-upload-a,/d/.ferry-upload-b,/d/.ferry-upload-orphan,/d/e/.ferry-upload-c"; strings.Join(names, ",") != want {
		t.Errorf("removed %q, want %s", names, want)
	}
	for _, rel := range stale {
		if exists(dir, rel) {
			t.Errorf("%s is still there", rel)
		}
	}
	for _, rel := range kept {
		if !exists(dir, rel) {
			t.Errorf("%s was removed", rel)
		}
	}
	if !exists(outside, ".ferry-upload-outside") {
		t.Error("a file outside the root was removed")
	}
}

func TestSweepTempStopsWithContext(t *testing.T) {
	t.Parallel()
	fsys, dir := newFS(t)
	plant(t, dir, ".ferry-upload-a", 10, 2*time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := fsys.SweepTemp(ctx, localfs.TempGrace, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("SweepTemp with a done context: %v", err)
	}
	if !exists(dir, ".ferry-upload-a") {
		t.Error("removed a file after its context was done")
	}
}

// TestRemoveDirWithStaleTemps: a directory that lists empty but holds a
// crashed upload's temporary file can be removed; one holding an upload in
// progress cannot.
func TestRemoveDirWithStaleTemps(t *testing.T) {
	t.Parallel()
	fsys, dir := newFS(t)
	plant(t, dir, "stale/.ferry-upload-a", 10, 2*time.Hour)
	plant(t, dir, "stale/.ferry-upload-b", 10, 3*time.Hour)
	plant(t, dir, "busy/.ferry-upload-a", 10, 2*time.Hour)
	plant(t, dir, "busy/.ferry-upload-b", 10, time.Second)
	holdLock(t, dir, "busy/.ferry-upload-b")
	plant(t, dir, "orphan/.ferry-upload-a", 10, time.Second) // young, unlocked
	plant(t, dir, "mixed/.ferry-upload-a", 10, 2*time.Hour)
	plant(t, dir, "mixed/file", 10, 2*time.Hour)
	for _, name := range []string{"stale", "orphan"} {
		if err := fsys.RemoveDir(t.Context(), "/"+name); err != nil {
			t.Errorf("RemoveDir(/%s): %v", name, err)
		}
		if exists(dir, name) {
			t.Errorf("/%s is still there", name)
		}
	}
	for _, name := range []string{"busy", "mixed"} {
		err := fsys.RemoveDir(t.Context(), "/"+name)
		if !errors.Is(err, ftpserver.ErrDirNotEmpty) {
			t.Errorf("RemoveDir(/%s) = %v, want ErrDirNotEmpty", name, err)
		}
	}
	if !exists(dir, "busy/.ferry-upload-b") || !exists(dir, "mixed/file") {
		t.Error("RemoveDir removed what it must keep")
	}
}
