package s3fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/miniotest"
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
