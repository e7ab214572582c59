package localfs

import (
	"context"
	"fmt"
	"io/fs"
	"os"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Link makes newname a hard link of the regular file oldname (SFTP's
// hardlink@openssh.com). Both names are resolved inside the root, so
// neither can lead out of it, and only a regular file is linked: a
// symbolic link is refused rather than given a second name (its target
// is what the client meant, and may lie outside the root), and
// directories cannot be linked. newname must not exist (link(2)).
// Temporary upload names are refused on both sides, as everywhere.
func (fsys *FS) Link(ctx context.Context, oldname, newname string) error {
	fail := func(err error) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if !validName(oldname) || !validName(newname) {
		return fail(ftpserver.ErrInvalidName)
	}
	if oldname == "/" || newname == "/" {
		return fail(fs.ErrPermission)
	}
	oldRel, newRel := oldname[1:], newname[1:]
	fi, err := fsys.root.Lstat(oldRel)
	if err != nil {
		return fail(fsys.cause(err))
	}
	switch {
	case fi.IsDir():
		return fail(ftpserver.ErrIsDir)
	case !fi.Mode().IsRegular():
		return fail(fmt.Errorf("only regular files are linked: %w", fs.ErrPermission))
	}
	if err := fsys.root.Link(oldRel, newRel); err != nil {
		return fail(fsys.cause(err))
	}
	return nil
}

// Sync implements ftpserver.Syncer: the upload's bytes so far reach the
// disk (fsync of the file being written: the staging file, or the
// target for an in-place upload). Nothing is published; the name
// appears at Commit, which syncs again and syncs the directory.
func (w *fileWriter) Sync(ctx context.Context) error {
	if w.done {
		return &fs.PathError{Op: "sync", Path: w.name, Err: fs.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return &fs.PathError{Op: "sync", Path: w.name, Err: err}
	}
	if err := w.f.Sync(); err != nil {
		return w.fsys.wrap("sync", w.name, err)
	}
	w.unflushed = 0
	return nil
}

var (
	_ ftpserver.Linker = (*FS)(nil)
	_ ftpserver.Syncer = (*fileWriter)(nil)
)
