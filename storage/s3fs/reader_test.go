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
	size := 3*minPartSize + 12345
	want := data(size, 7)
	e.rawPut(t, "big", want)
	for _, off := range []int{0, 1, minPartSize - 1, minPartSize, minPartSize + 1, 2*minPartSize + 5, size - 1, size, size + 1} {
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
// The reader describes what Open found, so RETR needs no HEAD of its own:
// the size of the object (not of the first range) and its MFMT time.
func TestOpenStat(t *testing.T) {
	t.Parallel()
	e := ioSetup(t, nil)
	size := 2*minPartSize + 3
	e.rawPut(t, "f", data(size, 3))
	e.rawPut(t, "tiny", []byte("x"))
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := e.fs.SetModTime(t.Context(), "/f", mtime); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		offset, size int64
	}{{"/f", 0, int64(size)}, {"/f", minPartSize + 1, int64(size)}, {"/tiny", 1, 1}, {"/tiny", 5, 1}} {
		r, err := e.fs.Open(t.Context(), tc.name, tc.offset)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := r.(interface{ Stat() (fs.FileInfo, error) }).Stat()
		r.Close()
		if err != nil || fi.Size() != tc.size || fi.IsDir() || fi.Name() != tc.name[1:] {
			t.Errorf("%s at %d: Stat = %v, %v; want a file of %d bytes", tc.name, tc.offset, fi, err, tc.size)
		}
		if tc.name == "/f" && !fi.ModTime().Equal(mtime) {
			t.Errorf("%s at %d: ModTime %v, want the MFMT time %v", tc.name, tc.offset, fi.ModTime(), mtime)
		}
	}
}

func TestOpenObjectReplaced(t *testing.T) {
	t.Parallel()
	e := ioSetup(t, func(o *Options) { o.Concurrency = 1 })
	size := 3*minPartSize + 10
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
	head := make([]byte, 2*minPartSize)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	<-r.(*reader).ahead[0].done
	e.rawPut(t, "f", data(size, 2))
	got, err := io.ReadAll(r)
	wantErrIs(t, "reading an object replaced mid-download", err, ErrChanged)
	wantErrIs(t, "reading an object replaced mid-download (450)", err, ftpserver.ErrBusy)
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
	size := 3*minPartSize + 10
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

// BenchmarkDownload reads 256 MiB with the default concurrency through a
// 256 KiB buffer, as the server's copy does.
func BenchmarkDownload(b *testing.B) {
	e := ioSetup(b, func(o *Options) { o.PartSize, o.Concurrency = 0, 0 })
	w, err := e.fs.Create(b.Context(), "/bench", ftpserver.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.(io.ReaderFrom).ReadFrom(&repeatReader{pattern: data(1<<20+13, 1), n: benchSize}); err != nil {
		b.Fatal(err)
	}
	if err := w.Commit(b.Context()); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	b.SetBytes(benchSize)
	for b.Loop() {
		r, err := e.fs.Open(b.Context(), "/bench", 0)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, buf)
		r.Close()
		if err != nil || n != benchSize {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in                string
		start, end, total int64
		ok                bool
	}{
		{"bytes 0-9/10", 0, 10, 10, true},
		{"bytes 5-5/6", 5, 6, 6, true},
		{"bytes 0-9/9", 0, 0, 0, false},
		{"bytes 9-0/10", 0, 0, 0, false},
		{"bytes */10", 0, 0, 0, false},
		{"bytes -1-3/10", 0, 0, 0, false},
		{"bytes 0-9/*", 0, 0, 0, false},
		{"0-9/10", 0, 0, 0, false},
		{"", 0, 0, 0, false},
		{"bytes 0-99999999999999999999/1", 0, 0, 0, false},
	} {
		start, end, total, ok := parseContentRange(tc.in)
		if start != tc.start || end != tc.end || total != tc.total || ok != tc.ok {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, %v", tc.in, start, end, total, ok, tc.start, tc.end, tc.total, tc.ok)
		}
	}
}

// The Content-Range header comes from the store (or whatever answers at
// its address): nothing in it may crash the reader or yield a range that
// is not inside the object.
func FuzzParseContentRange(f *testing.F) {
	for _, seed := range []string{"bytes 0-9/10", "bytes 5-5/6", "bytes */10", "bytes 1-0/5", "bytes 0-9223372036854775807/9223372036854775807", "bytes +1-+2/3"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		start, end, total, ok := parseContentRange(in)
		if ok && !(0 <= start && start < end && end <= total) {
			t.Errorf("parseContentRange(%q) = [%d, %d) of %d", in, start, end, total)
		}
	})
}
