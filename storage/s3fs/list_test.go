package s3fs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// listAll reads a whole directory n entries at a time.
func listAll(t *testing.T, fsys *FS, dir string, n int) map[string]fs.FileInfo {
	t.Helper()
	l, err := fsys.List(t.Context(), dir)
	if err != nil {
		t.Fatalf("List(%s): %v", dir, err)
	}
	defer l.Close()
	out := map[string]fs.FileInfo{}
	for {
		batch, err := l.Next(n)
		if len(batch) > n {
			t.Fatalf("Next(%d) gave %d entries", n, len(batch))
		}
		for _, info := range batch {
			if _, dup := out[info.Name()]; dup {
				t.Errorf("List(%s): %q twice", dir, info.Name())
			}
			out[info.Name()] = info
		}
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("List(%s).Next: %v", dir, err)
		}
		if len(batch) == 0 {
			t.Fatalf("List(%s).Next: nothing and no error", dir)
		}
	}
}

func sortedNames(m map[string]fs.FileInfo) []string {
	var names []string
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func TestList(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "root", Options{})
	ctx := t.Context()
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	stamp := map[string]string{mtimeKey: mtime.Format(time.RFC3339Nano)}
	for key, meta := range map[string]map[string]string{
		"root/":               nil, // the root's own marker: never listed
		"root/d/":             nil, // d's own marker
		"root/d/file":         nil,
		"root/d/timed":        stamp,
		"root/d/sub/":         stamp,
		"root/d/implicit/x/y": nil,
		"root/d/both":         nil, // a file and a directory of one name: the file wins
		"root/d/both/inner":   nil,
		"root/empty/":         nil,
		"root/file":           nil,
		"rootless":            nil,
	} {
		tf.seed(t, key, []byte("12345"), meta)
	}

	for _, n := range []int{1, 2, 100} {
		got := listAll(t, tf.FS, "/d", n)
		if names, want := sortedNames(got), []string{"both", "file", "implicit", "sub", "timed"}; !slices.Equal(names, want) {
			t.Fatalf("List(/d) with n=%d = %q, want %q", n, names, want)
		}
		for _, name := range []string{"both", "file", "timed"} {
			if info := got[name]; info.IsDir() || info.Size() != 5 || info.Mode() != fileMode {
				t.Errorf("%s: dir %v size %d mode %v, want a 5-byte file", name, info.IsDir(), info.Size(), info.Mode())
			}
		}
		for _, name := range []string{"implicit", "sub"} {
			if info := got[name]; !info.IsDir() || info.Mode() != dirMode {
				t.Errorf("%s: mode %v, want a directory", name, info.Mode())
			}
		}
		if !got["timed"].ModTime().Equal(mtime) || !got["sub"].ModTime().Equal(mtime) {
			t.Errorf("times: file %v, directory %v; want the mtime metadata %v", got["timed"].ModTime(), got["sub"].ModTime(), mtime)
		}
		if d := time.Since(got["file"].ModTime()); d > time.Minute || d < -time.Minute {
			t.Errorf("file without mtime: %v, want its LastModified", got["file"].ModTime())
		}
	}
	if names, want := sortedNames(listAll(t, tf.FS, "/", 10)), []string{"d", "empty", "file"}; !slices.Equal(names, want) {
		t.Errorf("List(/) = %q, want %q", names, want)
	}
	if got := listAll(t, tf.FS, "/empty", 10); len(got) != 0 {
		t.Errorf("List(/empty) = %q, want nothing", sortedNames(got))
	}

	_, err := tf.List(ctx, "/file")
	wantErr(t, "List(/file)", err, ftpserver.ErrNotDir)
	_, err = tf.List(ctx, "/d/both")
	wantErr(t, "List(/d/both)", err, ftpserver.ErrNotDir)
	for _, name := range []string{"/missing", "/file/x", "/d/implicit/x/y/z"} {
		_, err = tf.List(ctx, name)
		wantErr(t, "List("+name+")", err, fs.ErrNotExist)
	}

	// A bucket root with nothing in it is an empty directory.
	empty := newTestFS(t, "", Options{})
	if got := listAll(t, empty.FS, "/", 5); len(got) != 0 {
		t.Errorf("List(/) of an empty bucket = %q", sortedNames(got))
	}
}

// The lister stops when the context of List is done, and Close stops it.
func TestListContext(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	for i := range 3 {
		tf.seed(t, fmt.Sprintf("d/f%d", i), nil, nil)
	}
	ctx, cancel := context.WithCancel(t.Context())
	l, err := tf.List(ctx, "/d")
	if err != nil {
		t.Fatal(err)
	}
	if batch, err := l.Next(1); len(batch) != 1 || err != nil {
		t.Fatalf("Next(1) = %d entries, %v", len(batch), err)
	}
	cancel()
	batch, err := l.Next(10)
	wantErr(t, "Next after cancel", err, context.Canceled)
	if len(batch) != 0 {
		t.Errorf("Next after cancel gave %d entries", len(batch))
	}
	l.Close()

	l, err = tf.List(t.Context(), "/d")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if batch, err := l.Next(10); len(batch) != 0 || err != io.EOF {
		t.Errorf("Next after Close = %d entries, %v; want io.EOF", len(batch), err)
	}
}

// countingTransport counts ListObjectsV2 requests and remembers the
// largest max-keys asked for.
type countingTransport struct {
	base    http.RoundTripper
	lists   atomic.Int64
	maxKeys atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	q := r.URL.Query()
	if r.Method == http.MethodGet && q.Get("list-type") == "2" {
		c.lists.Add(1)
		var n int64
		fmt.Sscan(q.Get("max-keys"), &n)
		for {
			old := c.maxKeys.Load()
			if n <= old || c.maxKeys.CompareAndSwap(old, n) {
				break
			}
		}
	}
	return c.base.RoundTrip(r)
}

// seedMany writes count empty objects named dir/NNNNNN with 32 at once.
func seedMany(t testing.TB, tf *testFS, dir string, count int) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Value
	next := atomic.Int64{}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(count) || failed.Load() != nil {
					return
				}
				key := fmt.Sprintf("%s/%06d", dir, i)
				_, err := tf.raw.PutObject(context.Background(), tf.bucket, key, bytes.NewReader(nil), 0, minio.PutObjectOptions{})
				if err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("seeding: %v", err)
	}
}

// A big directory streams: List asks for pages of 1,000 keys and asks for
// the next page only when the entries of the previous one are handed out,
// so a lister never holds more than one page whatever the directory's
// size.
func TestListStreams(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("seeds 20,000 objects")
	}
	counter := &countingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	tf := newTestFS(t, "", Options{Transport: counter})
	const count = 20000
	start := time.Now()
	seedMany(t, tf, "big", count)
	t.Logf("seeding %d objects took %v", count, time.Since(start))
	start = time.Now()
	defer func() { t.Logf("listing took %v", time.Since(start)) }()

	before := counter.lists.Load()
	l, err := tf.List(t.Context(), "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	read := 0
	var last string
	for {
		batch, err := l.Next(100)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range batch {
			if info.IsDir() || info.Size() != 0 || info.Name() <= last {
				t.Fatalf("entry %d: %q (dir %v, size %d) after %q", read, info.Name(), info.IsDir(), info.Size(), last)
			}
			last = info.Name()
		}
		read += len(batch)
		// Requests so far: the pages whose entries were handed out, plus
		// at most the one being read.
		if pages, max := counter.lists.Load()-before, int64(read+listPageSize-1)/listPageSize+1; pages > max {
			t.Fatalf("after %d entries, %d list requests: the lister reads ahead (at most %d)", read, pages, max)
		}
	}
	if read != count {
		t.Errorf("listed %d entries, want %d", read, count)
	}
	if got := counter.maxKeys.Load(); got != listPageSize {
		t.Errorf("largest page asked for: %d keys, want %d", got, listPageSize)
	}
	if pages := counter.lists.Load() - before; pages < count/listPageSize {
		t.Errorf("%d list requests for %d keys: pages larger than %d?", pages, count, listPageSize)
	}
}
