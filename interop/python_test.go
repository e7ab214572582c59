package interop

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testtool"
)

// ftplib runs one scenario of testdata/ftplib_client.py against ts. The
// script checks the replies itself and exits non-zero on the first
// surprise.
func ftplib(t *testing.T, ts *testServer, scenario, workdir string) {
	t.Helper()
	ftplibScript(t, ts, "ftplib_client.py", scenario, workdir)
}

// ftplibScript runs one scenario of the Python script testdata/name,
// which takes the same arguments as ftplib_client.py.
func ftplibScript(t *testing.T, ts *testServer, name, scenario, workdir string) {
	t.Helper()
	bin := testtool.Need(t, "python3")
	script, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, 2*time.Minute, "", workdir, bin, script, ts.host, strconv.Itoa(ts.port), scenario, workdir)
	if res.exitCode != 0 || strings.TrimSpace(res.stdout) != "ok" {
		t.Fatalf("ftplib scenario %s failed: %s", scenario, res)
	}
}

func TestPythonFtplib(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	data := testData(20, 3<<20+1)
	writeFile(t, ts.local("/data.bin"), data)
	writeFile(t, filepath.Join(work, "data.bin.want"), data)
	utf8 := []byte("ünïcødé 名前\n")
	writeFile(t, ts.local("/ünï 名前.txt"), utf8)
	writeFile(t, ts.local("/text.txt"), []byte("first line\nsecond line\n\nlast\n"))
	writeFile(t, filepath.Join(work, "lines.txt"), []byte("one\ntwo\r\nthree\n"))
	up := testData(21, 1<<20+9)
	writeFile(t, filepath.Join(work, "up.bin"), up)

	ftplib(t, ts, "basic", work)

	wantFile(t, filepath.Join(work, "data.bin"), data)
	wantFile(t, filepath.Join(work, "utf8.txt"), utf8)
	// storlines sent CRLF line ends; TYPE A stores them as LF.
	wantFile(t, ts.local("/lines.txt"), []byte("one\ntwo\nthree\n"))
	wantFile(t, ts.local("/renamed.bin"), up)
	wantNoFile(t, ts.local("/up.bin"))
	wantNoFile(t, ts.local("/moved.bin"))
	wantNoFile(t, ts.local("/new dir"))
	wantNoFile(t, ts.local("/gone"))
}

// TestPythonFtplibAbort aborts a download of a large file after its first
// megabyte: the server answers 426 for the transfer and 226 for ABOR, and
// the session goes on.
func TestPythonFtplibAbort(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	writeFile(t, ts.local("/big.bin"), testData(22, 64<<20))
	data := testData(23, 100000)
	writeFile(t, ts.local("/data.bin"), data)

	ftplib(t, ts, "abort", work)
	wantFile(t, filepath.Join(work, "data.bin"), data)
}

// TestPythonFtplibStat asks for STAT while a download runs: the reply
// comes at once and the download still completes intact.
func TestPythonFtplibStat(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	big := testData(28, 64<<20)
	writeFile(t, ts.local("/big.bin"), big)

	ftplib(t, ts, "stat", work)
	wantFile(t, filepath.Join(work, "big.sha256"), []byte(sum(big)))
}

func TestPythonFtplibExtras(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	data := testData(29, 200000)
	writeFile(t, ts.local("/data.bin"), data)
	writeFile(t, filepath.Join(work, "data.bin.want"), data)
	up := testData(30, 10000)
	writeFile(t, filepath.Join(work, "up.bin"), up)
	// What an interrupted upload left: the first 4096 bytes.
	writeFile(t, ts.local("/partial.bin"), up[:4096])

	ftplib(t, ts, "extras", work)
	wantFile(t, ts.local("/partial.bin"), up)
	wantFile(t, ts.local("/data.bin"), data)
}

// TestPythonFtplibCommands sends the less common commands through
// ftplib's API (STOU, ALLO, ACCT, STRU, MODE, SMNT, the X aliases, MFMT,
// SITE CHMOD, AVBL, XCRC/XMD5, OPTS HASH, EPSV ALL, REIN) and checks their
// effects on disk.
func TestPythonFtplibCommands(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	data := testData(26, 1<<20+7)
	writeFile(t, ts.local("/data.bin"), data)
	writeFile(t, filepath.Join(work, "data.bin.want"), data)

	ftplib(t, ts, "commands", work)
	name, err := os.ReadFile(filepath.Join(work, "stou-name"))
	if err != nil {
		t.Fatal(err)
	}
	wantFile(t, ts.local("/"+string(name)), []byte("unique content"))
	fi, err := os.Stat(ts.local("/data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("SITE CHMOD 600 left mode %v", fi.Mode().Perm())
	}
	if want := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC); !fi.ModTime().Equal(want) {
		t.Errorf("MFMT left mtime %v, want %v", fi.ModTime(), want)
	}
	if _, err := os.Stat(ts.local("/xdir")); err == nil {
		t.Error("XRMD left the directory")
	}
}

func TestPythonFtplibActive(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	data := testData(24, 2<<20+3)
	writeFile(t, ts.local("/data.bin"), data)
	up := testData(25, 1<<20+1)
	writeFile(t, filepath.Join(work, "up.bin"), up)

	ftplib(t, ts, "active", work)
	wantFile(t, filepath.Join(work, "data.bin"), data)
	wantFile(t, ts.local("/up.bin"), up)
}

func TestPythonFtplibAnonymous(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	data := testData(26, 5000)
	writeFile(t, ts.local("/data.bin"), data)
	up := testData(27, 7000)
	writeFile(t, filepath.Join(work, "up.bin"), up)

	ftplib(t, ts, "anonymous", work)
	wantFile(t, filepath.Join(work, "data.bin"), data)
	wantFile(t, ts.local("/data.bin"), data)
	wantNoFile(t, ts.local("/up.bin"))
	wantNoFile(t, ts.local("/x.bin"))
	wantNoFile(t, ts.local("/mine"))
	wantFile(t, ts.local("/incoming/up.bin"), up)
}

func TestPythonFtplibBadLogin(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ftplib(t, ts, "badlogin", t.TempDir())
}

// TestPythonPipelining sends several commands in one packet, commands
// during a download and QUIT during a download.
func TestPythonPipelining(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	data := testData(60, 3<<20+5)
	writeFile(t, ts.local("/data.bin"), data)
	writeFile(t, filepath.Join(work, "data.bin.want"), data)
	big := testData(61, 32<<20)
	writeFile(t, ts.local("/big.bin"), big)

	ftplib(t, ts, "pipelining", work)
	wantFile(t, filepath.Join(work, "big.sha256"), []byte(sum(big)))
}

// TestPythonTelnetAbort aborts a download with the Telnet IP and Synch
// sequence that BSD-derived clients send before ABOR.
func TestPythonTelnetAbort(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	writeFile(t, ts.local("/big.bin"), testData(62, 64<<20))
	ftplib(t, ts, "telnet-abort", t.TempDir())
}

// TestPythonFtplibAbortUpload aborts an upload after its first megabyte
// and resumes it with REST.
func TestPythonFtplibAbortUpload(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	up := testData(63, 16<<20+3)
	writeFile(t, filepath.Join(work, "up.bin"), up)
	ftplib(t, ts, "abort-upload", work)
	wantFile(t, ts.local("/up.bin"), up)
}

// TestPythonFtplibQuiet pauses between commands for longer than the
// server waits before it hands a quiet session's goroutine over, on four
// sessions at once, and sends one command in two parts: every reply and
// file must be as without pauses.
func TestPythonFtplibQuiet(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	data := testData(30, 1<<20+3)
	writeFile(t, ts.local("/data.bin"), data)
	up := testData(31, 300000)
	writeFile(t, filepath.Join(work, "up.bin"), up)

	ftplib(t, ts, "quiet", work)
	wantFile(t, filepath.Join(work, "data.bin"), data)
	wantFile(t, ts.local("/up.bin"), up)
}
