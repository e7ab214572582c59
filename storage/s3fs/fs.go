package s3fs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// mtimeKey is the user metadata key (x-amz-meta-mtime) that holds a
// modification time set by SetModTime, in RFC 3339 with nanoseconds. S3's
// own LastModified is the time of the last write or copy, which MFMT
// cannot set.
const mtimeKey = "mtime"

// maxKeyLen is S3's longest key, in bytes.
const maxKeyLen = 1024

// Modes reported for objects and prefixes: S3 has no permission bits.
const (
	fileMode = 0o644
	dirMode  = fs.ModeDir | 0o755
)

// entry is the fs.FileInfo of an object or a directory.
type entry struct {
	name  string
	size  int64
	mtime time.Time
	dir   bool
}

func (e *entry) Name() string       { return e.name }
func (e *entry) Size() int64        { return e.size }
func (e *entry) ModTime() time.Time { return e.mtime }
func (e *entry) IsDir() bool        { return e.dir }
func (e *entry) Sys() any           { return nil }
func (e *entry) Mode() fs.FileMode {
	if e.dir {
		return dirMode
	}
	return fileMode
}

func baseName(name string) string {
	if name == "/" {
		return "/"
	}
	return path.Base(name)
}

// modTime is the "mtime" metadata if an object has a valid one, else its
// LastModified. The lookup ignores case: StatObject gives "Mtime", a
// listing with metadata gives whatever the store kept.
func modTime(meta map[string]string, lastModified time.Time) time.Time {
	for k, v := range meta {
		if strings.EqualFold(k, mtimeKey) || strings.EqualFold(k, "X-Amz-Meta-"+mtimeKey) {
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				return t
			}
		}
	}
	return lastModified
}

func fileEntry(name string, info minio.ObjectInfo) *entry {
	return &entry{name: baseName(name), size: info.Size, mtime: modTime(info.UserMetadata, info.LastModified)}
}

// isNotExist reports an S3 error that means the key is absent.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// head is StatObject through mapErr.
func (f *FS) head(ctx context.Context, op, name, key string) (minio.ObjectInfo, error) {
	info, err := f.store.client.StatObject(ctx, f.bucket, key, minio.StatObjectOptions{})
	return info, mapErr(op, name, ctxErr(ctx, err))
}

// ctxErr prefers the context's error, so a cancelled call is reported as
// cancelled whatever minio-go made of it.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// begin checks the context and maps name to its key, for the start of
// every operation.
func (f *FS) begin(ctx context.Context, op, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	k, err := f.key(name)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: ftpserver.ErrInvalidName}
	}
	return k, nil
}

// Stat implements ftpserver.FileSystem. An object at the key is a file
// (and wins over a directory of the same name); otherwise the marker
// "name/" or any key under "name/" makes a directory. A directory's time
// is the marker's (its "mtime" metadata, else LastModified), or for a
// directory without a marker the time of the first object under it.
func (f *FS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	k, err := f.begin(ctx, "stat", name)
	if err != nil {
		return nil, err
	}
	if name == "/" {
		return &entry{name: "/", dir: true}, nil
	}
	info, err := f.head(ctx, "stat", name, k)
	if err == nil {
		return fileEntry(name, info), nil
	}
	if !isNotExist(err) {
		return nil, err
	}
	return f.statDir(ctx, "stat", name, k+"/")
}

// statDir describes the directory whose marker (and prefix) is dirKey.
func (f *FS) statDir(ctx context.Context, op, name, dirKey string) (*entry, error) {
	info, err := f.head(ctx, op, name, dirKey)
	if err == nil {
		return &entry{name: baseName(name), dir: true, mtime: modTime(info.UserMetadata, info.LastModified)}, nil
	}
	if !isNotExist(err) {
		return nil, err
	}
	first, found, err := f.firstUnder(ctx, op, name, dirKey)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return &entry{name: baseName(name), dir: true, mtime: first.LastModified}, nil
}

// firstUnder finds one object whose key starts with prefix.
func (f *FS) firstUnder(ctx context.Context, op, name, prefix string) (minio.ObjectInfo, bool, error) {
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true, MaxKeys: 1}
	for obj := range f.store.client.ListObjectsIter(ctx, f.bucket, opts) {
		if obj.Err != nil {
			return minio.ObjectInfo{}, false, mapErr(op, name, ctxErr(ctx, obj.Err))
		}
		return obj, true, nil
	}
	if err := ctx.Err(); err != nil {
		return minio.ObjectInfo{}, false, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return minio.ObjectInfo{}, false, nil
}

// parentDir checks that the directory holding name exists, as
// ftpserver.FileSystem requires for Mkdir and Rename's target: a missing
// parent, or one that is a file, is fs.ErrNotExist.
func (f *FS) parentDir(ctx context.Context, op, name string) error {
	parent := path.Dir(name)
	if parent == "/" {
		return nil
	}
	info, err := f.Stat(ctx, parent)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return nil
}

// Mkdir implements ftpserver.FileSystem by writing the zero-byte marker
// "name/". The write is conditional (If-None-Match: *), so of two racing
// MKDs exactly one succeeds and the other gets fs.ErrExist.
func (f *FS) Mkdir(ctx context.Context, name string) error {
	k, err := f.begin(ctx, "mkdir", name)
	if err != nil {
		return err
	}
	if name == "/" {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
	}
	if len(k)+1 > maxKeyLen { // the marker has one byte more
		return &fs.PathError{Op: "mkdir", Path: name, Err: fmt.Errorf("marker longer than %d bytes: %w", maxKeyLen, ftpserver.ErrInvalidName)}
	}
	if err := f.parentDir(ctx, "mkdir", name); err != nil {
		return err
	}
	if _, err := f.Stat(ctx, name); err == nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
	} else if !isNotExist(err) {
		return err
	}
	return f.putMarker(ctx, "mkdir", name, k+"/", nil)
}

// putMarker writes a directory marker unless one exists (fs.ErrExist).
func (f *FS) putMarker(ctx context.Context, op, name, marker string, meta map[string]string) error {
	opts := minio.PutObjectOptions{UserMetadata: meta, ContentType: "application/x-directory"}
	opts.SetMatchETagExcept("*")
	_, err := f.store.client.PutObject(ctx, f.bucket, marker, strings.NewReader(""), 0, opts)
	return mapErr(op, name, ctxErr(ctx, err))
}

// Remove implements ftpserver.FileSystem. S3 deletes a missing key
// without complaint, so the object is looked up first.
func (f *FS) Remove(ctx context.Context, name string) error {
	k, err := f.begin(ctx, "remove", name)
	if err != nil {
		return err
	}
	if name == "/" {
		return &fs.PathError{Op: "remove", Path: name, Err: ftpserver.ErrIsDir}
	}
	if _, err := f.head(ctx, "remove", name, k); err != nil {
		if !isNotExist(err) {
			return err
		}
		if _, derr := f.statDir(ctx, "remove", name, k+"/"); derr == nil {
			return &fs.PathError{Op: "remove", Path: name, Err: ftpserver.ErrIsDir}
		}
		return err
	}
	err = f.store.client.RemoveObject(ctx, f.bucket, k, minio.RemoveObjectOptions{})
	return mapErr("remove", name, ctxErr(ctx, err))
}

// RemoveDir implements ftpserver.FileSystem: it deletes the marker of a
// directory that holds nothing else. A directory without a marker always
// holds something, so it is never empty.
func (f *FS) RemoveDir(ctx context.Context, name string) error {
	k, err := f.begin(ctx, "rmdir", name)
	if err != nil {
		return err
	}
	if name == "/" {
		return &fs.PathError{Op: "rmdir", Path: name, Err: fs.ErrPermission}
	}
	if _, err := f.head(ctx, "rmdir", name, k); err == nil {
		return &fs.PathError{Op: "rmdir", Path: name, Err: ftpserver.ErrNotDir}
	} else if !isNotExist(err) {
		return err
	}
	marker := k + "/"
	hasMarker := false
	opts := minio.ListObjectsOptions{Prefix: marker, Recursive: true, MaxKeys: 2}
	for obj := range f.store.client.ListObjectsIter(ctx, f.bucket, opts) {
		if obj.Err != nil {
			return mapErr("rmdir", name, ctxErr(ctx, obj.Err))
		}
		if obj.Key != marker {
			return &fs.PathError{Op: "rmdir", Path: name, Err: ftpserver.ErrDirNotEmpty}
		}
		hasMarker = true
	}
	if err := ctx.Err(); err != nil {
		return &fs.PathError{Op: "rmdir", Path: name, Err: err}
	}
	if !hasMarker {
		return &fs.PathError{Op: "rmdir", Path: name, Err: fs.ErrNotExist}
	}
	err = f.store.client.RemoveObject(ctx, f.bucket, marker, minio.RemoveObjectOptions{})
	return mapErr("rmdir", name, ctxErr(ctx, err))
}

// SetModTime implements ftpserver.FileSystem by copying the object onto
// itself with its metadata replaced by the same plus "mtime" (S3 cannot
// change metadata in place). A directory keeps its time on its marker; a
// directory without one gets a marker. The root has no object to hold a
// time: ErrNotSupported.
func (f *FS) SetModTime(ctx context.Context, name string, mtime time.Time) error {
	k, err := f.begin(ctx, "chtimes", name)
	if err != nil {
		return err
	}
	if name == "/" {
		return &fs.PathError{Op: "chtimes", Path: name, Err: ftpserver.ErrNotSupported}
	}
	stamp := mtime.UTC().Format(time.RFC3339Nano)
	info, err := f.head(ctx, "chtimes", name, k)
	if err != nil {
		if !isNotExist(err) {
			return err
		}
		marker := k + "/"
		info, err = f.head(ctx, "chtimes", name, marker)
		if isNotExist(err) {
			if _, derr := f.statDir(ctx, "chtimes", name, marker); derr != nil {
				return derr
			}
			return f.putMarker(ctx, "chtimes", name, marker, map[string]string{mtimeKey: stamp})
		}
		if err != nil {
			return err
		}
		k = marker
	}
	meta := make(map[string]string, len(info.UserMetadata)+1)
	for key, v := range info.UserMetadata {
		if !strings.EqualFold(key, mtimeKey) {
			meta[key] = v
		}
	}
	meta[mtimeKey] = stamp
	return f.copyObject(ctx, "chtimes", name, info, k, meta)
}
