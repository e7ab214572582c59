package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestGetLargeFileKeepsMtime(t *testing.T) {
	ts := startFTP(t)
	data := randomData(9<<20+123, 1)
	ts.put(t, "dir/big.bin", data)
	mtime := time.Date(2021, 7, 8, 9, 10, 11, 0, time.UTC)
	os.Chtimes(ts.file("dir/big.bin"), mtime, mtime)

	dir := t.TempDir()
	// LOCAL is a directory: the file lands under its base name.
	_, stderr := mustFerry(t, "get", "--debug", ts.url("dir/big.bin"), dir)
	local := filepath.Join(dir, "big.bin")
	sameContent(t, local, data)
	fi, _ := os.Stat(local)
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("local mtime %v, want the remote %v", fi.ModTime(), mtime)
	}
	// The server offers HASH: the download is checked with SHA-256.
	if countLines(stderr, "> HASH ") != 1 || !strings.Contains(stderr, "< 213 SHA-256 ") {
		t.Errorf("no HASH verification in the trace:\n%s", clipText(stderr))
	}

	// Without LOCAL, the base name in the working directory.
	t.Chdir(t.TempDir())
	mustFerry(t, "get", ts.url("dir/big.bin"))
	sameContent(t, "big.bin", data)
}

func TestGetContinue(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	data := randomData(3<<20, 2)
	ts.put(t, "f.bin", data)
	local := filepath.Join(t.TempDir(), "f.bin")
	os.WriteFile(local, data[:1<<20], 0o644)

	_, stderr := mustFerry(t, "get", "-c", "--debug", ts.url("f.bin"), local)
	sameContent(t, local, data)
	if !strings.Contains(stderr, "> REST 1048576") {
		t.Errorf("get -c did not restart at the local size:\n%s", clipText(stderr))
	}

	// Complete already: nothing to download, no error.
	_, stderr = mustFerry(t, "get", "-c", "--debug", ts.url("f.bin"), local)
	if strings.Contains(stderr, "RETR") {
		t.Errorf("get -c of a complete file downloaded again:\n%s", clipText(stderr))
	}
	sameContent(t, local, data)

	// A local file longer than the remote one is not "resumed".
	os.WriteFile(local, append(data, 'x'), 0o644)
	if _, _, err := ferry(t, "get", "-c", ts.url("f.bin"), local); err == nil {
		t.Error("get -c of a longer local file succeeded")
	}

	// Without -c the file is replaced.
	mustFerry(t, "get", ts.url("f.bin"), local)
	sameContent(t, local, data)
}

func TestGetSegments(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	data := randomData(8<<20+77, 3)
	ts.put(t, "seg.bin", data)
	local := filepath.Join(t.TempDir(), "seg.bin")

	_, stderr := mustFerry(t, "get", "--segments", "4", "--debug", ts.url("seg.bin"), local)
	sameContent(t, local, data)
	if n := countLines(stderr, "> RETR "); n != 4 {
		t.Errorf("%d RETR commands for 4 segments:\n%s", n, clipText(stderr))
	}
	if n := countLines(stderr, "> REST "); n != 3 {
		t.Errorf("%d REST commands for 4 segments (the first starts at 0):\n%s", n, clipText(stderr))
	}
	if _, err := os.Stat(segmentStatePath(local)); !os.IsNotExist(err) {
		t.Errorf("the segment status file outlived the download: %v", err)
	}
}

func TestGetSegmentsContinue(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	size := 4 << 20
	data := randomData(size, 4)
	ts.put(t, "seg.bin", data)
	local := filepath.Join(t.TempDir(), "seg.bin")

	// What a killed segmented download leaves: a pre-sized file with
	// parts of each segment, and the status file.
	st := newSegmentState(int64(size), 0, 2)
	st.Segments[0].Done = 1000
	st.Segments[1].Done = 5000
	partial := make([]byte, size)
	copy(partial[:1000], data)
	s1 := st.Segments[1].Start
	copy(partial[s1:s1+5000], data[s1:])
	os.WriteFile(local, partial, 0o644)
	if err := st.save(segmentStatePath(local)); err != nil {
		t.Fatal(err)
	}

	_, stderr := mustFerry(t, "get", "-c", "--debug", ts.url("seg.bin"), local)
	sameContent(t, local, data)
	for _, want := range []string{"> REST 1000", "> REST " + itoa(s1+5000)} {
		if !strings.Contains(stderr, want) {
			t.Errorf("no %q in the trace:\n%s", want, clipText(stderr))
		}
	}
	if _, err := os.Stat(segmentStatePath(local)); !os.IsNotExist(err) {
		t.Errorf("the segment status file outlived the download: %v", err)
	}

	// A download without -c forgets an old status file, so that a later
	// -c cannot trust it for the new file.
	st.save(segmentStatePath(local))
	mustFerry(t, "get", ts.url("seg.bin"), local)
	if _, err := os.Stat(segmentStatePath(local)); !os.IsNotExist(err) {
		t.Errorf("a stale status file survived a new download: %v", err)
	}
	// A damaged one stops -c.
	os.WriteFile(segmentStatePath(local), []byte("{garbage"), 0o644)
	if _, _, err := ferry(t, "get", "-c", ts.url("seg.bin"), local); err == nil || !strings.Contains(err.Error(), "without -c") {
		t.Errorf("get -c with a damaged status file: %v", err)
	}
}

func TestGetLimitRate(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	data := randomData(640<<10, 5)
	ts.put(t, "slow.bin", data)
	local := filepath.Join(t.TempDir(), "slow.bin")

	start := time.Now()
	mustFerry(t, "get", "--limit-rate", "320K", ts.url("slow.bin"), local)
	elapsed := time.Since(start)
	sameContent(t, local, data)
	// 640 KiB at 320 KiB/s is 2 s less the first burst; be lenient.
	if elapsed < time.Second || elapsed > 30*time.Second {
		t.Errorf("640 KiB at 320K took %v", elapsed)
	}
}

func TestGetChecksumMismatch(t *testing.T) {
	t.Parallel()
	ts := startFTP(t, withFS(func(f ftpserver.FileSystem) ftpserver.FileSystem { return lyingFS{f} }))
	ts.put(t, "f.txt", []byte("content"))
	local := filepath.Join(t.TempDir(), "f.txt")
	_, _, err := ferry(t, "get", ts.url("f.txt"), local)
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("get with a wrong server digest: %v", err)
	}
	// --no-verify trusts the transfer.
	mustFerry(t, "get", "--no-verify", ts.url("f.txt"), local)
	sameContent(t, local, []byte("content"))
}

func TestGetRetriesBrokenTransfer(t *testing.T) {
	t.Parallel()
	flaky := &flakyFS{breakdowns: breakdowns{failures: 2, cut: 300 << 10}}
	ts := startFTP(t, withFS(func(f ftpserver.FileSystem) ftpserver.FileSystem { flaky.FileSystem = f; return flaky }))
	data := randomData(1<<20, 6)
	ts.put(t, "f.bin", data)
	local := filepath.Join(t.TempDir(), "f.bin")
	_, stderr := mustFerry(t, "get", "--retry-wait", "10ms", "--debug", ts.url("f.bin"), local)
	sameContent(t, local, data)
	if !strings.Contains(stderr, "retrying") || !strings.Contains(stderr, "> REST ") {
		t.Errorf("no resumed retry in the output:\n%s", clipText(stderr))
	}

	// With no retries left, the failure is reported.
	flaky.mu.Lock()
	flaky.failures = 5
	flaky.mu.Unlock()
	if _, _, err := ferry(t, "get", "--retries", "0", ts.url("f.bin"), local); err == nil {
		t.Error("a broken download with --retries 0 succeeded")
	}
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	ts.put(t, "d/x", []byte("x"))
	dir := t.TempDir()
	for _, args := range [][]string{
		{"get", ts.url("missing"), dir},
		{"get", ts.url("d"), dir},
		{"get", ts.url("d/"), dir},
		{"get", "--limit-rate", "fast", ts.url("d/x"), dir},
		{"get", "--segments", "0", ts.url("d/x"), dir},
		{"get", "not-a-url", dir},
	} {
		if _, _, err := ferry(t, args...); err == nil {
			t.Errorf("%q succeeded", args)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestGetPutActiveMode(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	data := randomData(700<<10, 7)
	ts.put(t, "a.bin", data)
	local := filepath.Join(t.TempDir(), "a.bin")
	_, stderr := mustFerry(t, "get", "--active", "--debug", ts.url("a.bin"), local)
	sameContent(t, local, data)
	if !strings.Contains(stderr, "> EPRT |1|127.0.0.1|") {
		t.Errorf("--active did not use EPRT:\n%s", clipText(stderr))
	}
	mustFerry(t, "put", "--active", local, ts.url("b.bin"))
	sameContent(t, ts.file("b.bin"), data)
}
