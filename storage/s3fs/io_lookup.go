package s3fs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// ErrChanged reports that an object changed while it was being read or
// while an upload was building on it (a download or an APPE/REST source
// replaced meanwhile). S3 answers PreconditionFailed to the request
// pinned with If-Match; failing is better than mixing two versions. It
// is an ftpserver.ErrBusy, so the client is told to try again (450).
var ErrChanged = fmt.Errorf("s3fs: object changed during the transfer: %w", ftpserver.ErrBusy)

// mapPinnedErr is mapErr for requests pinned to an ETag, where
// PreconditionFailed means the object changed, not that one exists.
func mapPinnedErr(op, name string, err error) error {
	if s3Code(err) == "PreconditionFailed" {
		return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: %w", ErrChanged, err)}
	}
	return mapErr(op, name, err)
}

// s3Code is the S3 error code of err, or "".
func s3Code(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

// notFound reports whether err says the key does not exist.
func notFound(err error) bool {
	return errors.Is(mapErr("", "", err), fs.ErrNotExist)
}

// anyUnder reports whether some key starts with prefix: a directory exists
// as its marker or as any object beneath it.
func (f *FS) anyUnder(ctx context.Context, prefix string) (bool, error) {
	listCtx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine
	obj, ok := <-f.store.client.ListObjects(listCtx, f.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, MaxKeys: 1})
	switch {
	case !ok:
		return false, ctx.Err()
	case obj.Err != nil:
		return false, obj.Err
	}
	return true, nil
}

// fileKey is the key of name for an operation on a file: it refuses a
// done context, an invalid name and the root, which is a directory.
func (f *FS) fileKey(ctx context.Context, op, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	key, err := f.key(name)
	if err != nil {
		return "", err
	}
	if name == "/" {
		return "", &fs.PathError{Op: op, Path: name, Err: ftpserver.ErrIsDir}
	}
	return key, nil
}

// uploadTarget is what Create learns about the name it writes.
type uploadTarget struct {
	exists bool // a file is there
	size   int64
	etag   string
}

// lookupTarget checks, with concurrent requests so a new small file costs
// one round trip of latency, that name is not a directory, that its parent
// is one, and what file (if any) is there now.
func (f *FS) lookupTarget(ctx context.Context, name, key string) (uploadTarget, error) {
	var (
		wg                      sync.WaitGroup
		info                    minio.ObjectInfo
		statErr, dirErr, parErr error
		isDir, parentOK         bool
	)
	parent := path.Dir(name)
	parentOK = parent == "/"
	wg.Go(func() { info, statErr = f.store.client.StatObject(ctx, f.bucket, key, minio.StatObjectOptions{}) })
	wg.Go(func() { isDir, dirErr = f.anyUnder(ctx, key+"/") })
	if !parentOK {
		parentKey, _ := f.dirKey(parent)
		wg.Go(func() { parentOK, parErr = f.anyUnder(ctx, parentKey) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return uploadTarget{}, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	for _, err := range []error{dirErr, parErr} {
		if err != nil {
			return uploadTarget{}, mapErr("create", name, err)
		}
	}
	if statErr != nil && !notFound(statErr) {
		return uploadTarget{}, mapErr("create", name, statErr)
	}
	switch {
	case isDir:
		return uploadTarget{}, &fs.PathError{Op: "create", Path: name, Err: ftpserver.ErrIsDir}
	case statErr == nil:
		return uploadTarget{exists: true, size: info.Size, etag: info.ETag}, nil
	case !parentOK:
		return uploadTarget{}, &fs.PathError{Op: "create", Path: name, Err: fs.ErrNotExist}
	}
	return uploadTarget{}, nil
}
