package interop

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testtool"
)

// lftp runs an lftp script non-interactively against ts as alice, with
// passive or active data connections. cmd:fail-exit makes the first
// failing command end lftp with a non-zero status, so a clean exit means
// every command of the script succeeded.
func lftp(t *testing.T, ts *testServer, dir string, passive bool, script string) result {
	t.Helper()
	bin := testtool.Need(t, "lftp")
	mode := "on"
	if !passive {
		mode = "off"
	}
	full := strings.Join([]string{
		"set cmd:fail-exit yes",
		"set net:max-retries 1",
		"set net:timeout 10",
		"set net:reconnect-interval-base 1",
		"set ftp:passive-mode " + mode,
		"set cmd:interactive no",
		"open -u " + user + "," + password + " ftp://" + ts.addr(),
		script,
	}, "; ")
	return run(t, 3*time.Minute, "", dir, bin, "-c", full)
}

func wantLftp(t *testing.T, res result) {
	t.Helper()
	if res.exitCode != 0 {
		t.Fatalf("lftp failed: %s", res)
	}
}

// TestLftpMirror mirrors a tree of a few hundred files with nested
// directories, spaces and UTF-8 names up to the server and back down, and
// checks that all three copies are byte-identical.
func TestLftpMirror(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	want := makeTree(t, src, 230)

	// Up, with several files in flight at once.
	res := lftp(t, ts, work, true, `mirror -R --parallel=3 src "up tree"`)
	wantLftp(t, res)
	compareTrees(t, want, treeDigest(t, ts.local("/up tree")))

	// Down again into a fresh directory.
	res = lftp(t, ts, work, true, `mirror "up tree" back`)
	wantLftp(t, res)
	compareTrees(t, want, treeDigest(t, filepath.Join(work, "back")))

	// A second mirror finds nothing to do: sizes and times agree.
	res = lftp(t, ts, work, true, `mirror -R --verbose=1 src "up tree"`)
	wantLftp(t, res)
	if strings.Contains(res.stdout, "Transferring file") {
		t.Errorf("second mirror -R transferred files again:\n%s", res.stdout)
	}

	// A change on the server is picked up by the next mirror.
	changed := testData(99, 12345)
	writeFile(t, ts.local("/up tree/ünïcødé/名前/new file.bin"), changed)
	if err := os.Remove(ts.local("/up tree/deep/a/b/c/d/" + firstFile(t, ts.local("/up tree/deep/a/b/c/d")))); err != nil {
		t.Fatal(err)
	}
	res = lftp(t, ts, work, true, `mirror --delete "up tree" back`)
	wantLftp(t, res)
	compareTrees(t, treeDigest(t, ts.local("/up tree")), treeDigest(t, filepath.Join(work, "back")))
}

// firstFile names the alphabetically first file in dir.
func firstFile(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			return e.Name()
		}
	}
	t.Fatalf("no file in %s", dir)
	return ""
}

func TestLftpCommands(t *testing.T) {
	t.Parallel()
	for _, passive := range []bool{true, false} {
		name := "passive"
		if !passive {
			name = "active"
		}
		t.Run(name, func(t *testing.T) {
			testLftpCommands(t, passive)
		})
	}
}

func testLftpCommands(t *testing.T, passive bool) {
	ts := startServer(t)
	work := t.TempDir()
	up := testData(10, 300000)
	writeFile(t, filepath.Join(work, "up.bin"), up)
	small := []byte("small text\nsecond line\n")
	writeFile(t, ts.local("/small.txt"), small)
	writeFile(t, ts.local("/hello.txt"), []byte("hello"))

	res := lftp(t, ts, work, passive, `mkdir "dir one" && put up.bin -o "dir one/up.bin" && mv "dir one/up.bin" "dir one/名前.bin"`)
	wantLftp(t, res)
	wantFile(t, ts.local("/dir one/名前.bin"), up)
	wantNoFile(t, ts.local("/dir one/up.bin"))

	res = lftp(t, ts, work, passive, `get "dir one/名前.bin" -o got.bin`)
	wantLftp(t, res)
	wantFile(t, filepath.Join(work, "got.bin"), up)

	// cls prints names; with -1 one per line.
	res = lftp(t, ts, work, passive, `cls -1`)
	wantLftp(t, res)
	got := outputLines(res.stdout)
	slices.Sort(got)
	if want := []string{"dir one/", "hello.txt", "incoming/", "small.txt"}; !slices.Equal(got, want) {
		t.Errorf("cls -1 = %q, want %q", got, want)
	}
	res = lftp(t, ts, work, passive, `cls -1 "dir one"`)
	wantLftp(t, res)
	if got := outputLines(res.stdout); !slices.Equal(got, []string{"dir one/名前.bin"}) {
		t.Errorf(`cls -1 "dir one" = %q`, got)
	}

	// ls shows the server's LIST lines.
	res = lftp(t, ts, work, passive, `ls`)
	wantLftp(t, res)
	for _, l := range outputLines(res.stdout) {
		if !strings.HasSuffix(l, " small.txt") && !strings.HasSuffix(l, " hello.txt") &&
			!strings.HasSuffix(l, " dir one") && !strings.HasSuffix(l, " incoming") {
			t.Errorf("unexpected ls line %q", l)
		}
	}
	if n := len(outputLines(res.stdout)); n != 4 {
		t.Errorf("ls printed %d lines, want 4:\n%s", n, res.stdout)
	}

	res = lftp(t, ts, work, passive, `cat small.txt`)
	wantLftp(t, res)
	if res.stdout != string(small) {
		t.Errorf("cat small.txt = %q, want %q", res.stdout, small)
	}

	res = lftp(t, ts, work, passive, `rm hello.txt && mkdir -p a/b/c && rmdir a/b/c`)
	wantLftp(t, res)
	wantNoFile(t, ts.local("/hello.txt"))
	wantNoFile(t, ts.local("/a/b/c"))
	if fi, err := os.Stat(ts.local("/a/b")); err != nil || !fi.IsDir() {
		t.Errorf("a/b: want a directory, got %v", err)
	}

	// Failures are reported: lftp exits non-zero and the files stay.
	res = lftp(t, ts, work, passive, `rm missing.txt`)
	if res.exitCode == 0 || !strings.Contains(res.stderr, "550") {
		t.Errorf("rm of a missing file: want a 550 failure, got %s", res)
	}
	res = lftp(t, ts, work, passive, `rmdir "dir one"`)
	if res.exitCode == 0 {
		t.Errorf("rmdir of a non-empty directory succeeded: %s", res)
	}
	wantFile(t, ts.local("/dir one/名前.bin"), up)
}

func TestLftpResume(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	big := testData(11, 5<<20+7)
	writeFile(t, ts.local("/big.bin"), big)

	// get -c continues a partial download.
	writeFile(t, filepath.Join(work, "big.bin"), big[:1<<20+3])
	res := lftp(t, ts, work, true, `get -c big.bin`)
	wantLftp(t, res)
	wantFile(t, filepath.Join(work, "big.bin"), big)

	// pget fetches segments in parallel with REST on several sessions.
	res = lftp(t, ts, work, true, `pget -n 4 big.bin -o pget.bin`)
	wantLftp(t, res)
	wantFile(t, filepath.Join(work, "pget.bin"), big)

	// put -c continues a partial upload.
	writeFile(t, ts.local("/partial.bin"), big[:777777])
	if err := os.Rename(filepath.Join(work, "big.bin"), filepath.Join(work, "partial.bin")); err != nil {
		t.Fatal(err)
	}
	res = lftp(t, ts, work, true, `put -c partial.bin`)
	wantLftp(t, res)
	wantFile(t, ts.local("/partial.bin"), big)
}

// TestLftpAnonymous logs in anonymously: a new tree may be mirrored into
// /incoming, the rest can be read, and nothing existing can be changed.
func TestLftpAnonymous(t *testing.T) {
	t.Parallel()
	bin := testtool.Need(t, "lftp")
	ts := startServer(t)
	work := t.TempDir()
	want := makeTree(t, filepath.Join(work, "src"), 15)
	writeFile(t, ts.local("/pub/a.txt"), []byte("public"))
	open := "set net:max-retries 1; set net:timeout 10; open ftp://" + ts.addr() + "; "

	res := run(t, time.Minute, "", work, bin, "-c", open+"set cmd:fail-exit yes; mirror -R src incoming/tree; mirror pub got")
	wantLftp(t, res)
	compareTrees(t, want, treeDigest(t, ts.local("/incoming/tree")))
	wantFile(t, filepath.Join(work, "got", "a.txt"), []byte("public"))

	// Without cmd:fail-exit every command runs and reports its failure.
	res = run(t, time.Minute, "", work, bin, "-c", open+strings.Join([]string{
		"put src/plain-0.bin -o pub/new.bin",
		"rm pub/a.txt",
		"mkdir pub/d",
		"mv pub/a.txt pub/b.txt",
		"chmod 777 pub/a.txt",
		"put src/plain-0.bin -o incoming/tree/plain-0.bin", // exists already
	}, "; "))
	if n := strings.Count(res.stderr, "Access failed: 550 "); n != 6 {
		t.Errorf("want 6 commands refused with 550, got %d: %s", n, res)
	}
	wantFile(t, ts.local("/pub/a.txt"), []byte("public"))
	wantNoFile(t, ts.local("/pub/new.bin"))
	wantNoFile(t, ts.local("/pub/d"))
	wantNoFile(t, ts.local("/pub/b.txt"))
	compareTrees(t, want, treeDigest(t, ts.local("/incoming/tree")))
}
