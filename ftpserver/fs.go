package ftpserver

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// FileSystem is one user's view of storage. The server hands it clean,
// absolute, slash-separated virtual paths ("/", "/dir/file.txt"); it never
// passes "..", a relative path or a NUL byte. Every method takes the
// session's context first, so a backend can honour cancellation and
// deadlines.
//
// Errors are matched with errors.Is: fs.ErrNotExist, fs.ErrExist,
// fs.ErrPermission and the sentinels below pick the reply code; anything
// else is logged and answered with a generic 451.
//
// The contract fits object stores too: a backend without real directories
// may emulate them, one that cannot overwrite part of an object may refuse
// WriteAt/WriteAppend with ErrNotSupported, and Rename may copy and delete.
type FileSystem interface {
	// Stat describes name. A directory's FileInfo has IsDir() true.
	Stat(ctx context.Context, name string) (fs.FileInfo, error)

	// Open opens a regular file for reading, positioned at offset.
	// A backend on local disk should return the *os.File itself so the
	// server can send it with sendfile(2).
	Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error)

	// Create opens name for writing as opts says. Nothing is visible at
	// name until Commit succeeds, except as the upload mode documents.
	Create(ctx context.Context, name string, opts CreateOptions) (FileWriter, error)

	// List streams the entries of a directory (never "." or ".."), so a
	// huge directory is never held in memory whole.
	List(ctx context.Context, name string) (DirLister, error)

	// Mkdir creates one directory; its parent must exist.
	Mkdir(ctx context.Context, name string) error

	// Remove deletes a file (not a directory: ErrIsDir).
	Remove(ctx context.Context, name string) error

	// RemoveDir deletes an empty directory (ErrDirNotEmpty otherwise,
	// ErrNotDir for a file).
	RemoveDir(ctx context.Context, name string) error

	// Rename moves from to to, replacing a file at to.
	Rename(ctx context.Context, from, to string) error

	// SetModTime sets the modification time of name.
	SetModTime(ctx context.Context, name string, mtime time.Time) error
}

// WriteMode says where a write starts.
type WriteMode int

const (
	// WriteTruncate replaces the file's content (STOR).
	WriteTruncate WriteMode = iota
	// WriteAppend adds to the end of the file, creating it if needed (APPE).
	WriteAppend
	// WriteAt keeps the first Offset bytes and writes from there, dropping
	// whatever followed (REST n + STOR).
	WriteAt
)

// UploadMode says what a client sees at the target name while an upload
// runs and after it is interrupted.
type UploadMode int

const (
	// UploadAtomicResume (the default) writes beside the target and renames
	// on success; on interruption the data that arrived becomes the target,
	// so the client can resume with REST or APPE.
	UploadAtomicResume UploadMode = iota
	// UploadAtomic writes beside the target and renames on success; an
	// interrupted upload leaves the previous version untouched.
	UploadAtomic
	// UploadDirect writes into the target itself.
	UploadDirect
)

func (m UploadMode) String() string {
	switch m {
	case UploadAtomicResume:
		return "atomic-resume"
	case UploadAtomic:
		return "atomic"
	case UploadDirect:
		return "direct"
	}
	return "unknown"
}

// ParseUploadMode parses "atomic-resume", "atomic" or "direct".
func ParseUploadMode(s string) (UploadMode, error) {
	for _, m := range []UploadMode{UploadAtomicResume, UploadAtomic, UploadDirect} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, errors.New(`upload mode must be "atomic-resume", "atomic" or "direct"`)
}

// CreateOptions tell FileSystem.Create how to write.
type CreateOptions struct {
	Mode   WriteMode
	Offset int64 // with WriteAt
	Upload UploadMode
	// Exclusive fails with fs.ErrExist when name exists (STOU).
	Exclusive bool
}

// FileWriter receives an upload. Exactly one of Commit or Abort ends it.
// A backend on local disk should implement io.ReaderFrom by delegating to
// its *os.File so that the server's copy can use splice(2); an error that
// comes from the reader (the data connection) should reach the caller as
// the reader reported it, so the server can tell a lost client (426) from
// a storage failure.
//
// Both take a context because ending an upload may be a network call (an
// object store's commit); the server passes one that outlives the session,
// so an upload is still cleaned up after its client has gone.
type FileWriter interface {
	io.Writer
	// Commit makes the data durable (fsync) and visible at the target
	// name. The server sends 226 only after Commit returns nil. A failed
	// Commit has released everything and published nothing of this
	// upload.
	Commit(ctx context.Context) error
	// Abort ends the upload without Commit and releases every temporary
	// resource. why tells the backend whose end it is: only
	// AbortInterrupted may make the data that arrived visible (as
	// UploadAtomicResume documents); after AbortFailed the target is as
	// it was before the upload, as far as the mode allows.
	Abort(ctx context.Context, why AbortReason) error
}

// AbortReason says why an upload ends without Commit.
type AbortReason int

const (
	// AbortFailed: the server could not take the data (disk full, quota,
	// an I/O error, a panic). Nothing of the upload is published and no
	// temporary file is left; in UploadAtomicResume the previous version
	// stays. The zero value, so a forgotten reason never publishes.
	AbortFailed AbortReason = iota
	// AbortInterrupted: the client stopped sending (ABOR, a lost or reset
	// data connection, a killed client). UploadAtomicResume publishes the
	// data that arrived, if any, so the client can resume.
	AbortInterrupted
)

func (r AbortReason) String() string {
	if r == AbortInterrupted {
		return "interrupted"
	}
	return "failed"
}

// DirLister streams a directory's entries.
type DirLister interface {
	// Next returns up to n entries; io.EOF (with no entries) at the end.
	Next(n int) ([]fs.FileInfo, error)
	Close() error
}

// Optional capabilities, found by type assertion on a FileSystem.

// Chmoder changes permission bits (SITE CHMOD).
type Chmoder interface {
	Chmod(ctx context.Context, name string, mode fs.FileMode) error
}

// SpaceReporter reports free space available to the user (AVBL).
type SpaceReporter interface {
	AvailableSpace(ctx context.Context, name string) (int64, error)
}

// Syncer is an optional capability of a FileWriter: Sync makes the data
// written so far durable before the upload ends, as fsync(2) does (SFTP's
// fsync@openssh.com, which OpenSSH's "put -f" sends before closing). It
// publishes nothing: the upload still becomes visible only at Commit. A
// backend whose data is durable only once committed (an object store's
// upload) does not implement it, or returns ErrNotSupported.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Linker makes newname a hard link of the file oldname: a second name
// for the same data (SFTP's hardlink@openssh.com; FTP has no command for
// it). Both names are confined to the backend's root like every other
// name, newname must not exist (fs.ErrExist), and only regular files are
// linked. A backend without hard links (an object store) does not
// implement it.
type Linker interface {
	Link(ctx context.Context, oldname, newname string) error
}

// Hasher computes a content hash without streaming the file through the
// server (an object store's stored checksum, say). algo is one of
// "SHA-256", "SHA-1", "MD5", "CRC32"; the range is [start, end), end < 0
// meaning the end of the file. A backend returns ErrNotSupported for what
// it cannot do and the server hashes the content itself.
type Hasher interface {
	Hash(ctx context.Context, name, algo string, start, end int64) ([]byte, error)
}

// Sentinel errors a backend returns (wrapped or not) so the server can pick
// the right reply.
var (
	ErrNotSupported = errors.New("operation not supported by this storage") // 502/504
	ErrDirNotEmpty  = errors.New("directory not empty")                     // 550
	ErrIsDir        = errors.New("is a directory")                          // 550
	ErrNotDir       = errors.New("not a directory")                         // 550
	ErrInvalidName  = errors.New("file name not allowed")                   // 553
	ErrQuota        = errors.New("storage quota exceeded")                  // 552
	ErrNoSpace      = errors.New("insufficient storage space")              // 452
	// ErrBusy: the file is being written by another upload that writes
	// in place (UploadDirect, a resumed upload), which a second one would
	// interleave with. Backends lock the target for the upload's duration.
	ErrBusy = errors.New("file busy") // 450
	// ErrUnavailable: the storage is overloaded or briefly unreachable
	// and asks to be retried later (an object store's SlowDown or 503
	// after the backend's own retries).
	ErrUnavailable = errors.New("storage temporarily unavailable") // 450
)
