package localfs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"time"
)

// TempGrace is how old an upload temporary file must be (by its
// modification time) before SweepTemp and RemoveDir take it for the
// leftover of a crashed process. A running upload writes its temporary
// file all the time, and the server drops a data connection that stays
// silent for its data timeout (minutes), so an hour without a write
// leaves no doubt even with another ferry process serving the same tree.
// A younger one is taken when its upload lock is free: no process has it
// open.
const TempGrace = time.Hour

// SweptFile describes an upload temporary file that SweepTemp removed.
type SweptFile struct {
	Name string        // virtual path, "/dir/.ferry-upload-..."
	Size int64         // bytes
	Age  time.Duration // since its last modification
}

// SweepTemp removes the upload temporary files under the root that are
// older than minAge, or whose upload lock is free whatever their age (a
// running upload holds it from the file's creation, where the file system
// has locks): the leftovers of a process that crashed (Commit and Abort
// never leave one behind). Only regular files with ferry's own
// prefix (".ferry-upload-") are touched. removed, when not nil, is called
// for each file removed; the totals are returned. It stops at the first
// error other than a file vanishing meanwhile, or when ctx is done.
// Symbolic links are not followed.
func (fsys *FS) SweepTemp(ctx context.Context, minAge time.Duration, removed func(SweptFile)) (files int, bytes int64, err error) {
	now := time.Now()
	err = fs.WalkDir(fsys.root.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if !isTemp(d.Name()) || !d.Type().IsRegular() {
			return nil
		}
		swept, ok, err := fsys.removeStale(rel, now, minAge)
		if err != nil || !ok {
			return err
		}
		files++
		bytes += swept.Size
		if removed != nil {
			removed(swept)
		}
		return nil
	})
	if err != nil {
		return files, bytes, fsys.wrap("sweep", "/", err)
	}
	return files, bytes, nil
}

// removeStale removes the temporary file at rel (root-relative) if it is
// older than minAge at now, and reports whether it did.
func (fsys *FS) removeStale(rel string, now time.Time, minAge time.Duration) (SweptFile, bool, error) {
	info, err := fsys.root.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return SweptFile{}, false, nil
	case err != nil:
		return SweptFile{}, false, err
	}
	age := now.Sub(info.ModTime())
	if !info.Mode().IsRegular() {
		return SweptFile{}, false, nil
	}
	if age < minAge {
		// Young, but its upload may be gone: a running upload holds
		// the file's lock from its creation (see openTemp), so a lock
		// that can be taken means the process that wrote it died.
		f, err := fsys.root.OpenFile(rel, os.O_RDONLY|oNonblock, 0)
		if err != nil {
			return SweptFile{}, false, nil
		}
		defer f.Close() // after the Remove below: the lock holds until then
		if !unlocked(f) {
			return SweptFile{}, false, nil
		}
	}
	if err := fsys.root.Remove(rel); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return SweptFile{}, false, nil
		}
		return SweptFile{}, false, err
	}
	return SweptFile{Name: "/" + rel, Size: info.Size(), Age: age}, true, nil
}

// removeStaleTemps removes the directory rel's stale upload temporary
// files and reports whether nothing else was in it, so that a directory
// that looks empty to every client can be removed.
func (fsys *FS) removeStaleTemps(rel string) (bool, error) {
	dir, err := fsys.openDir(rel)
	if err != nil {
		return false, err
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return false, err
	}
	now := time.Now()
	for _, name := range names {
		if !isTemp(name) {
			return false, nil
		}
	}
	for _, name := range names {
		_, ok, err := fsys.removeStale(path.Join(rel, name), now, TempGrace)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, nil // an upload in progress
		}
	}
	return true, nil
}
