package memfs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
	"github.com/ferry-ftp/ferry/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) ftpserver.FileSystem {
		return memfs.New()
	}, storagetest.WithCapabilities(storagetest.AllCapabilities()...), storagetest.WithCapabilities(storagetest.Sync, storagetest.HardLink))
}

// objectStore is memfs cut down to what an object store offers: whole
// objects only, no permission bits, no settable times, no directory moves.
type objectStore struct{ fsys *memfs.FS }

func (o objectStore) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	return o.fsys.Stat(ctx, name)
}

func (o objectStore) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	return o.fsys.Open(ctx, name, offset)
}

func (o objectStore) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	if opts.Upload == ftpserver.UploadDirect || opts.Mode == ftpserver.WriteAppend || opts.Mode == ftpserver.WriteAt && opts.Offset > 0 {
		return nil, o.refuse(ctx, "create", name)
	}
	return o.fsys.Create(ctx, name, opts)
}

func (o objectStore) List(ctx context.Context, name string) (ftpserver.DirLister, error) {
	return o.fsys.List(ctx, name)
}

func (o objectStore) Mkdir(ctx context.Context, name string) error { return o.fsys.Mkdir(ctx, name) }
func (o objectStore) Remove(ctx context.Context, name string) error {
	return o.fsys.Remove(ctx, name)
}
func (o objectStore) RemoveDir(ctx context.Context, name string) error {
	return o.fsys.RemoveDir(ctx, name)
}

func (o objectStore) Rename(ctx context.Context, from, to string) error {
	if info, err := o.fsys.Stat(ctx, from); err == nil && info.IsDir() {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: ftpserver.ErrNotSupported}
	}
	return o.fsys.Rename(ctx, from, to)
}

func (o objectStore) SetModTime(ctx context.Context, name string, _ time.Time) error {
	return o.refuse(ctx, "chtimes", name)
}

// refuse fails an operation the store does not have, after the checks
// every operation makes (context, name), as a real backend would.
func (o objectStore) refuse(ctx context.Context, op, name string) error {
	if _, err := o.fsys.Stat(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: ftpserver.ErrNotSupported}
}

// TestConformanceWithoutCapabilities: a backend that declares none of the
// optional capabilities, and refuses them, passes what remains.
func TestConformanceWithoutCapabilities(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) ftpserver.FileSystem {
		return objectStore{memfs.New()}
	})
}

func TestListNameOrder(t *testing.T) {
	fsys := memfs.New()
	want := []string{"A", "B", "a", "b", "z", "é"} // byte order
	for _, i := range []int{3, 0, 5, 2, 4, 1} {
		if err := fsys.WriteFile("/"+want[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	l, err := fsys.List(t.Context(), "/")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var got []string
	for {
		batch, err := l.Next(4)
		for _, info := range batch {
			got = append(got, info.Name())
		}
		if err != nil {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("List(/) = %q, want %q", got, want)
	}
}

func TestWriteFileReadFile(t *testing.T) {
	fsys := memfs.New()
	data := []byte("data")
	if err := fsys.WriteFile("/a/b/c.txt", data); err != nil {
		t.Fatalf("WriteFile into missing directories: %v", err)
	}
	data[0] = 'X' // WriteFile keeps a copy
	got, err := fsys.ReadFile("/a/b/c.txt")
	if err != nil || string(got) != "data" {
		t.Fatalf("ReadFile = %q, %v; want data", got, err)
	}
	got[0] = 'Y' // and ReadFile returns one
	if again, _ := fsys.ReadFile("/a/b/c.txt"); string(again) != "data" {
		t.Errorf("ReadFile after modifying its result = %q", again)
	}
	if info, err := fsys.Stat(t.Context(), "/a/b"); err != nil || !info.IsDir() || info.Mode().Perm() != 0o755 {
		t.Errorf("Stat(/a/b) = %v, %v; want a 0755 directory", info, err)
	}
	if info, err := fsys.Stat(t.Context(), "/a/b/c.txt"); err != nil || info.Mode() != 0o644 {
		t.Errorf("Stat(/a/b/c.txt) = %v, %v; want a 0644 file", info, err)
	}

	for _, tc := range []struct {
		name   string
		target error
	}{
		{"/a/b", ftpserver.ErrIsDir},
		{"/a/b/c.txt/d", ftpserver.ErrNotDir},
		{"/", ftpserver.ErrIsDir},
		{"a", ftpserver.ErrInvalidName},
	} {
		if err := fsys.WriteFile(tc.name, nil); !errors.Is(err, tc.target) {
			t.Errorf("WriteFile(%q): %v, want %v", tc.name, err, tc.target)
		}
	}
	if _, err := fsys.ReadFile("/a"); !errors.Is(err, ftpserver.ErrIsDir) {
		t.Errorf("ReadFile(/a): %v, want ErrIsDir", err)
	}
	if _, err := fsys.ReadFile("/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(/nope): %v, want fs.ErrNotExist", err)
	}
}

func Example() {
	fsys := memfs.New()
	if err := fsys.WriteFile("/pub/readme.txt", []byte("hello\n")); err != nil {
		panic(err)
	}
	info, err := fsys.Stat(context.Background(), "/pub/readme.txt")
	if err != nil {
		panic(err)
	}
	fmt.Println(info.Name(), info.Size(), info.Mode())
	// Output: readme.txt 6 -rw-r--r--
}
