package s3fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpserver"
)

// content reads an object with the raw client.
func (tf *testFS) content(t *testing.T, key string) []byte {
	t.Helper()
	obj, err := tf.raw.GetObject(context.Background(), tf.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return data
}

type renameCase struct {
	from, to string
	target   error
}

// wantRenameErrs checks that each rename fails with its error kind.
func wantRenameErrs(t *testing.T, tf *testFS, cases []renameCase) {
	t.Helper()
	for _, tc := range cases {
		wantErr(t, fmt.Sprintf("Rename(%s, %s)", tc.from, tc.to), tf.Rename(t.Context(), tc.from, tc.to), tc.target)
	}
}

func TestRenameFile(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	ctx := t.Context()
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	tf.seed(t, "a", []byte("a"), map[string]string{mtimeKey: mtime.Format(time.RFC3339Nano)})
	tf.seed(t, "c", []byte("old c"), nil)
	tf.seed(t, "dir/", nil, nil)
	tf.seed(t, "implicit/x", nil, nil)

	if err := tf.Rename(ctx, "/a", "/b"); err != nil {
		t.Fatal(err)
	}
	if info, err := tf.Stat(ctx, "/b"); err != nil || !info.ModTime().Equal(mtime) {
		t.Errorf("Stat(/b) = %v, %v; want the source's mtime %v kept", info, err, mtime)
	}
	if err := tf.Rename(ctx, "/b", "/c"); err != nil { // replaces a file
		t.Fatal(err)
	}
	if err := tf.Rename(ctx, "/c", "/dir/c"); err != nil {
		t.Fatal(err)
	}
	if err := tf.Rename(ctx, "/dir/c", "/dir/c"); err != nil {
		t.Errorf("Rename onto itself: %v", err)
	}
	wantRenameErrs(t, tf, []renameCase{
		{"/dir/c", "/dir", ftpserver.ErrIsDir},
		{"/dir/c", "/implicit", ftpserver.ErrIsDir},
		{"/dir/c", "/missing/c", fs.ErrNotExist},
		{"/dir/c", "/implicit/x/c", fs.ErrNotExist},
		{"/missing", "/y", fs.ErrNotExist},
		{"/", "/root", fs.ErrPermission},
		{"/dir/c", "/", fs.ErrPermission},
	})
	if got, want := tf.keys(t), []string{"dir/", "dir/c", "implicit/x"}; !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
	if got := tf.content(t, "dir/c"); string(got) != "a" {
		t.Errorf("dir/c = %q, want %q", got, "a")
	}
}

// Above the copy limit a file is copied as a multipart upload of ranges;
// the limit is lowered to 5 MiB so that the test copies 11 MiB in three
// parts instead of 5 GiB.
func TestRenameMultipartCopy(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	tf.store.copyPartSize = minPartSize
	ctx := t.Context()
	data := make([]byte, 11<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	tf.seed(t, "big", data, map[string]string{mtimeKey: mtime.Format(time.RFC3339Nano), "other": "kept"})
	tf.seed(t, "dir/", nil, nil)
	tf.seed(t, "dir/big2", data[:6<<20], nil)
	if err := tf.Rename(ctx, "/big", "/moved"); err != nil {
		t.Fatal(err)
	}
	if got := tf.content(t, "moved"); !bytes.Equal(got, data) {
		t.Fatalf("moved: %d bytes, not the %d written", len(got), len(data))
	}
	obj, err := tf.raw.StatObject(ctx, tf.bucket, "moved", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if obj.UserMetadata["Other"] != "kept" || !modTime(obj.UserMetadata, time.Time{}).Equal(mtime) {
		t.Errorf("metadata after a multipart copy: %v", obj.UserMetadata)
	}
	if want := "-3"; len(obj.ETag) < 2 || obj.ETag[len(obj.ETag)-2:] != want {
		t.Errorf("ETag %q: want a three-part object", obj.ETag)
	}
	// Through a directory rename, and then SetModTime (a copy onto itself).
	if err := tf.Rename(ctx, "/dir", "/dir2"); err != nil {
		t.Fatal(err)
	}
	if err := tf.SetModTime(ctx, "/dir2/big2", mtime); err != nil {
		t.Fatal(err)
	}
	if info, err := tf.Stat(ctx, "/dir2/big2"); err != nil || info.Size() != 6<<20 || !info.ModTime().Equal(mtime) {
		t.Errorf("Stat(/dir2/big2) = %v, %v", info, err)
	}
	if got, want := tf.keys(t), []string{"dir2/", "dir2/big2", "moved"}; !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
	if n := countUploads(t, tf); n != 0 {
		t.Errorf("%d multipart uploads left", n)
	}
}

func countUploads(t *testing.T, tf *testFS) int {
	t.Helper()
	res, err := tf.store.core.ListMultipartUploads(t.Context(), tf.bucket, "", "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Uploads)
}

func TestRenameDir(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "home", Options{MaxRenameCount: 5})
	ctx := t.Context()
	for _, k := range []string{"home/d/", "home/d/f", "home/d/sub/", "home/d/sub/g", "home/d/implicit/h",
		"home/file", "home/other/", "home/big/1", "home/big/2", "home/big/3", "home/big/4", "home/big/5", "home/big/6"} {
		tf.seed(t, k, []byte(k), nil)
	}
	if err := tf.Rename(ctx, "/d", "/other/moved"); err != nil {
		t.Fatal(err)
	}
	want := []string{"home/other/moved/", "home/other/moved/f", "home/other/moved/implicit/h", "home/other/moved/sub/", "home/other/moved/sub/g"}
	var got []string
	for _, k := range tf.keys(t) {
		if len(k) >= len("home/other/moved") && k[:len("home/other/moved")] == "home/other/moved" {
			got = append(got, k)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("moved keys = %q, want %q", got, want)
	}
	if string(tf.content(t, "home/other/moved/sub/g")) != "home/d/sub/g" {
		t.Errorf("content not moved")
	}
	// A directory without a marker moves too.
	if err := tf.Rename(ctx, "/other/moved/implicit", "/imp"); err != nil {
		t.Fatal(err)
	}

	// Past MaxRenameCount: a 550 with the limit, and nothing changes.
	before := tf.keys(t)
	err := tf.Rename(ctx, "/big", "/big2")
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != 550 || fe.Msg != "Directory too large to rename here (more than 5 objects)." {
		t.Errorf("Rename of 6 objects with a limit of 5: %v, want the 550", err)
	}
	wantRenameErrs(t, tf, []renameCase{
		{"/other", "/other/moved/inside", fs.ErrInvalid},
		{"/other", "/other/x", ftpserver.ErrInvalidName},
		{"/other", "/file", ftpserver.ErrNotDir},
		{"/other", "/big", ftpserver.ErrIsDir},
		{"/other", "/missing/x", fs.ErrNotExist},
	})
	if after := tf.keys(t); !slices.Equal(after, before) {
		t.Errorf("failed renames changed the keys:\n%q\nwant\n%q", after, before)
	}
}

// failCopy refuses the server-side copy of one source key with
// AccessDenied, as a bucket policy could.
type failCopy struct {
	base   http.RoundTripper
	source atomic.Value // string: bucket/key
}

func (f *failCopy) RoundTrip(r *http.Request) (*http.Response, error) {
	src, _ := url.PathUnescape(r.Header.Get("X-Amz-Copy-Source"))
	if want, _ := f.source.Load().(string); src != "" && strings.TrimPrefix(src, "/") == want {
		body := "<Error><Code>AccessDenied</Code><Message>denied</Message></Error>"
		return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: r}, nil
	}
	return f.base.RoundTrip(r)
}

// A directory rename whose copy fails half-way leaves the source whole
// and removes the copies it made.
func TestRenameDirUndo(t *testing.T) {
	t.Parallel()
	transport := &failCopy{base: http.DefaultTransport.(*http.Transport).Clone()}
	tf := newTestFS(t, "", Options{Transport: transport})
	transport.source.Store(tf.bucket + "/d/13")
	ctx := t.Context()
	for i := range 20 {
		tf.seed(t, fmt.Sprintf("d/%02d", i), []byte{byte(i)}, nil)
	}
	before := tf.keys(t)
	wantErr(t, "Rename with a copy refused", tf.Rename(ctx, "/d", "/e"), fs.ErrPermission)
	if after := tf.keys(t); !slices.Equal(after, before) {
		t.Errorf("keys = %q, want %q", after, before)
	}
	transport.source.Store("")
	if err := tf.Rename(ctx, "/d", "/e"); err != nil {
		t.Fatal(err)
	}
	if got := tf.keys(t); len(got) != 20 || got[0] != "e/00" || got[19] != "e/19" {
		t.Errorf("keys after the rename = %q", got)
	}
}
