package memfs

import (
	"context"
	"io/fs"
	"os"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Link implements ftpserver.Linker (SFTP's hardlink@openssh.com): newname
// becomes a second name of the file oldname, one node under two
// directory entries, so a write in place through either name shows
// through the other, and removing one name keeps the file under the
// other. An upload that installs a new file at one name (an atomic
// upload's Commit) replaces that name only, as a rename over a link does
// on disk. The errors are localfs's: newname must not exist
// (fs.ErrExist), directories are not linked (ftpserver.ErrIsDir), the
// root is neither source nor target (fs.ErrPermission), and a missing
// source or target directory is fs.ErrNotExist.
func (fsys *FS) Link(ctx context.Context, oldname, newname string) error {
	fail := func(err error) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	oldParts, newParts, err := resolvePair(ctx, oldname, newname)
	if err != nil {
		return fail(err)
	}
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	n, err := fsys.lookup(oldParts)
	if err != nil {
		return fail(err)
	}
	if n.dir {
		return fail(ftpserver.ErrIsDir)
	}
	dir, base, err := fsys.parentDir(newParts)
	if err != nil {
		return fail(err)
	}
	if _, ok := dir.children[base]; ok {
		return fail(fs.ErrExist)
	}
	dir.children[base] = n
	n.extraNames++
	dir.mtime = time.Now()
	return nil
}

// dropName accounts for one directory entry of the file n going away:
// its bytes are freed with its last name. fsys.mu must be held.
func (fsys *FS) dropName(n *node) {
	if n.extraNames > 0 {
		n.extraNames--
		return
	}
	fsys.used -= int64(len(n.data))
}

var _ ftpserver.Linker = (*FS)(nil)
