package miniotest

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSweepSharedRoots removes the directory of a shared server whose test
// binary has exited, and keeps those of running binaries and directories
// it cannot tell the owner of.
func TestSweepSharedRoots(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	// A process that has exited and been waited for: its id names no one.
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	// A process that is still running.
	running := exec.Command("sleep", "60")
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		running.Process.Kill()
		running.Wait()
	})

	mkRoot := func(name, owner string) string {
		root := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(root, "data", ".minio.sys"), 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(root, ownerFile), []byte(owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	exited := mkRoot(sharedPrefix+"exited", strconv.Itoa(done.Process.Pid))
	alive := mkRoot(sharedPrefix+"alive", strconv.Itoa(running.Process.Pid))
	self := mkRoot(sharedPrefix+"self", strconv.Itoa(os.Getpid()))
	unowned := mkRoot(sharedPrefix+"unowned", "")
	garbled := mkRoot(sharedPrefix+"garbled", "not a pid")
	other := mkRoot("someone-else", strconv.Itoa(done.Process.Pid))

	sweepSharedRoots()

	if _, err := os.Stat(exited); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the directory of an exited binary is still there (err %v)", err)
	}
	for _, dir := range []string{alive, self, unowned, garbled, other} {
		if _, err := os.Stat(filepath.Join(dir, "data", ".minio.sys")); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(dir), err)
		}
	}
}

// TestNewSharedRoot marks a new directory with this process's id.
func TestNewSharedRoot(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	root, err := newSharedRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, ownerFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != strconv.Itoa(os.Getpid()) {
		t.Errorf("owner file holds %q, want %d", b, os.Getpid())
	}
	if filepath.Dir(root) != os.TempDir() || filepath.Base(root)[:len(sharedPrefix)] != sharedPrefix {
		t.Errorf("root %s is not a %s* directory in %s", root, sharedPrefix, os.TempDir())
	}
}
