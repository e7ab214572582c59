package s3fs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpserver"
)

// renameConcurrency is how many copies (and deletes) a directory rename
// keeps in flight: each is a server-side copy, so the store, not ferry,
// does the work.
const renameConcurrency = 8

// copyLimit is the largest object one CopyObject may copy, and the part
// size of a multipart copy.
func (s *Store) copyLimit() int64 {
	if s.copyPartSize > 0 {
		return s.copyPartSize
	}
	return maxCopyPartSize
}

// Rename implements ftpserver.FileSystem. S3 has no rename: a file is
// copied on the server (a multipart copy above 5 GiB) and the source then
// deleted; the copy keeps the metadata, so an MFMT time survives. A file
// at to is replaced; a directory at to is never replaced (ErrIsDir), and a
// directory moves only onto a free name (ErrNotDir if to is a file).
//
// A directory is moved object by object, markers included, at most
// Options.MaxRenameCount objects: the objects are counted first, and past
// the limit the rename fails with a 550 reply before anything changes. If
// a copy fails, the copies made so far are deleted and the source is left
// whole. The move is not atomic: a client listing during it may see both
// names.
func (f *FS) Rename(ctx context.Context, from, to string) error {
	fromKey, err := f.begin(ctx, "rename", from)
	if err != nil {
		return err
	}
	toKey, err := f.begin(ctx, "rename", to)
	if err != nil {
		return err
	}
	fail := func(err error) error { return &os.LinkError{Op: "rename", Old: from, New: to, Err: err} }
	if from == "/" || to == "/" {
		return fail(fs.ErrPermission)
	}
	src, srcErr := f.head(ctx, "rename", from, fromKey)
	isDir := false
	if srcErr != nil {
		if !isNotExist(srcErr) {
			return srcErr
		}
		if _, err := f.statDir(ctx, "rename", from, fromKey+"/"); err != nil {
			return err
		}
		isDir = true
	}
	if from == to {
		return nil
	}
	if isDir && strings.HasPrefix(to, from+"/") {
		return fail(fmt.Errorf("cannot move a directory into itself: %w: %w", fs.ErrInvalid, ftpserver.ErrInvalidName))
	}
	if err := f.parentDir(ctx, "rename", to); err != nil {
		return err
	}
	if dst, err := f.Stat(ctx, to); err == nil {
		if dst.IsDir() {
			return fail(ftpserver.ErrIsDir)
		}
		if isDir {
			return fail(ftpserver.ErrNotDir)
		}
	} else if !isNotExist(err) {
		return err
	}
	if !isDir {
		if err := f.copyObject(ctx, "rename", from, src, toKey, nil); err != nil {
			return err
		}
		err := f.store.client.RemoveObject(ctx, f.bucket, fromKey, minio.RemoveObjectOptions{})
		return mapErr("rename", from, ctxErr(ctx, err))
	}
	return f.renameDir(ctx, from, fromKey+"/", toKey+"/")
}

// renameDir moves every object under the prefix from to the prefix to.
func (f *FS) renameDir(ctx context.Context, name, from, to string) error {
	limit := f.store.opts.MaxRenameCount
	var objects []minio.ObjectInfo
	for obj := range f.store.client.ListObjectsIter(ctx, f.bucket, minio.ListObjectsOptions{Prefix: from, Recursive: true}) {
		if obj.Err != nil {
			return mapErr("rename", name, ctxErr(ctx, obj.Err))
		}
		if len(to)+len(obj.Key)-len(from) > maxKeyLen {
			return &fs.PathError{Op: "rename", Path: name, Err: fmt.Errorf("%s would get a key longer than %d bytes: %w", obj.Key, maxKeyLen, ftpserver.ErrInvalidName)}
		}
		if len(objects) == limit {
			return &ftp.Error{Code: ftp.CodeActionNotTaken,
				Msg: fmt.Sprintf("Directory too large to rename here (more than %d objects).", limit)}
		}
		objects = append(objects, obj)
	}
	if err := ctx.Err(); err != nil {
		return &fs.PathError{Op: "rename", Path: name, Err: err}
	}

	targets := func(yield func(string) bool) {
		for _, obj := range objects {
			if !yield(to + obj.Key[len(from):]) {
				return
			}
		}
	}
	err := f.eachLimit(ctx, len(objects), renameConcurrency, func(ctx context.Context, i int) error {
		obj := objects[i]
		return f.copyObject(ctx, "rename", name, obj, to+obj.Key[len(from):], nil)
	})
	if err != nil {
		// Undo: the source is whole, so the copies go, even if the client
		// has gone. Every target key goes, not only the copies known to
		// be done: a copy cancelled on our side may have finished on the
		// store's, and the target did not exist before.
		_ = f.removeKeys(context.WithoutCancel(ctx), name, targets)
		return err
	}
	// Once everything is copied the move has happened: finish deleting
	// the sources even if the client goes away meanwhile.
	sources := func(yield func(string) bool) {
		for _, obj := range objects {
			if !yield(obj.Key) {
				return
			}
		}
	}
	return f.removeKeys(context.WithoutCancel(ctx), name, sources)
}

// removeKeys deletes keys with multi-object deletes (up to 1,000 keys per
// request) and returns the first failure.
func (f *FS) removeKeys(ctx context.Context, name string, keys iter.Seq[string]) error {
	objects := func(yield func(minio.ObjectInfo) bool) {
		for k := range keys {
			if !yield(minio.ObjectInfo{Key: k}) {
				return
			}
		}
	}
	results, err := f.store.client.RemoveObjectsWithIter(ctx, f.bucket, objects, minio.RemoveObjectsOptions{})
	if err != nil {
		return mapErr("rename", name, err)
	}
	var first error
	for r := range results {
		if r.Err != nil && first == nil {
			first = mapErr("rename", name, r.Err)
		}
	}
	return first
}

// eachLimit runs do(0..n-1), limit calls at once, and returns the first
// error; after an error, calls not yet started are skipped.
func (f *FS) eachLimit(ctx context.Context, n, limit int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, limit)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := do(ctx, i); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		// Cancelled from outside, not by a failure.
		firstErr = context.Cause(ctx)
	}
	return firstErr
}

// copyObject copies src (an object of this bucket, as listed or stated)
// to dstKey on the server. meta nil keeps the source's metadata; else it
// replaces it. The source is pinned by its ETag, so an object replaced
// meanwhile fails the copy instead of mixing versions. Objects above
// S3's 5 GiB CopyObject limit are copied as a multipart upload of
// UploadPartCopy ranges.
func (f *FS) copyObject(ctx context.Context, op, name string, src minio.ObjectInfo, dstKey string, meta map[string]string) error {
	if src.Size > f.store.copyLimit() {
		return f.copyMultipart(ctx, op, name, src, dstKey, meta)
	}
	dst := minio.CopyDestOptions{Bucket: f.bucket, Object: dstKey}
	if meta != nil {
		dst.ReplaceMetadata = true
		dst.UserMetadata = meta
		dst.ContentType = src.ContentType
	}
	_, err := f.store.client.CopyObject(ctx, dst, minio.CopySrcOptions{Bucket: f.bucket, Object: src.Key, MatchETag: src.ETag})
	return mapErr(op, name, ctxErr(ctx, err))
}

func (f *FS) copyMultipart(ctx context.Context, op, name string, src minio.ObjectInfo, dstKey string, meta map[string]string) error {
	if meta == nil || src.ContentType == "" {
		// A listing has neither the metadata nor the content type.
		full, err := f.head(ctx, op, name, src.Key)
		if err != nil {
			return err
		}
		if full.ETag != src.ETag {
			return &fs.PathError{Op: op, Path: name, Err: errors.New("object changed during the copy")}
		}
		if meta == nil {
			meta = full.UserMetadata
		}
		src.ContentType = full.ContentType
	}
	core := f.store.core
	uploadID, err := core.NewMultipartUpload(ctx, f.bucket, dstKey, minio.PutObjectOptions{UserMetadata: meta, ContentType: src.ContentType})
	if err != nil {
		return mapErr(op, name, ctxErr(ctx, err))
	}
	partSize := f.store.copyLimit()
	var parts []minio.CompletePart
	pin := map[string]string{"x-amz-copy-source-if-match": src.ETag}
	for start, number := int64(0), 1; start < src.Size; start, number = start+partSize, number+1 {
		length := min(partSize, src.Size-start)
		part, err := core.CopyObjectPart(ctx, f.bucket, src.Key, f.bucket, dstKey, uploadID, number, start, length, pin)
		if err != nil {
			_ = core.AbortMultipartUpload(context.WithoutCancel(ctx), f.bucket, dstKey, uploadID)
			return mapErr(op, name, ctxErr(ctx, err))
		}
		parts = append(parts, part)
	}
	if _, err := core.CompleteMultipartUpload(ctx, f.bucket, dstKey, uploadID, parts, minio.PutObjectOptions{}); err != nil {
		_ = core.AbortMultipartUpload(context.WithoutCancel(ctx), f.bucket, dstKey, uploadID)
		return mapErr(op, name, ctxErr(ctx, err))
	}
	return nil
}
