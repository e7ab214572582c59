package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestPutIntoDirectoryKeepsMtime(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	os.Mkdir(ts.file("up"), 0o755)
	data := randomData(5<<20+9, 11)
	local := filepath.Join(t.TempDir(), "data.bin")
	os.WriteFile(local, data, 0o644)
	mtime := time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(local, mtime, mtime)

	// An existing directory, without a trailing slash.
	_, stderr := mustFerry(t, "put", "--debug", local, ts.url("up"))
	sameContent(t, ts.file("up/data.bin"), data)
	fi, _ := os.Stat(ts.file("up/data.bin"))
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("remote mtime %v, want %v", fi.ModTime(), mtime)
	}
	if !strings.Contains(stderr, "> MFMT 20190102030405 ") || countLines(stderr, "> HASH ") != 1 {
		t.Errorf("no MFMT or HASH in the trace:\n%s", clipText(stderr))
	}

	// A new name; a path ending in "/".
	mustFerry(t, "put", local, ts.url("up/renamed.bin"))
	sameContent(t, ts.file("up/renamed.bin"), data)
	mustFerry(t, "put", local, ts.url(""))
	sameContent(t, ts.file("data.bin"), data)
}

func TestPutContinue(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	data := randomData(3<<20, 12)
	local := filepath.Join(t.TempDir(), "f.bin")
	os.WriteFile(local, data, 0o644)
	ts.put(t, "f.bin", data[:1234567])

	_, stderr := mustFerry(t, "put", "-c", "--debug", local, ts.url("f.bin"))
	sameContent(t, ts.file("f.bin"), data)
	if !strings.Contains(stderr, "> REST 1234567") || !strings.Contains(stderr, "> STOR ") {
		t.Errorf("put -c did not restart the upload at the remote size:\n%s", clipText(stderr))
	}

	// Complete already: nothing sent.
	_, stderr = mustFerry(t, "put", "-c", "--debug", local, ts.url("f.bin"))
	if strings.Contains(stderr, "STOR") {
		t.Errorf("put -c of a complete file uploaded again:\n%s", clipText(stderr))
	}
	// -c with no remote file uploads it all.
	mustFerry(t, "put", "-c", local, ts.url("new.bin"))
	sameContent(t, ts.file("new.bin"), data)
	// A longer remote file is not "resumed".
	ts.put(t, "long.bin", append(append([]byte{}, data...), 'x'))
	if _, _, err := ferry(t, "put", "-c", local, ts.url("long.bin")); err == nil {
		t.Error("put -c onto a longer remote file succeeded")
	}
}

func TestPutChecksumMismatch(t *testing.T) {
	t.Parallel()
	ts := startFTP(t, withFS(func(f ftpserver.FileSystem) ftpserver.FileSystem { return lyingFS{f} }))
	local := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(local, []byte("content"), 0o644)
	_, _, err := ferry(t, "put", local, ts.url("f.txt"))
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("put with a wrong server digest: %v", err)
	}
}

func TestPutErrors(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	dir := t.TempDir()
	local := filepath.Join(dir, "f")
	os.WriteFile(local, []byte("x"), 0o644)
	for _, args := range [][]string{
		{"put", filepath.Join(dir, "missing"), ts.url("")},
		{"put", dir, ts.url("")},
		{"put", local, ts.url("no/such/dir/f")},
		// Anonymous users may not write.
		{"put", local, "ftp://" + ts.addr + "/f"},
	} {
		if _, _, err := ferry(t, args...); err == nil {
			t.Errorf("%q succeeded", args)
		}
	}
}

func TestPutRetriesBrokenTransfer(t *testing.T) {
	t.Parallel()
	flaky := &flakyUploads{breakdowns: breakdowns{failures: 1, cut: 700 << 10}}
	ts := startFTP(t, withFS(func(f ftpserver.FileSystem) ftpserver.FileSystem { flaky.FileSystem = f; return flaky }))
	data := randomData(2<<20, 13)
	local := filepath.Join(t.TempDir(), "f.bin")
	os.WriteFile(local, data, 0o644)
	_, stderr := mustFerry(t, "put", "--retry-wait", "10ms", "--debug", local, ts.url("f.bin"))
	sameContent(t, ts.file("f.bin"), data)
	if !strings.Contains(stderr, "retrying") || !strings.Contains(stderr, "> REST 716800") {
		t.Errorf("the broken upload was not resumed where it stopped:\n%s", clipText(stderr))
	}
}
