package memfs_test

import (
	"testing"

	"github.com/ferry-ftp/ferry/storage/memfs"
)

// TestLinkSpace: a hard link takes no space, and a file's bytes are
// freed with its last name, not its first, whether that name is removed
// or replaced by a rename or an upload.
func TestLinkSpace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const capacity = 100
	fsys := memfs.New()
	fsys.SetCapacity(capacity)
	avail := func(want int64) {
		t.Helper()
		n, err := fsys.AvailableSpace(ctx, "/")
		if err != nil || n != want {
			t.Fatalf("AvailableSpace = %d, %v; want %d", n, err, want)
		}
	}
	if err := fsys.WriteFile("/a", make([]byte, 40)); err != nil {
		t.Fatal(err)
	}
	if err := fsys.WriteFile("/other", make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/b", "/c"} {
		if err := fsys.Link(ctx, "/a", name); err != nil {
			t.Fatal(err)
		}
	}
	avail(capacity - 50)
	if err := fsys.Remove(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	avail(capacity - 50)
	// Renaming /other over /b drops one name of the linked file; /c
	// still holds it.
	if err := fsys.Rename(ctx, "/other", "/b"); err != nil {
		t.Fatal(err)
	}
	avail(capacity - 50)
	if got, err := fsys.ReadFile("/c"); err != nil || len(got) != 40 {
		t.Fatalf("/c = %d bytes, %v; want 40", len(got), err)
	}
	if err := fsys.Remove(ctx, "/c"); err != nil {
		t.Fatal(err)
	}
	avail(capacity - 10)
	if err := fsys.Remove(ctx, "/b"); err != nil {
		t.Fatal(err)
	}
	avail(capacity)
}
