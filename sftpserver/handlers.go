package sftpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	"github.com/pkg/sftp"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpserver"
)

// Linker is the optional capability of an ftpserver.FileSystem that
// hardlink@openssh.com uses. Without it a link request is answered
// "operation unsupported".
type Linker = ftpserver.Linker

// handlers serve one SFTP session's requests on its account's
// FileSystem, with the account's permissions checked first as FTP's
// commands check them.
type handlers struct {
	c       *conn
	acct    *ftpserver.Account
	waiting waitSlots // uploads' writes waiting for a gap (files.go)
}

var (
	_ sftp.FileReader           = (*handlers)(nil)
	_ sftp.FileWriter           = (*handlers)(nil)
	_ sftp.PosixRenameFileCmder = (*handlers)(nil)
	_ sftp.StatVFSFileCmder     = (*handlers)(nil)
	_ sftp.RealPathFileLister   = (*handlers)(nil)
	_ sftp.ReadlinkFileLister   = (*handlers)(nil)
)

func (h *handlers) ctx() context.Context { return h.c.ctx }

// vpath is the virtual path the backend is given for a client's path:
// clean and absolute below the home ("/"), ".." never climbing above it.
func vpath(p string) (string, error) {
	if !ftp.ValidPathName(p) {
		return "", ftpserver.ErrInvalidName
	}
	return ftp.JoinPath("/", p), nil
}

// codeError pairs one of pkg/sftp's status codes with a message chosen
// here: pkg/sftp sends an error's text to the client, so a backend's own
// (host paths, internal detail) must never reach it.
type codeError struct {
	code error // one of sftp.ErrSSHFx*
	msg  string
}

func (e *codeError) Error() string { return e.msg }
func (e *codeError) Unwrap() error { return e.code }

// status maps a handler's error to what the client is told, in one
// place: the kinds of ftpserver.FileSystem errors to SFTP v3 codes with a
// fixed message; anything unexpected is logged with the session and
// answered with a generic failure.
func (h *handlers) status(op, path string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return io.EOF
	case errors.Is(err, fs.ErrNotExist):
		return sftp.ErrSSHFxNoSuchFile
	case errors.Is(err, fs.ErrPermission):
		h.c.log.Info("refused", "op", op, "path", path, "err", err)
		return sftp.ErrSSHFxPermissionDenied
	case errors.Is(err, ftpserver.ErrNotSupported):
		return sftp.ErrSSHFxOpUnsupported
	}
	for _, k := range []struct {
		err error
		msg string
	}{
		{fs.ErrExist, "File exists"},
		{ftpserver.ErrDirNotEmpty, "Directory not empty"},
		{ftpserver.ErrIsDir, "Is a directory"},
		{ftpserver.ErrNotDir, "Not a directory"},
		{ftpserver.ErrInvalidName, "File name not allowed"},
		{ftpserver.ErrQuota, "Quota exceeded"},
		{ftpserver.ErrNoSpace, "No space left on storage"},
		{ftpserver.ErrBusy, "File busy: being written by another upload"},
		{ftpserver.ErrUnavailable, "Storage temporarily unavailable; try again later"},
	} {
		if errors.Is(err, k.err) {
			return &codeError{sftp.ErrSSHFxFailure, k.msg}
		}
	}
	if h.c.ctx.Err() != nil {
		return sftp.ErrSSHFxConnectionLost
	}
	h.c.log.Error("storage error", "op", op, "path", path, "err", err)
	return sftp.ErrSSHFxFailure
}

// recoverPanic turns a panic in a handler into a failure of its request,
// logged with the stack, and ends the connection, as a panic in an FTP
// session ends that session: handlers run on pkg/sftp's goroutines,
// which do not recover, so an unrecovered panic would end the process.
func (c *conn) recoverPanic(err *error) {
	if v := recover(); v != nil {
		c.log.Error("panic in an SFTP handler", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		*err = sftp.ErrSSHFxFailure
		c.close()
	}
}

// allowed checks the account's permission at path.
func (h *handlers) allowed(path string, need ftpserver.Perm) error {
	return h.acct.Allowed(path, need)
}

// RealPath resolves a client's path against the home, the start
// directory of every session.
func (h *handlers) RealPath(p string) (_ string, err error) {
	defer h.c.recoverPanic(&err)
	h.c.note("realpath", p)
	v, err := vpath(p)
	return v, h.status("realpath", p, err)
}

// Readlink is refused: links are never shown as links (the backends
// confine them to the home and follow them there).
func (h *handlers) Readlink(string) (string, error) {
	return "", sftp.ErrSSHFxOpUnsupported
}

// Filelist serves List, Stat and Lstat (a link inside the home is
// followed, as FTP sees it).
func (h *handlers) Filelist(r *sftp.Request) (_ sftp.ListerAt, err error) {
	defer h.c.recoverPanic(&err)
	h.c.note(r.Method, r.Filepath)
	p, err := vpath(r.Filepath)
	if err == nil {
		err = h.allowed(p, ftpserver.PermList)
	}
	if err != nil {
		return nil, h.status(r.Method, r.Filepath, err)
	}
	switch r.Method {
	case "List":
		dl, err := h.acct.FS.List(h.ctx(), p)
		if err != nil {
			return nil, h.status("list", p, err)
		}
		return &dirLister{h: h, path: p, dl: dl}, nil
	case "Stat", "Lstat":
		fi, err := h.acct.FS.Stat(h.ctx(), p)
		if err != nil {
			return nil, h.status("stat", p, err)
		}
		return statLister{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// statLister is one FileInfo.
type statLister struct{ fi fs.FileInfo }

func (l statLister) ListAt(ls []os.FileInfo, offset int64) (int, error) {
	if offset > 0 || len(ls) == 0 {
		return 0, io.EOF
	}
	ls[0] = l.fi
	return 1, nil
}

// dirLister streams a directory: pkg/sftp asks for consecutive pages.
type dirLister struct {
	h    *handlers
	path string
	dl   ftpserver.DirLister
	read int64 // entries handed out
}

func (l *dirLister) ListAt(ls []os.FileInfo, offset int64) (_ int, err error) {
	defer l.h.c.recoverPanic(&err)
	if offset != l.read {
		return 0, sftp.ErrSSHFxFailure
	}
	if len(ls) == 0 {
		return 0, nil
	}
	entries, err := l.dl.Next(len(ls))
	n := copy(ls, entries)
	l.read += int64(n)
	if err != nil {
		return n, l.h.status("list", l.path, err)
	}
	return n, nil
}

func (l *dirLister) Close() error { return l.dl.Close() }

// Filecmd serves the commands that change the tree.
func (h *handlers) Filecmd(r *sftp.Request) (err error) {
	defer h.c.recoverPanic(&err)
	h.c.note(r.Method, r.Filepath, r.Target)
	p, err := vpath(r.Filepath)
	if err != nil {
		return h.status(r.Method, r.Filepath, err)
	}
	ctx, fsys := h.ctx(), h.acct.FS
	switch r.Method {
	case "Setstat":
		return h.setstat(r, p)
	case "Rename", "PosixRename":
		to, err := vpath(r.Target)
		if err == nil {
			err = h.allowed(p, ftpserver.PermRename)
		}
		if err == nil {
			err = h.allowed(to, ftpserver.PermRename)
		}
		if err == nil && r.Method == "Rename" {
			// SFTP v3's rename never replaces: posix-rename does.
			if _, serr := fsys.Stat(ctx, to); serr == nil {
				err = fs.ErrExist
			}
		}
		if err == nil {
			err = fsys.Rename(ctx, p, to)
		}
		return h.status("rename", p, err)
	case "Rmdir":
		if err = h.allowed(p, ftpserver.PermRmdir); err == nil {
			err = fsys.RemoveDir(ctx, p)
		}
		return h.status("rmdir", p, err)
	case "Mkdir":
		if err = h.allowed(p, ftpserver.PermMkdir); err == nil {
			err = fsys.Mkdir(ctx, p)
		}
		return h.status("mkdir", p, err)
	case "Remove":
		if err = h.allowed(p, ftpserver.PermDelete); err == nil {
			err = fsys.Remove(ctx, p)
		}
		return h.status("remove", p, err)
	case "Link":
		linker, ok := fsys.(Linker)
		if !ok {
			return sftp.ErrSSHFxOpUnsupported
		}
		to, err := vpath(r.Target)
		if err == nil {
			err = h.allowed(p, ftpserver.PermDownload)
		}
		if err == nil {
			err = h.allowed(to, ftpserver.PermUpload)
		}
		if err == nil {
			err = linker.Link(ctx, p, to)
		}
		return h.status("link", p, err)
	case "Symlink":
		// A link is a way out of the home on a local disk, and has no
		// meaning on object storage: never made.
		h.c.log.Info("symlink refused", "path", p)
		return sftp.ErrSSHFxOpUnsupported
	}
	return sftp.ErrSSHFxOpUnsupported
}

// setstat changes what FTP can change too: permission bits (SITE CHMOD)
// and the modification time (MFMT), both under the chmod permission. A
// size other than the file's own (truncation) and owners are refused.
func (h *handlers) setstat(r *sftp.Request, p string) error {
	flags, attrs := r.AttrFlags(), r.Attributes()
	ctx, fsys := h.ctx(), h.acct.FS
	if flags.UidGid {
		return sftp.ErrSSHFxOpUnsupported
	}
	if flags.Size {
		fi, err := fsys.Stat(ctx, p)
		if err != nil {
			return h.status("setstat", p, err)
		}
		if uint64(fi.Size()) != attrs.Size {
			return sftp.ErrSSHFxOpUnsupported
		}
	}
	if !flags.Permissions && !flags.Acmodtime {
		return nil
	}
	if err := h.allowed(p, ftpserver.PermChmod); err != nil {
		return h.status("setstat", p, err)
	}
	if flags.Permissions {
		chmoder, ok := fsys.(ftpserver.Chmoder)
		if !ok {
			return sftp.ErrSSHFxOpUnsupported
		}
		if err := chmoder.Chmod(ctx, p, fs.FileMode(attrs.Mode&0o777)); err != nil {
			return h.status("chmod", p, err)
		}
	}
	if flags.Acmodtime {
		if err := fsys.SetModTime(ctx, p, time.Unix(int64(attrs.Mtime), 0)); err != nil {
			return h.status("setmtime", p, err)
		}
	}
	return nil
}

// PosixRename is posix-rename@openssh.com: a rename that replaces.
func (h *handlers) PosixRename(r *sftp.Request) error { return h.Filecmd(r) }

// statvfsBlock is the block size free space is reported in.
const statvfsBlock = 4096

// StatVFS is statvfs@openssh.com (df), from the backend's free space
// (AVBL's): only the space available to the user is known, so total and
// free are reported as that too.
func (h *handlers) StatVFS(r *sftp.Request) (_ *sftp.StatVFS, err error) {
	defer h.c.recoverPanic(&err)
	h.c.note("statvfs", r.Filepath)
	p, err := vpath(r.Filepath)
	if err == nil {
		err = h.allowed(p, ftpserver.PermList)
	}
	if err != nil {
		return nil, h.status("statvfs", r.Filepath, err)
	}
	sr, ok := h.acct.FS.(ftpserver.SpaceReporter)
	if !ok {
		return nil, sftp.ErrSSHFxOpUnsupported
	}
	avail, err := sr.AvailableSpace(h.ctx(), p)
	if err != nil {
		return nil, h.status("statvfs", p, err)
	}
	blocks := uint64(max(avail, 0)) / statvfsBlock
	return &sftp.StatVFS{Bsize: statvfsBlock, Frsize: statvfsBlock, Blocks: blocks, Bfree: blocks, Bavail: blocks, Namemax: 255}, nil
}

// wait paces n bytes through lim (nil: no limit), in pieces of at most
// its burst.
func wait(ctx context.Context, lim ftpserver.RateLimiter, n int) error {
	if lim == nil {
		return nil
	}
	for n > 0 {
		k := min(n, max(lim.Burst(), 1))
		if err := lim.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
