package s3fs

import (
	"context"
	"io"
	"io/fs"
	"iter"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// listPageSize is how many keys one ListObjectsV2 request asks for (S3's
// maximum). The lister holds at most one page.
const listPageSize = 1000

// dirLookups is how many HEAD requests a lister runs at once to describe
// the subdirectories of one batch.
const dirLookups = 16

// List implements ftpserver.FileSystem. It streams ListObjectsV2 pages
// with the delimiter "/": the next page is requested only once the
// previous one has been handed out, so a directory of any size costs one
// page of memory. Objects are files, common prefixes directories; the
// directory's own marker and names that a client could not use ("",
// ".", "..", from keys written by other tools) are left out.
//
// A name that is both an object "a" and a prefix "a/" is a file, as in
// Stat: the listing shows only the file, so a client never sees two
// entries of one name, and what it lists it can open. To know that and
// the directory's time (kept on its marker), each subdirectory costs two
// HEAD requests, run dirLookups at a time; files cost nothing extra. A
// file's time is its "mtime" metadata where the store returns metadata
// in listings (MinIO, asked with metadata=true), else its LastModified.
func (f *FS) List(ctx context.Context, name string) (ftpserver.DirLister, error) {
	k, err := f.begin(ctx, "list", name)
	if err != nil {
		return nil, err
	}
	prefix, err := f.dirKey(name)
	if err != nil {
		return nil, err
	}
	if name != "/" {
		if _, err := f.head(ctx, "list", name, k); err == nil {
			return nil, &fs.PathError{Op: "list", Path: name, Err: ftpserver.ErrNotDir}
		} else if !isNotExist(err) {
			return nil, err
		}
	}
	opts := minio.ListObjectsOptions{Prefix: prefix, MaxKeys: listPageSize, WithMetadata: true}
	next, stop := iter.Pull(f.store.client.ListObjectsIter(ctx, f.bucket, opts))
	l := &lister{ctx: ctx, f: f, name: name, prefix: prefix, next: next, stop: stop}
	first, ok := next()
	switch {
	case ctx.Err() != nil:
		stop()
		return nil, &fs.PathError{Op: "list", Path: name, Err: ctx.Err()}
	case ok && first.Err != nil:
		stop()
		return nil, mapErr("list", name, first.Err)
	case !ok && name != "/":
		stop()
		return nil, &fs.PathError{Op: "list", Path: name, Err: fs.ErrNotExist}
	}
	if ok {
		l.peeked = &first
	} else {
		l.done = true
	}
	return l, nil
}

// lister is the DirLister of List.
type lister struct {
	ctx    context.Context // List's: Next fails once it is done
	f      *FS
	name   string
	prefix string

	mu     sync.Mutex
	next   func() (minio.ObjectInfo, bool)
	stop   func()
	peeked *minio.ObjectInfo // read by List to tell a missing directory
	done   bool
	err    error // what ended the listing early, returned again
}

// Next implements ftpserver.DirLister.
func (l *lister) Next(n int) ([]fs.FileInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.ctx.Err(); err != nil {
		return nil, &fs.PathError{Op: "list", Path: l.name, Err: err}
	}
	if n <= 0 {
		n = 1
	}
	for {
		if l.err != nil {
			return nil, l.err
		}
		if l.done {
			return nil, io.EOF
		}
		files, dirs := l.batch(n)
		out, err := l.describe(files, dirs)
		if err != nil {
			l.err = err
			return nil, err
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

// batch takes up to n raw entries: files described, directories by name.
func (l *lister) batch(n int) (files []fs.FileInfo, dirs []string) {
	for len(files)+len(dirs) < n {
		obj, ok := l.pull()
		if !ok {
			return files, dirs
		}
		name, isDir, ok := entryName(l.prefix, obj.Key)
		switch {
		case !ok:
		case isDir:
			dirs = append(dirs, name)
		default:
			meta := obj.UserMetadataStripped
			if meta == nil {
				meta = obj.UserMetadata
			}
			files = append(files, &entry{name: name, size: obj.Size, mtime: modTime(meta, obj.LastModified)})
		}
	}
	return files, dirs
}

// entryName is the name a listed key (or common prefix, ending in "/")
// shows under the directory prefix, or !ok for the directory's own
// marker, a key outside prefix and names that a client could not use
// ("", ".", "..", anything with a "/": keys written by other tools).
func entryName(prefix, key string) (name string, isDir, ok bool) {
	rest, found := strings.CutPrefix(key, prefix)
	if !found {
		return "", false, false
	}
	name, isDir = strings.CutSuffix(rest, "/")
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return "", false, false
	}
	return name, isDir, true
}

// pull returns the next key or prefix of the listing; at the end, or on
// an error (kept in l.err), it marks the lister done.
func (l *lister) pull() (minio.ObjectInfo, bool) {
	if p := l.peeked; p != nil {
		l.peeked = nil
		return *p, true
	}
	if l.done || l.err != nil {
		return minio.ObjectInfo{}, false
	}
	obj, ok := l.next()
	switch {
	case l.ctx.Err() != nil:
		l.err = &fs.PathError{Op: "list", Path: l.name, Err: l.ctx.Err()}
	case !ok:
		l.done = true
	case obj.Err != nil:
		l.err = mapErr("list", l.name, obj.Err)
	default:
		return obj, true
	}
	l.stop()
	return minio.ObjectInfo{}, false
}

// describe adds the directories of a batch to its files, dropping those
// that a file of the same name hides.
func (l *lister) describe(files []fs.FileInfo, dirs []string) ([]fs.FileInfo, error) {
	if len(dirs) == 0 {
		return files, nil
	}
	found := make([]*entry, len(dirs))
	err := l.f.eachLimit(l.ctx, len(dirs), dirLookups, func(ctx context.Context, i int) error {
		key := l.prefix + dirs[i]
		if _, err := l.f.head(ctx, "list", l.name, key); err == nil {
			return nil // a file of the same name wins
		} else if !isNotExist(err) {
			return err
		}
		e := &entry{name: dirs[i], dir: true}
		if info, err := l.f.head(ctx, "list", l.name, key+"/"); err == nil {
			e.mtime = modTime(info.UserMetadata, info.LastModified)
		} else if !isNotExist(err) {
			return err
		}
		found[i] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range found {
		if e != nil {
			files = append(files, e)
		}
	}
	return files, nil
}

// Close implements ftpserver.DirLister: it ends the listing; no request
// is made after it.
func (l *lister) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.done = true
		l.stop()
	}
	return nil
}
