package localfs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

const crashChildEnv = "FERRY_LOCALFS_CRASH_CHILD"

// A process killed in the middle of uploads leaves nothing behind: each
// upload is staged in an unnamed file, which the kernel frees with the
// process. The previous version of each target stays whole.
func TestKilledProcessLeavesNoTemporaryFile(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	if runtime.GOOS != "linux" {
		t.Skip("unnamed files are Linux's: elsewhere the sweep at start removes what a crash leaves (sweep_test.go)")
	}
	old := []byte("the previous version")
	for _, name := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, name), old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledProcessLeavesNoTemporaryFile$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "uploading\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	cmd.Process.Kill() // SIGKILL: no deferred cleanup runs
	cmd.Wait()

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"a", "b"}) {
		t.Errorf("after the kill the directory holds %q, want [a b]", names)
	}
	for _, name := range []string{"a", "b"} {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(got, old) {
			t.Errorf("%s holds %q after the kill", name, got)
		}
	}
}

// crashChild starts an atomic and an atomic-resume upload over the files
// of dir, writes into both, says so, and waits to be killed.
func crashChild(dir string) {
	fsys, err := localfs.New(dir)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ctx := context.Background()
	for name, mode := range map[string]ftpserver.UploadMode{"/a": ftpserver.UploadAtomic, "/b": ftpserver.UploadAtomicResume} {
		w, err := fsys.Create(ctx, name, ftpserver.CreateOptions{Upload: mode})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		if _, err := w.Write(bytes.Repeat([]byte("new "), 1<<18)); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
	}
	fmt.Println("uploading")
	select {}
}
