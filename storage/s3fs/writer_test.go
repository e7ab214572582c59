package s3fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/miniotest"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// ioEnv is one test's file system on a bucket of its own, with the raw
// client to look behind it.
type ioEnv struct {
	fs     *FS
	raw    *minio.Client
	bucket string
}

// ioSetup makes a file system with a small part size (5 MiB) so that
// multipart paths run on small data, rooted at a prefix so that keys are
// mapped as in production.
func ioSetup(t testing.TB, tune func(*Options)) *ioEnv {
	t.Helper()
	srv := miniotest.Shared(t)
	bucket := miniotest.NewBucket(t, srv)
	opts := Options{
		Endpoint:    srv.Endpoint,
		Insecure:    true,
		PathStyle:   true,
		Credentials: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		PartSize:    minPartSize,
		Concurrency: 2,
	}
	if tune != nil {
		tune(&opts)
	}
	store, err := Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := store.FS(t.Context(), bucket, "root")
	if err != nil {
		t.Fatal(err)
	}
	return &ioEnv{fs: fsys, raw: srv.Client(t), bucket: bucket}
}

// data is n bytes of a pattern that differs per seed and has no short
// period, so a misplaced part shows.
func data(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// upload writes content through Create/Write/Commit.
func (e *ioEnv) upload(t testing.TB, name string, opts ftpserver.CreateOptions, content []byte) error {
	t.Helper()
	w, err := e.fs.Create(t.Context(), name, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(content); err != nil {
		w.Abort(context.Background(), ftpserver.AbortFailed)
		return err
	}
	return w.Commit(context.Background())
}

// put stores content at name or fails the test.
func (e *ioEnv) put(t testing.TB, name string, content []byte) {
	t.Helper()
	if err := e.upload(t, name, ftpserver.CreateOptions{}, content); err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
}

// rawPut stores an object under the root prefix with the raw client.
func (e *ioEnv) rawPut(t testing.TB, key string, content []byte) {
	t.Helper()
	if _, err := e.raw.PutObject(t.Context(), e.bucket, "root/"+key, bytes.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// content reads name back through the raw client, bypassing Open.
func (e *ioEnv) content(t testing.TB, name string) ([]byte, error) {
	t.Helper()
	obj, err := e.raw.GetObject(t.Context(), e.bucket, "root"+name, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

// wantObject checks name holds want (nil: that it does not exist).
func (e *ioEnv) wantObject(t testing.TB, name string, want []byte) {
	t.Helper()
	got, err := e.content(t, name)
	if want == nil {
		if minio.ToErrorResponse(err).Code != "NoSuchKey" {
			t.Errorf("%s: want no object, got %d bytes, %v", name, len(got), err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes, want %d (first difference at %d)", name, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// incomplete lists the multipart uploads left in the bucket.
func (e *ioEnv) incomplete(t testing.TB) []string {
	t.Helper()
	var keys []string
	for u := range e.raw.ListIncompleteUploads(t.Context(), e.bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		keys = append(keys, u.Key)
	}
	return keys
}

func TestUploadSizes(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 1, minPartSize - 1, minPartSize, minPartSize + 1, 7 * minPartSize / 2} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			e := ioSetup(t, nil)
			want := data(size, byte(size))
			// Through ReadFrom, as the server copies, hiding WriterTo.
			w, err := e.fs.Create(t.Context(), "/f", ftpserver.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			n, err := w.(io.ReaderFrom).ReadFrom(struct{ io.Reader }{bytes.NewReader(want)})
			if err != nil || n != int64(size) {
				t.Fatalf("ReadFrom = %d, %v; want %d", n, err, size)
			}
			if err := w.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.wantObject(t, "/f", want)
			// And through Write, in odd pieces.
			w, err = e.fs.Create(t.Context(), "/g", ftpserver.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for rest := want; len(rest) > 0; {
				k := min(len(rest), 777777)
				if _, err := w.Write(rest[:k]); err != nil {
					t.Fatal(err)
				}
				rest = rest[k:]
			}
			if err := w.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.wantObject(t, "/g", want)
			if got := e.incomplete(t); len(got) != 0 {
				t.Errorf("incomplete uploads left: %q", got)
			}
			r, err := e.fs.Open(t.Context(), "/g", 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("Open/read: %d bytes, %v; want %d identical", len(got), err, len(want))
			}
		})
	}
}

// errorsIs is errors.Is with a message.
func wantErrIs(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func TestCreateRefuses(t *testing.T) {
	t.Parallel()
	e := ioSetup(t, nil)
	e.put(t, "/file", []byte("old"))
	e.rawPut(t, "dir/inner", []byte("x"))
	e.rawPut(t, "empty/", nil) // a directory that exists only as its marker
	for _, tc := range []struct {
		name string
		opts ftpserver.CreateOptions
		want error
	}{
		{"/", ftpserver.CreateOptions{}, ftpserver.ErrIsDir},
		{"/dir", ftpserver.CreateOptions{}, ftpserver.ErrIsDir},
		{"/empty", ftpserver.CreateOptions{}, ftpserver.ErrIsDir},
		{"/missing/f", ftpserver.CreateOptions{}, fs.ErrNotExist},
		{"/file/f", ftpserver.CreateOptions{}, fs.ErrNotExist},
		{"/file", ftpserver.CreateOptions{Exclusive: true}, fs.ErrExist},
		{"/nothing", ftpserver.CreateOptions{Mode: ftpserver.WriteAt, Offset: 1}, fs.ErrNotExist},
		{"/file", ftpserver.CreateOptions{Mode: ftpserver.WriteAt, Offset: 4}, fs.ErrInvalid},
		{"/file", ftpserver.CreateOptions{Mode: ftpserver.WriteAt, Offset: -1}, fs.ErrInvalid},
		{"/a/../file", ftpserver.CreateOptions{}, ftpserver.ErrInvalidName},
	} {
		err := e.upload(t, tc.name, tc.opts, []byte("new"))
		wantErrIs(t, fmt.Sprintf("Create(%s, %+v)", tc.name, tc.opts), err, tc.want)
	}
	e.wantObject(t, "/file", []byte("old"))
	e.wantObject(t, "/dir", nil)
	e.wantObject(t, "/empty", nil)
	// Fine in an empty directory and at the root.
	for _, name := range []string{"/empty/f", "/new"} {
		if err := e.upload(t, name, ftpserver.CreateOptions{Exclusive: true}, []byte(name)); err != nil {
			t.Errorf("Create(%s): %v", name, err)
		}
		e.wantObject(t, name, []byte(name))
	}
}

// hookTransport lets a test hold or fail requests: hook returns a
// response or an error to answer the request itself, or neither to pass
// it on.
type hookTransport struct {
	base http.RoundTripper
	hook func(*http.Request) (*http.Response, error)
}

func (h *hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if resp, err := h.hook(req); resp != nil || err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return resp, err
	}
	return h.base.RoundTrip(req)
}

func withHook(hook func(*http.Request) (*http.Response, error)) func(*Options) {
	return func(o *Options) {
		o.Transport = &hookTransport{base: http.DefaultTransport.(*http.Transport).Clone(), hook: hook}
	}
}

// isPartUpload reports whether req uploads data as a part (not a copy).
func isPartUpload(req *http.Request) bool {
	q := req.URL.Query()
	return req.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId") && req.Header.Get("X-Amz-Copy-Source") == ""
}

// s3Error is an S3 error response with code.
func s3Error(req *http.Request, status int, code string) *http.Response {
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>test</Message></Error>`
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/xml"}},
		Body:    io.NopCloser(strings.NewReader(body)),
		Request: req, ContentLength: int64(len(body)),
	}
}

func TestUploadMemoryBound(t *testing.T) {
	t.Parallel()
	const concurrency = 2
	release := make(chan struct{})
	var arrived atomic.Int64
	e := ioSetup(t, func(o *Options) {
		o.Concurrency = concurrency
		withHook(func(req *http.Request) (*http.Response, error) {
			if isPartUpload(req) {
				arrived.Add(1)
				select {
				case <-release:
				case <-req.Context().Done():
					return nil, req.Context().Err()
				}
			}
			return nil, nil
		})(o)
	})
	want := data(8*minPartSize+3, 5)
	w, err := e.fs.Create(t.Context(), "/f", ftpserver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wr := w.(*writer)
	copied := make(chan error, 1)
	go func() {
		_, err := wr.ReadFrom(struct{ io.Reader }{bytes.NewReader(want)})
		copied <- err
	}()
	// With every part upload held, the copy fills the parts in flight
	// and one more, then waits for a slot.
	testwait.For(t, "the parts in flight to fill", func() bool {
		return arrived.Load() == concurrency && wr.live.Load() == concurrency+1
	})
	select {
	case err := <-copied:
		t.Fatalf("ReadFrom returned (%v) while every part upload was held", err)
	default:
	}
	close(release)
	if err := <-copied; err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := wr.maxLive.Load(); n > concurrency+1 {
		t.Errorf("%d parts in memory at once, want at most %d", n, concurrency+1)
	}
	if n := wr.live.Load(); n != 0 {
		t.Errorf("%d parts still held after Commit", n)
	}
	e.wantObject(t, "/f", want)
}

func TestUploadInvisibleUntilCommit(t *testing.T) {
	t.Parallel()
	for _, size := range []int{100, 3*minPartSize + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			e := ioSetup(t, nil)
			old := []byte("old content")
			e.put(t, "/f", old)
			want := data(size, 1)
			w, err := e.fs.Create(t.Context(), "/f", ftpserver.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(want); err != nil {
				t.Fatal(err)
			}
			e.wantObject(t, "/f", old)
			if err := w.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.wantObject(t, "/f", want)
		})
	}
}

func TestUploadAbort(t *testing.T) {
	t.Parallel()
	old := []byte("old content")
	for _, mode := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect} {
		for _, why := range []ftpserver.AbortReason{ftpserver.AbortFailed, ftpserver.AbortInterrupted} {
			for _, size := range []int{0, 100, 2*minPartSize + 7} {
				t.Run(fmt.Sprintf("%s/%s/%d", mode, why, size), func(t *testing.T) {
					t.Parallel()
					e := ioSetup(t, nil)
					e.put(t, "/f", old)
					sent := data(size, 3)
					for _, name := range []string{"/f", "/new"} {
						w, err := e.fs.Create(t.Context(), name, ftpserver.CreateOptions{Upload: mode})
						if err != nil {
							t.Fatal(err)
						}
						if _, err := w.Write(sent); err != nil {
							t.Fatal(err)
						}
						if err := w.Abort(t.Context(), why); err != nil {
							t.Fatalf("Abort: %v", err)
						}
					}
					// Only a client's interruption publishes, only what
					// arrived, and never in atomic mode.
					if why == ftpserver.AbortInterrupted && mode != ftpserver.UploadAtomic && size > 0 {
						e.wantObject(t, "/f", sent)
						e.wantObject(t, "/new", sent)
					} else {
						e.wantObject(t, "/f", old)
						e.wantObject(t, "/new", nil)
					}
					if got := e.incomplete(t); len(got) != 0 {
						t.Errorf("incomplete uploads left: %q", got)
					}
				})
			}
		}
	}
}

func TestUploadKeepsPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		old     int
		mode    ftpserver.WriteMode
		offset  int64
		newSize int
	}{
		{"append-1KiB", 1 << 10, ftpserver.WriteAppend, 0, 4},
		{"append-1KiB-multipart", 1 << 10, ftpserver.WriteAppend, 0, 2*minPartSize + 5},
		{"append-12MiB", 12 << 20, ftpserver.WriteAppend, 0, 4},
		{"append-12MiB-multipart", 12 << 20, ftpserver.WriteAppend, 0, minPartSize + 5},
		{"append-12MiB-nothing", 12 << 20, ftpserver.WriteAppend, 0, 0},
		{"rest-3MiB", 12 << 20, ftpserver.WriteAt, 3 << 20, 7 << 20},
		{"rest-11MiB", 12 << 20, ftpserver.WriteAt, 11 << 20, 7 << 20},
		{"rest-11MiB-small", 12 << 20, ftpserver.WriteAt, 11 << 20, 10},
		{"rest-at-end", 6 << 20, ftpserver.WriteAt, 6 << 20, 10},
		{"append-empty", 0, ftpserver.WriteAppend, 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := ioSetup(t, nil)
			old, sent := data(tc.old, 1), data(tc.newSize, 2)
			e.put(t, "/f", old)
			keep := old
			if tc.mode == ftpserver.WriteAt {
				keep = old[:tc.offset]
			}
			for _, upload := range []ftpserver.UploadMode{ftpserver.UploadAtomic, ftpserver.UploadAtomicResume} {
				if err := e.upload(t, "/f", ftpserver.CreateOptions{Mode: tc.mode, Offset: tc.offset, Upload: upload}, sent); err != nil {
					t.Fatal(err)
				}
				want := concatBytes(keep, sent)
				e.wantObject(t, "/f", want)
				e.put(t, "/f", old)
			}
			if got := e.incomplete(t); len(got) != 0 {
				t.Errorf("incomplete uploads left: %q", got)
			}
		})
	}
}

func concatBytes(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// An APPE whose source is replaced while it runs fails rather than gluing
// new data to a prefix of another version.
func TestUploadSourceChanged(t *testing.T) {
	t.Parallel()
	e := ioSetup(t, nil)
	e.put(t, "/f", data(12<<20, 1))
	w, err := e.fs.Create(t.Context(), "/f", ftpserver.CreateOptions{Mode: ftpserver.WriteAppend})
	if err != nil {
		t.Fatal(err)
	}
	other := data(12<<20, 9)
	e.rawPut(t, "f", other)
	if _, err := w.Write([]byte("tail")); err != nil {
		t.Fatal(err)
	}
	err = w.Commit(t.Context())
	wantErrIs(t, "Commit of an append whose source changed", err, ErrChanged)
	e.wantObject(t, "/f", other)
	if got := e.incomplete(t); len(got) != 0 {
		t.Errorf("incomplete uploads left: %q", got)
	}
}

func TestUploadExclusiveRace(t *testing.T) {
	t.Parallel()
	for _, size := range []int{10, minPartSize + 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			e := ioSetup(t, nil)
			first, second := data(size, 1), data(size, 2)
			excl := ftpserver.CreateOptions{Exclusive: true}
			w1, err := e.fs.Create(t.Context(), "/f", excl)
			if err != nil {
				t.Fatal(err)
			}
			w2, err := e.fs.Create(t.Context(), "/f", excl)
			if err != nil {
				t.Fatal(err)
			}
			for _, wc := range []struct {
				w ftpserver.FileWriter
				b []byte
			}{{w1, first}, {w2, second}} {
				if _, err := wc.w.Write(wc.b); err != nil {
					t.Fatal(err)
				}
			}
			if err := w1.Commit(t.Context()); err != nil {
				t.Fatalf("first Commit: %v", err)
			}
			wantErrIs(t, "second Commit", w2.Commit(t.Context()), fs.ErrExist)
			e.wantObject(t, "/f", first)
			if got := e.incomplete(t); len(got) != 0 {
				t.Errorf("incomplete uploads left: %q", got)
			}
		})
	}
}

// A part the store refuses makes the upload fail fast, and it never
// publishes, whatever the abort reason.
func TestUploadPartFailure(t *testing.T) {
	t.Parallel()
	for _, why := range []ftpserver.AbortReason{ftpserver.AbortFailed, ftpserver.AbortInterrupted} {
		t.Run(why.String(), func(t *testing.T) {
			t.Parallel()
			e := ioSetup(t, withHook(func(req *http.Request) (*http.Response, error) {
				if isPartUpload(req) && req.URL.Query().Get("partNumber") == "2" {
					return s3Error(req, http.StatusForbidden, "AccessDenied"), nil
				}
				return nil, nil
			}))
			old := []byte("old")
			e.put(t, "/f", old)
			w, err := e.fs.Create(t.Context(), "/f", ftpserver.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			piece := data(1<<20, 4)
			var werr error
			for i := 0; werr == nil && i < 200; i++ {
				_, werr = w.Write(piece)
			}
			wantErrIs(t, "Write after a refused part", werr, fs.ErrPermission)
			if why == ftpserver.AbortFailed {
				wantErrIs(t, "Commit after a refused part", w.Commit(t.Context()), fs.ErrPermission)
			} else if err := w.Abort(t.Context(), why); err != nil {
				t.Logf("Abort: %v", err)
			}
			e.wantObject(t, "/f", old)
			if got := e.incomplete(t); len(got) != 0 {
				t.Errorf("incomplete uploads left: %q", got)
			}
		})
	}
}

func TestUploadContext(t *testing.T) {
	t.Parallel()
	e := ioSetup(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	w, err := e.fs.Create(ctx, "/f", ftpserver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = w.Write([]byte("after"))
	wantErrIs(t, "Write after the context is done", err, context.Canceled)
	// Ending the upload takes its own context, which outlives Create's.
	if err := w.Abort(t.Context(), ftpserver.AbortInterrupted); err != nil {
		t.Fatal(err)
	}
	e.wantObject(t, "/f", []byte("before"))

	// Commit honours its context: a done one publishes nothing.
	w, err = e.fs.Create(t.Context(), "/g", ftpserver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data(minPartSize+1, 1)); err != nil {
		t.Fatal(err)
	}
	done, cancelDone := context.WithCancel(t.Context())
	cancelDone()
	wantErrIs(t, "Commit with a done context", w.Commit(done), context.Canceled)
	e.wantObject(t, "/g", nil)
}

// repeatReader yields n bytes cycling through pattern, without holding
// them all.
type repeatReader struct {
	pattern []byte
	n, off  int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	k := 0
	for k < len(p) {
		k += copy(p[k:], r.pattern[(r.off+int64(k))%int64(len(r.pattern)):])
	}
	r.off += int64(k)
	return k, nil
}

const benchSize = 256 << 20

// BenchmarkUpload streams 256 MiB through ReadFrom with the default part
// size and concurrency, as the server's copy does.
func BenchmarkUpload(b *testing.B) {
	e := ioSetup(b, func(o *Options) { o.PartSize, o.Concurrency = 0, 0 })
	pattern := data(1<<20+13, 1)
	b.SetBytes(benchSize)
	for b.Loop() {
		w, err := e.fs.Create(b.Context(), "/bench", ftpserver.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.(io.ReaderFrom).ReadFrom(&repeatReader{pattern: pattern, n: benchSize}); err != nil {
			b.Fatal(err)
		}
		if err := w.Commit(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUploadMinioGo is the reference for BenchmarkUpload: minio-go's
// own PutObject of a stream of unknown size, as `mc pipe` does.
func BenchmarkUploadMinioGo(b *testing.B) {
	e := ioSetup(b, nil)
	pattern := data(1<<20+13, 1)
	b.SetBytes(benchSize)
	for b.Loop() {
		_, err := e.raw.PutObject(b.Context(), e.bucket, "bench", &repeatReader{pattern: pattern, n: benchSize}, -1,
			minio.PutObjectOptions{PartSize: DefaultPartSize, NumThreads: DefaultConcurrency})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func TestCopyPlan(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	for _, keep := range []int64{minPartSize, minPartSize + 1, maxCopyPartSize - 1, maxCopyPartSize, maxCopyPartSize + 1,
		maxCopyPartSize + minPartSize - 1, 2*maxCopyPartSize + 3, 5000 * gib} {
		plan := copyPlan(keep, maxCopyPartSize)
		if want := (keep + maxCopyPartSize - 1) / maxCopyPartSize; int64(len(plan)) != want {
			t.Errorf("keep %d: %d ranges, want %d", keep, len(plan), want)
		}
		next := int64(0)
		for _, r := range plan {
			size := r[1] - r[0]
			if r[0] != next || size > maxCopyPartSize || size < minPartSize {
				t.Errorf("keep %d: range %v (size %d) after %d: want contiguous, 5 MiB to 5 GiB", keep, r, size, next)
			}
			next = r[1]
		}
		if next != keep {
			t.Errorf("keep %d: ranges end at %d", keep, next)
		}
	}
}

// An interrupted APPE or REST+STOR publishes the kept prefix and what
// arrived, so the client can resume again; in atomic mode nothing.
func TestUploadResumeInterrupted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		old    int
		mode   ftpserver.WriteMode
		offset int64
	}{
		{"append-1KiB", 1 << 10, ftpserver.WriteAppend, 0},
		{"append-12MiB", 12 << 20, ftpserver.WriteAppend, 0},
		{"rest-11MiB", 12 << 20, ftpserver.WriteAt, 11 << 20},
	} {
		for _, upload := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect} {
			t.Run(tc.name+"/"+upload.String(), func(t *testing.T) {
				t.Parallel()
				e := ioSetup(t, nil)
				old, sent := data(tc.old, 1), data(minPartSize+100, 2)
				e.put(t, "/f", old)
				w, err := e.fs.Create(t.Context(), "/f", ftpserver.CreateOptions{Mode: tc.mode, Offset: tc.offset, Upload: upload})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(sent); err != nil {
					t.Fatal(err)
				}
				if err := w.Abort(t.Context(), ftpserver.AbortInterrupted); err != nil {
					t.Fatal(err)
				}
				keep := old
				if tc.mode == ftpserver.WriteAt {
					keep = old[:tc.offset]
				}
				if upload == ftpserver.UploadAtomic {
					e.wantObject(t, "/f", old)
				} else {
					e.wantObject(t, "/f", concatBytes(keep, sent))
				}
				if got := e.incomplete(t); len(got) != 0 {
					t.Errorf("incomplete uploads left: %q", got)
				}
			})
		}
	}
}
