package s3fs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// readAll opens name at offset and reads it to the end.
func (e *ioEnv) readAll(t testing.TB, name string, offset int64) ([]byte, error) {
	t.Helper()
	r, err := e.fs.Open(t.Context(), name, offset)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return got, err
}

func TestOpenOffsets(t *testing.T) {
	t.Parallel()
	e := ioSetup(t, nil)
	// Three read-ahead ranges beyond the first, the last one short.
	size := 3*readChunk + 12345
	want := data(size, 7)
	e.rawPut(t, "big", want)
	for _, off := range []int{0, 1, readChunk - 1, readChunk, readChunk + 1, 2*readChunk + 5, size - 1, size, size + 1} {
		got, err := e.readAll(t, "/big", int64(off))
		if err != nil {
			t.Errorf("offset %d: %v", off, err)
			continue
		}
		if w := want[min(off, size):]; !bytes.Equal(got, w) {
			t.Errorf("offset %d: read %d bytes, want %d identical (first difference at %d)", off, len(got), len(w), firstDiff(got, w))
		}
	}

	e.rawPut(t, "small", []byte("0123456789"))
	e.rawPut(t, "empty", nil)
	for _, tc := range []struct {
		name   string
		offset int64
		want   string
	}{{"/small", 0, "0123456789"}, {"/small", 9, "9"}, {"/small", 10, ""}, {"/small", 11, ""}, {"/empty", 0, ""}, {"/empty", 1, ""}} {
		got, err := e.readAll(t, tc.name, tc.offset)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s at %d: %q, %v; want %q", tc.name, tc.offset, got, err, tc.want)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	e := ioSetup(t, nil)
	e.rawPut(t, "file", []byte("x"))
	e.rawPut(t, "dir/inner", []byte("x"))
	e.rawPut(t, "empty/", nil)
	for _, tc := range []struct {
		name   string
		offset int64
		want   error
	}{
		{"/", 0, ftpserver.ErrIsDir},
		{"/dir", 0, ftpserver.ErrIsDir},
		{"/empty", 0, ftpserver.ErrIsDir},
		{"/empty", 5, ftpserver.ErrIsDir},
		{"/missing", 0, fs.ErrNotExist},
		{"/missing", 3, fs.ErrNotExist},
		{"/file/x", 0, fs.ErrNotExist},
		{"/file", -1, fs.ErrInvalid},
		{"/a/../file", 0, ftpserver.ErrInvalidName},
	} {
		r, err := e.fs.Open(t.Context(), tc.name, tc.offset)
		if err == nil {
			r.Close()
		}
		wantErrIs(t, fmt.Sprintf("Open(%s, %d)", tc.name, tc.offset), err, tc.want)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := e.fs.Open(ctx, "/file", 0)
	wantErrIs(t, "Open with a done context", err, context.Canceled)
}

// A download never mixes two versions: an object replaced after the first
// ranges were read fails the read.
func TestOpenObjectReplaced(t *testing.T) {
	t.Parallel()
	e := ioSetup(t, func(o *Options) { o.Concurrency = 1 })
	size := 3*readChunk + 10
	old := data(size, 1)
	e.rawPut(t, "f", old)
	r, err := e.fs.Open(t.Context(), "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Read the first two ranges; with Concurrency 1 the third has been
	// requested, the fourth not yet. Replace the object once no request
	// is streaming, so the change shows as a refused range, not as a
	// body MinIO cuts short.
	head := make([]byte, 2*readChunk)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	<-r.(*reader).ahead[0].done
	e.rawPut(t, "f", data(size, 2))
	got, err := io.ReadAll(r)
	wantErrIs(t, "reading an object replaced mid-download", err, ErrChanged)
	if got = concatBytes(head, got); !bytes.Equal(got, old[:len(got)]) {
		t.Errorf("read %d bytes that are not a prefix of the old version (first difference at %d)", len(got), firstDiff(got, old))
	}
}

// Close cancels the read-ahead requests in flight and returns; the
// buffers go back.
func TestOpenCloseMidDownload(t *testing.T) {
	t.Parallel()
	var held, canceled atomic.Int64
	e := ioSetup(t, withHook(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodGet && req.Header.Get("If-Match") != "" {
			// A read-ahead range: hold it until the reader gives up.
			held.Add(1)
			<-req.Context().Done()
			canceled.Add(1)
			return nil, req.Context().Err()
		}
		return nil, nil
	}))
	size := 3*readChunk + 10
	e.rawPut(t, "f", data(size, 1))
	r, err := e.fs.Open(t.Context(), "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the read-ahead requests", func() bool { return held.Load() == 2 })
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(testwait.Timeout):
		t.Fatal("Close did not return while read-ahead requests were in flight")
	}
	if n := canceled.Load(); n != 2 {
		t.Errorf("%d of 2 read-ahead requests were canceled by Close", n)
	}
	if _, err := r.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
}
