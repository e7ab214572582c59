package s3fs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Create implements ftpserver.FileSystem.
//
// The upload streams as a multipart upload of unknown size: parts of
// Options.PartSize, at most Options.Concurrency of them in flight, so an
// upload holds at most PartSize x (Concurrency+1) bytes. An upload that
// ends below PartSize is a single PutObject. Nothing is visible at name
// until Commit completes the upload, in every mode.
//
// WriteAppend and WriteAt build the new object from the first bytes of the
// existing one (server-side UploadPartCopy, pinned to the ETag seen at
// Create so a concurrent change fails the upload rather than mixing
// versions) followed by the new data; a kept prefix under S3's 5 MiB part
// minimum is downloaded at Create and re-uploaded as the start of the
// first part.
//
// S3 cannot show an object while it is being written, so UploadDirect
// behaves as UploadAtomicResume: what an interrupted upload delivered is
// published at Abort(AbortInterrupted), for the client to resume with
// REST or APPE. UploadAtomic publishes nothing on interruption.
//
// Exclusive uploads fail at Create with fs.ErrExist when the name is
// taken, and at Commit if it was taken meanwhile (If-None-Match: *).
func (f *FS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	key, err := f.fileKey(ctx, "create", name)
	if err != nil {
		return nil, err
	}
	if opts.Mode == ftpserver.WriteAt && opts.Offset < 0 {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fmt.Errorf("negative offset: %w", fs.ErrInvalid)}
	}
	target, err := f.lookupTarget(ctx, name, key)
	if err != nil {
		return nil, err
	}
	if opts.Exclusive && target.exists {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
	}
	// keep is how much of the existing object starts the new one.
	var keep int64
	switch opts.Mode {
	case ftpserver.WriteAppend:
		keep = target.size
	case ftpserver.WriteAt:
		switch {
		case opts.Offset == 0:
		case !target.exists:
			return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrNotExist}
		case opts.Offset > target.size:
			return nil, &fs.PathError{Op: "create", Path: name, Err: fmt.Errorf("offset %d beyond the end (%d): %w", opts.Offset, target.size, fs.ErrInvalid)}
		default:
			keep = opts.Offset
		}
	}

	partsCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &writer{
		f:           f,
		name:        name,
		key:         key,
		ctx:         ctx,
		publishCut:  opts.Upload != ftpserver.UploadAtomic,
		exclusive:   opts.Exclusive,
		partSize:    f.store.opts.PartSize,
		srcETag:     target.etag,
		nextPart:    1,
		slots:       make(chan struct{}, f.store.opts.Concurrency),
		failed:      make(chan struct{}),
		partsCtx:    partsCtx,
		cancelParts: cancel,
	}
	if keep > 0 {
		if err := w.keepPrefix(ctx, keep); err != nil {
			w.cancelParts()
			return nil, err
		}
	}
	return w, nil
}

// writer is an upload in progress. Write and ReadFrom fill the current
// part; a full part is sent by a goroutine of its own while the next one
// fills. Commit and Abort wait for the parts in flight.
type writer struct {
	f          *FS
	name, key  string
	ctx        context.Context // Create's: writes fail once it is done
	publishCut bool            // Abort(AbortInterrupted) publishes what arrived
	exclusive  bool
	partSize   int64

	// srcETag pins the existing object whose first bytes the upload
	// keeps; copyRanges are the [start, end) ranges copied server-side.
	srcETag    string
	copyRanges [][2]int64

	cur     *chunkBuf // the part being filled; nil until data arrives
	written int64     // bytes of new data accepted
	done    bool      // Commit or Abort has run

	uploadID    string // "" until the multipart upload starts
	nextPart    int
	slots       chan struct{} // a token per part in flight
	parts       sync.WaitGroup
	partsCtx    context.Context // outlives the session; canceled by failure or Abort
	cancelParts context.CancelFunc

	mu        sync.Mutex
	completed []minio.CompletePart
	err       error         // the first part failure
	failed    chan struct{} // closed with err set

	// live counts the parts held in memory; maxLive is its high-water
	// mark, which the tests hold to Concurrency+1.
	live, maxLive atomic.Int64
}

// keepPrefix prepares the first keep bytes of the existing object: a
// short prefix is downloaded now into the first part; a longer one is
// split into copy ranges of at most 5 GiB, all at least 5 MiB (an even
// split keeps every range above the minimum), copied once the multipart
// upload starts.
func (w *writer) keepPrefix(ctx context.Context, keep int64) error {
	if keep < minPartSize {
		opts := minio.GetObjectOptions{}
		if err := opts.SetRange(0, keep-1); err != nil {
			return &fs.PathError{Op: "create", Path: w.name, Err: err}
		}
		w.pin(&opts)
		body, _, _, err := w.f.store.core.GetObject(ctx, w.f.bucket, w.key, opts)
		if err != nil {
			return mapPinnedErr("create", w.name, err)
		}
		defer body.Close()
		w.newPart()
		if err := w.cur.fill(body, keep); err != nil {
			w.releaseCur()
			return mapPinnedErr("create", w.name, err)
		}
		return nil
	}
	w.copyRanges = copyPlan(keep, maxCopyPartSize)
	return nil
}

// copyPlan splits [0, keep) into the fewest ranges of at most maxCopy
// bytes, of even sizes: with keep >= 5 MiB every range is then at least
// 5 MiB (or half of maxCopy), as S3 requires of every part but the last,
// and no remainder has to be downloaded.
func copyPlan(keep, maxCopy int64) [][2]int64 {
	n := (keep + maxCopy - 1) / maxCopy
	ranges := make([][2]int64, 0, n)
	for i, start := int64(0), int64(0); i < n; i++ {
		size := keep / n
		if i < keep%n {
			size++
		}
		ranges = append(ranges, [2]int64{start, start + size})
		start += size
	}
	return ranges
}

// pin makes a read of the source fail if the object is no longer the one
// Create saw.
func (w *writer) pin(opts *minio.GetObjectOptions) {
	if w.srcETag != "" {
		opts.SetMatchETag(w.srcETag)
	}
}

func (w *writer) newPart() {
	w.cur = &chunkBuf{}
	if n := w.live.Add(1); n > w.maxLive.Load() {
		w.maxLive.Store(n)
	}
}

func (w *writer) releaseCur() {
	if w.cur != nil {
		w.cur.release()
		w.cur = nil
		w.live.Add(-1)
	}
}

// Write implements io.Writer.
func (w *writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := w.ready(); err != nil {
			return n, err
		}
		c := w.cur.write(p, w.partSize)
		p = p[c:]
		n += c
		w.written += int64(c)
	}
	return n, nil
}

// ReadFrom implements io.ReaderFrom: data goes from r straight into the
// part buffers. An error of r is returned as r reported it.
func (w *writer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if err := w.ready(); err != nil {
			return total, err
		}
		n, err := w.cur.readOnce(r, w.partSize)
		total += n
		w.written += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// ready checks the upload may take more data and makes room in cur,
// sending it first if it is full.
func (w *writer) ready() error {
	if w.done {
		return &fs.PathError{Op: "write", Path: w.name, Err: fs.ErrClosed}
	}
	if err := w.ctx.Err(); err != nil {
		return &fs.PathError{Op: "write", Path: w.name, Err: err}
	}
	if err := w.failure(); err != nil {
		return err
	}
	if w.cur != nil && w.cur.size >= w.partSize {
		if err := w.send(w.ctx); err != nil {
			return err
		}
	}
	if w.cur == nil {
		w.newPart()
	}
	return nil
}

// failure is the first part failure, if any.
func (w *writer) failure() error {
	select {
	case <-w.failed:
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.err
	default:
		return nil
	}
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		close(w.failed)
		// The other parts are wasted work now.
		w.cancelParts()
	}
}

// send starts uploading cur as the next part, once a slot is free.
func (w *writer) send(ctx context.Context) error {
	if w.uploadID == "" {
		if err := w.startMultipart(ctx); err != nil {
			return err
		}
	}
	if w.nextPart > maxParts {
		return w.failWith(&fs.PathError{Op: "write", Path: w.name,
			Err: fmt.Errorf("upload larger than %d parts of %d bytes: %w", maxParts, w.partSize, ftpserver.ErrQuota)})
	}
	if err := w.takeSlot(ctx); err != nil {
		return err
	}
	part, number := w.cur, w.nextPart
	w.cur = nil
	w.nextPart++
	w.parts.Go(func() {
		defer func() { <-w.slots }()
		info, err := w.f.store.core.PutObjectPart(w.partsCtx, w.f.bucket, w.key, w.uploadID, number, part, part.size, minio.PutObjectPartOptions{})
		if err != nil {
			part.drop()
			w.live.Add(-1)
			w.fail(mapErr("write", w.name, err))
			return
		}
		part.release()
		w.live.Add(-1)
		w.addPart(minio.CompletePart{
			PartNumber:        number,
			ETag:              info.ETag,
			ChecksumCRC32:     info.ChecksumCRC32,
			ChecksumCRC32C:    info.ChecksumCRC32C,
			ChecksumSHA1:      info.ChecksumSHA1,
			ChecksumSHA256:    info.ChecksumSHA256,
			ChecksumCRC64NVME: info.ChecksumCRC64NVME,
		})
	})
	return nil
}

func (w *writer) failWith(err error) error {
	w.fail(err)
	return err
}

func (w *writer) addPart(p minio.CompletePart) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.completed = append(w.completed, p)
}

// takeSlot waits until fewer than Concurrency parts are in flight.
func (w *writer) takeSlot(ctx context.Context) error {
	select {
	case w.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &fs.PathError{Op: "write", Path: w.name, Err: ctx.Err()}
	case <-w.failed:
		return w.failure()
	}
}

// startMultipart creates the multipart upload and starts copying the kept
// prefix into its first parts.
func (w *writer) startMultipart(ctx context.Context) error {
	id, err := w.f.store.core.NewMultipartUpload(ctx, w.f.bucket, w.key, minio.PutObjectOptions{})
	if err != nil {
		return w.failWith(mapErr("write", w.name, err))
	}
	w.uploadID = id
	for _, r := range w.copyRanges {
		if err := w.takeSlot(ctx); err != nil {
			return err
		}
		number := w.nextPart
		w.nextPart++
		w.parts.Go(func() {
			defer func() { <-w.slots }()
			// CopyObjectPart takes extra request headers as "metadata".
			headers := map[string]string{}
			if w.srcETag != "" {
				headers["x-amz-copy-source-if-match"] = `"` + w.srcETag + `"`
			}
			part, err := w.f.store.core.CopyObjectPart(w.partsCtx, w.f.bucket, w.key, w.f.bucket, w.key, w.uploadID,
				number, r[0], r[1]-r[0], headers)
			if err != nil {
				w.fail(mapPinnedErr("write", w.name, err))
				return
			}
			w.addPart(part)
		})
	}
	return nil
}

// Commit implements ftpserver.FileWriter.
func (w *writer) Commit(ctx context.Context) error {
	if w.done {
		return &fs.PathError{Op: "commit", Path: w.name, Err: fs.ErrClosed}
	}
	w.done = true
	return w.publish(ctx)
}

// Abort implements ftpserver.FileWriter. An interrupted upload publishes
// what arrived (after the kept prefix) unless the mode is UploadAtomic or
// nothing arrived; a failed one publishes nothing and the previous object
// stays.
func (w *writer) Abort(ctx context.Context, why ftpserver.AbortReason) error {
	if w.done {
		return nil
	}
	w.done = true
	if why == ftpserver.AbortInterrupted && w.publishCut && w.written > 0 && w.failure() == nil {
		return w.publish(ctx)
	}
	w.cancelParts()
	return w.discard(ctx, nil)
}

// publish makes the upload the object at the key: one PutObject when no
// multipart upload was needed, else the last part and Complete.
func (w *writer) publish(ctx context.Context) error {
	defer w.cancelParts()
	if err := ctx.Err(); err != nil {
		return w.discard(ctx, &fs.PathError{Op: "commit", Path: w.name, Err: err})
	}
	opts := minio.PutObjectOptions{}
	if w.exclusive {
		opts.SetMatchETagExcept("*")
	}
	if w.uploadID == "" && len(w.copyRanges) == 0 {
		if w.cur == nil {
			w.newPart()
		}
		_, err := w.f.store.core.PutObject(ctx, w.f.bucket, w.key, w.cur, w.cur.size, "", "", opts)
		if err != nil {
			w.cur.drop()
			w.cur = nil
			w.live.Add(-1)
			return mapErr("commit", w.name, err)
		}
		w.releaseCur()
		return nil
	}
	if w.uploadID == "" {
		if err := w.startMultipart(ctx); err != nil {
			return w.discard(ctx, err)
		}
	}
	if w.cur != nil && w.cur.size > 0 {
		if err := w.send(ctx); err != nil {
			return w.discard(ctx, err)
		}
	}
	w.releaseCur()
	if err := w.wait(ctx); err != nil {
		return w.discard(ctx, err)
	}
	if err := w.failure(); err != nil {
		return w.discard(ctx, err)
	}
	parts := slices.SortedFunc(slices.Values(w.completed), func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	if _, err := w.f.store.core.CompleteMultipartUpload(ctx, w.f.bucket, w.key, w.uploadID, parts, opts); err != nil {
		return w.discard(ctx, mapErr("commit", w.name, err))
	}
	return nil
}

// wait waits for the parts in flight, or for ctx.
func (w *writer) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		w.parts.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		w.cancelParts()
		<-done
		return &fs.PathError{Op: "commit", Path: w.name, Err: ctx.Err()}
	}
}

// discard ends the upload without publishing: it frees the buffers and
// aborts the multipart upload, and returns cause (or the abort's error).
// With ctx done the multipart upload stays for the sweeper.
func (w *writer) discard(ctx context.Context, cause error) error {
	w.cancelParts()
	w.releaseCur()
	if werr := w.wait(ctx); cause == nil {
		cause = werr
	}
	if w.uploadID == "" {
		return cause
	}
	err := w.f.store.core.AbortMultipartUpload(ctx, w.f.bucket, w.key, w.uploadID)
	if cause != nil {
		return cause
	}
	if err != nil && !notFound(err) {
		return mapErr("abort", w.name, err)
	}
	return nil
}
