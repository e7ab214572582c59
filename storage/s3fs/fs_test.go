package s3fs

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftpserver"
)

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one matching %v", what, err, target)
	}
}

func TestStat(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "root", Options{})
	ctx := t.Context()
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	tf.seed(t, "root/file", []byte("hello"), nil)
	tf.seed(t, "root/timed", []byte("x"), map[string]string{mtimeKey: mtime.Format(time.RFC3339Nano)})
	tf.seed(t, "root/badtime", []byte("x"), map[string]string{mtimeKey: "yesterday"})
	tf.seed(t, "root/marked/", nil, nil)
	tf.seed(t, "root/implicit/deep/x", []byte("x"), nil)
	tf.seed(t, "root/both", []byte("file"), nil) // a file and a prefix of one name
	tf.seed(t, "root/both/inner", []byte("x"), nil)
	tf.seed(t, "outside", []byte("x"), nil)

	info, err := tf.Stat(ctx, "/")
	if err != nil || !info.IsDir() || info.Mode() != dirMode {
		t.Fatalf("Stat(/) = %v, %v; want a directory", info, err)
	}
	info, err = tf.Stat(ctx, "/file")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name() != "file" || info.Size() != 5 || info.IsDir() || info.Mode() != fileMode {
		t.Errorf("Stat(/file) = %q %d %v, want file, 5, %v", info.Name(), info.Size(), info.Mode(), fs.FileMode(fileMode))
	}
	if d := time.Since(info.ModTime()); d < -time.Minute || d > time.Minute {
		t.Errorf("Stat(/file).ModTime() = %v, want about now (LastModified)", info.ModTime())
	}
	if info, err := tf.Stat(ctx, "/timed"); err != nil || !info.ModTime().Equal(mtime) {
		t.Errorf("Stat(/timed) = %v, %v; want the mtime metadata %v", info, err, mtime)
	}
	if info, err := tf.Stat(ctx, "/badtime"); err != nil || time.Since(info.ModTime()) > time.Minute {
		t.Errorf("Stat(/badtime) = %v, %v; want LastModified when mtime is unreadable", info, err)
	}
	for _, name := range []string{"/marked", "/implicit", "/implicit/deep"} {
		info, err := tf.Stat(ctx, name)
		if err != nil || !info.IsDir() || info.Mode() != dirMode || info.Name() != name[strings.LastIndex(name, "/")+1:] {
			t.Errorf("Stat(%s) = %v, %v; want a directory", name, info, err)
		}
	}
	if info, err := tf.Stat(ctx, "/both"); err != nil || info.IsDir() || info.Size() != 4 {
		t.Errorf("Stat(/both) = %v, %v; want the file to win", info, err)
	}
	for _, name := range []string{"/missing", "/file/x", "/missing/x", "/outside", "/implicit/dee"} {
		_, err := tf.Stat(ctx, name)
		wantErr(t, "Stat("+name+")", err, fs.ErrNotExist)
	}
	long := "/" + strings.Repeat("n", 1020) // 1,025 bytes with the prefix "root/"
	_, err = tf.Stat(ctx, long)
	wantErr(t, "Stat of a key over 1,024 bytes", err, ftpserver.ErrInvalidName)
	wantErr(t, "Mkdir of a key over 1,024 bytes", tf.Mkdir(ctx, long), ftpserver.ErrInvalidName)
}

func TestMkdir(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	ctx := t.Context()
	if err := tf.Mkdir(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	if err := tf.Mkdir(ctx, "/a/b"); err != nil {
		t.Fatal(err)
	}
	tf.seed(t, "file", nil, nil)
	tf.seed(t, "implicit/x", nil, nil)
	if err := tf.Mkdir(ctx, "/implicit/sub"); err != nil {
		t.Errorf("Mkdir under a directory without marker: %v", err)
	}
	for _, tc := range []struct {
		name   string
		target error
	}{
		{"/", fs.ErrExist}, {"/a", fs.ErrExist}, {"/a/b", fs.ErrExist}, {"/file", fs.ErrExist},
		{"/implicit", fs.ErrExist}, {"/missing/x", fs.ErrNotExist}, {"/file/x", fs.ErrNotExist},
	} {
		wantErr(t, "Mkdir("+tc.name+")", tf.Mkdir(ctx, tc.name), tc.target)
	}
	want := []string{"a/", "a/b/", "file", "implicit/sub/", "implicit/x"}
	if got := tf.keys(t); !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

// Two MKDs of one name at once: exactly one succeeds.
func TestMkdirRace(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	for round := range 5 {
		name := "/d" + string(rune('0'+round))
		const racers = 4
		errs := make(chan error, racers)
		var start sync.WaitGroup
		start.Add(1)
		for range racers {
			go func() {
				start.Wait()
				errs <- tf.Mkdir(t.Context(), name)
			}()
		}
		start.Done()
		ok := 0
		for range racers {
			err := <-errs
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, fs.ErrExist):
				t.Errorf("Mkdir(%s): %v, want nil or fs.ErrExist", name, err)
			}
		}
		if ok != 1 {
			t.Errorf("Mkdir(%s) by %d at once: %d succeeded, want 1", name, racers, ok)
		}
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	ctx := t.Context()
	tf.seed(t, "f", []byte("x"), nil)
	tf.seed(t, "dir/", nil, nil)
	tf.seed(t, "implicit/g", nil, nil)
	if err := tf.Remove(ctx, "/f"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Remove(/f) again", tf.Remove(ctx, "/f"), fs.ErrNotExist)
	wantErr(t, "Remove(/dir)", tf.Remove(ctx, "/dir"), ftpserver.ErrIsDir)
	wantErr(t, "Remove(/implicit)", tf.Remove(ctx, "/implicit"), ftpserver.ErrIsDir)
	wantErr(t, "Remove(/)", tf.Remove(ctx, "/"), ftpserver.ErrIsDir)
	wantErr(t, "Remove(/missing/x)", tf.Remove(ctx, "/missing/x"), fs.ErrNotExist)
	if got, want := tf.keys(t), []string{"dir/", "implicit/g"}; !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

func TestRemoveDir(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "p", Options{})
	ctx := t.Context()
	for _, k := range []string{"p/empty/", "p/full/", "p/full/f", "p/withdir/", "p/withdir/sub/", "p/implicit/x", "p/file", "p/emptier/"} {
		tf.seed(t, k, nil, nil)
	}
	if err := tf.RemoveDir(ctx, "/empty"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RemoveDir(/empty) again", tf.RemoveDir(ctx, "/empty"), fs.ErrNotExist)
	wantErr(t, "RemoveDir(/full)", tf.RemoveDir(ctx, "/full"), ftpserver.ErrDirNotEmpty)
	wantErr(t, "RemoveDir(/withdir)", tf.RemoveDir(ctx, "/withdir"), ftpserver.ErrDirNotEmpty)
	wantErr(t, "RemoveDir(/implicit)", tf.RemoveDir(ctx, "/implicit"), ftpserver.ErrDirNotEmpty)
	wantErr(t, "RemoveDir(/file)", tf.RemoveDir(ctx, "/file"), ftpserver.ErrNotDir)
	wantErr(t, "RemoveDir(/missing)", tf.RemoveDir(ctx, "/missing"), fs.ErrNotExist)
	wantErr(t, "RemoveDir(/)", tf.RemoveDir(ctx, "/"), fs.ErrPermission)
	want := []string{"p/emptier/", "p/file", "p/full/", "p/full/f", "p/implicit/x", "p/withdir/", "p/withdir/sub/"}
	if got := tf.keys(t); !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

func TestSetModTime(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	ctx := t.Context()
	tf.seed(t, "f", []byte("content"), map[string]string{"keep": "me"})
	tf.seed(t, "dir/", nil, nil)
	tf.seed(t, "implicit/x", nil, nil)
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	for _, name := range []string{"/f", "/dir", "/implicit"} {
		if err := tf.SetModTime(ctx, name, mtime); err != nil {
			t.Fatalf("SetModTime(%s): %v", name, err)
		}
		info, err := tf.Stat(ctx, name)
		if err != nil || !info.ModTime().Equal(mtime) {
			t.Errorf("Stat(%s) after SetModTime = %v, %v; want time %v", name, info, err, mtime)
		}
	}
	// Again: the time changes, the rest stays.
	later := mtime.Add(time.Hour)
	if err := tf.SetModTime(ctx, "/f", later.In(time.FixedZone("X", 3600))); err != nil {
		t.Fatal(err)
	}
	obj, err := tf.raw.StatObject(ctx, tf.bucket, "f", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if obj.UserMetadata["Keep"] != "me" || obj.UserMetadata["Mtime"] != later.Format(time.RFC3339Nano) || obj.Size != 7 {
		t.Errorf("object after two SetModTime: size %d, metadata %v", obj.Size, obj.UserMetadata)
	}
	wantErr(t, "SetModTime(/missing)", tf.SetModTime(ctx, "/missing", mtime), fs.ErrNotExist)
	wantErr(t, "SetModTime(/)", tf.SetModTime(ctx, "/", mtime), ftpserver.ErrNotSupported)
	if got, want := tf.keys(t), []string{"dir/", "f", "implicit/", "implicit/x"}; !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

// Every operation fails with the context's error once it is done, and
// changes nothing.
func TestCanceled(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	tf.seed(t, "f", []byte("x"), nil)
	tf.seed(t, "d/", nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := tf.Stat(ctx, "/f")
	wantErr(t, "Stat", err, context.Canceled)
	_, err = tf.List(ctx, "/")
	wantErr(t, "List", err, context.Canceled)
	wantErr(t, "Mkdir", tf.Mkdir(ctx, "/new"), context.Canceled)
	wantErr(t, "Remove", tf.Remove(ctx, "/f"), context.Canceled)
	wantErr(t, "RemoveDir", tf.RemoveDir(ctx, "/d"), context.Canceled)
	wantErr(t, "Rename", tf.Rename(ctx, "/f", "/g"), context.Canceled)
	wantErr(t, "SetModTime", tf.SetModTime(ctx, "/f", time.Now()), context.Canceled)
	_, err = tf.Hash(ctx, "/f", "MD5", 0, -1)
	wantErr(t, "Hash", err, context.Canceled)
	if got, want := tf.keys(t), []string{"d/", "f"}; !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

func errIs(err, target error) bool { return errors.Is(err, target) }
