package interop

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// curl's exit codes that the tests expect (see curl(1), EXIT CODES).
const (
	curlOK           = 0
	curlQuoteError   = 21
	curlUploadFailed = 25
	curlLoginDenied  = 67
	curlFileNotFound = 78
)

// curl runs curl with a time limit, no progress meter and errors shown.
func curl(t *testing.T, dir string, args ...string) result {
	t.Helper()
	bin := testtool.Need(t, "curl")
	return run(t, 90*time.Second, "", dir, bin, append([]string{"-sS", "--max-time", "60"}, args...)...)
}

// wantCurl fails the test unless curl exited with code.
func wantCurl(t *testing.T, res result, code int) {
	t.Helper()
	if res.exitCode != code {
		t.Fatalf("curl exited %d, want %d\n%s", res.exitCode, code, res)
	}
}

func TestCurlList(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	names := []string{"hello.txt", "with space.txt", "名前.txt", "ünïcødé"}
	for _, n := range names {
		writeFile(t, ts.local("/"+n), []byte("x"))
	}
	if err := os.Mkdir(ts.local("/sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	res := curl(t, "", ts.url("/"))
	wantCurl(t, res, curlOK)
	lines := outputLines(res.stdout)
	for _, n := range append(slices.Clone(names), "sub", "incoming") {
		found := false
		for _, l := range lines {
			if strings.HasSuffix(l, " "+n) {
				found = true
				if isDir := strings.HasPrefix(l, "d"); isDir != (n == "sub" || n == "incoming") {
					t.Errorf("LIST line %q: directory flag wrong", l)
				}
			}
		}
		if !found {
			t.Errorf("LIST output has no line for %q:\n%s", n, res.stdout)
		}
	}

	// --list-only sends NLST: names only, one per line.
	res = curl(t, "", "--list-only", ts.url("/"))
	wantCurl(t, res, curlOK)
	got := outputLines(res.stdout)
	want := append(slices.Clone(names), "sub", "incoming")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("NLST names = %q, want %q", got, want)
	}

	// A directory that does not exist: CWD fails and curl says so.
	res = curl(t, "", ts.url("/nowhere/"))
	if res.exitCode == curlOK {
		t.Errorf("listing a missing directory succeeded:\n%s", res)
	}
}

// TestCurlDataConnections runs a download, an upload and a listing over
// each kind of data connection curl can make, and checks from curl's
// verbose log that the intended command was used and accepted.
func TestCurlDataConnections(t *testing.T) {
	t.Parallel()
	modes := []struct {
		name  string
		args  []string
		wants []string // lines in curl -v's log
	}{
		{"EPSV default", nil, []string{"> EPSV", "< 229 "}},
		{"ftp-pasv", []string{"--ftp-pasv"}, []string{"> EPSV", "< 229 "}},
		{"PASV disable-epsv", []string{"--disable-epsv"}, []string{"> PASV", "< 227 "}},
		{"EPRT -P", []string{"-P", "127.0.0.1"}, []string{"> EPRT |1|127.0.0.1|", "< 200 "}},
		{"PORT ftp-port disable-eprt", []string{"--ftp-port", "127.0.0.1", "--disable-eprt"}, []string{"> PORT 127,0,0,1,", "< 200 "}},
	}
	ts := startServer(t)
	data := testData(1, 1<<20+3)
	writeFile(t, ts.local("/data.bin"), data)
	for i, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"-v"}, m.args...)

			res := curl(t, dir, append(args, "-o", "got.bin", ts.url("/data.bin"))...)
			wantCurl(t, res, curlOK)
			wantFile(t, filepath.Join(dir, "got.bin"), data)
			wantLog(t, res.stderr, m.wants...)
			wantLog(t, res.stderr, "> RETR data.bin", "< 226 ")

			up := testData(uint64(100+i), 777777)
			writeFile(t, filepath.Join(dir, "up.bin"), up)
			name := "/up-" + strings.ReplaceAll(m.name, " ", "-") + ".bin"
			res = curl(t, dir, append(args, "-T", "up.bin", ts.url(name))...)
			wantCurl(t, res, curlOK)
			wantFile(t, ts.local(name), up)
			wantLog(t, res.stderr, m.wants...)
			wantLog(t, res.stderr, "< 226 ")

			res = curl(t, dir, append(args, "--list-only", ts.url("/"))...)
			wantCurl(t, res, curlOK)
			if !slices.Contains(outputLines(res.stdout), "data.bin") {
				t.Errorf("NLST output lacks data.bin:\n%s", res.stdout)
			}
			wantLog(t, res.stderr, m.wants...)
		})
	}
}

// outputLines splits a listing into lines. curl turns the CRLF of ASCII
// transfers into LF, so either ending is accepted.
func outputLines(s string) []string {
	lines := strings.Split(strings.TrimRight(s, "\r\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// wantLog fails the test unless every want starts some line of curl's
// verbose log.
func wantLog(t *testing.T, log string, wants ...string) {
	t.Helper()
	lines := strings.Split(log, "\n")
	for _, w := range wants {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
			t.Errorf("curl log has no line starting %q:\n%s", w, log)
		}
	}
}

func TestCurlResumeDownload(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	data := testData(2, 2<<20+5)
	writeFile(t, ts.local("/big.bin"), data)
	dir := t.TempDir()
	// The partial file a broken download left behind.
	writeFile(t, filepath.Join(dir, "big.bin"), data[:300001])

	res := curl(t, dir, "-v", "-C", "-", "-o", "big.bin", ts.url("/big.bin"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "> REST 300001", "< 350 ", "< 226 ")
	wantFile(t, filepath.Join(dir, "big.bin"), data)

	// A byte range: REST, then curl closes the data connection early.
	res = curl(t, dir, "-r", "1000-1999", "-o", "range.bin", ts.url("/big.bin"))
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(dir, "range.bin"), data[1000:2000])

	// The session still works after the early close.
	res = curl(t, dir, "-o", "again.bin", ts.url("/big.bin"))
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(dir, "again.bin"), data)
}

func TestCurlResumeUpload(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	data := testData(3, 1<<20+11)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "up.bin"), data)
	// What an interrupted upload left on the server.
	writeFile(t, ts.local("/up.bin"), data[:123457])

	res := curl(t, dir, "-v", "-C", "-", "-T", "up.bin", ts.url("/up.bin"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "> SIZE up.bin", "< 213 123457", "< 226 ")
	wantFile(t, ts.local("/up.bin"), data)

	// --append sends APPE.
	extra := []byte("appended tail\n")
	writeFile(t, filepath.Join(dir, "tail.txt"), extra)
	res = curl(t, dir, "-v", "--append", "-T", "tail.txt", ts.url("/up.bin"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "> APPE up.bin", "< 226 ")
	wantFile(t, ts.local("/up.bin"), append(data[:len(data):len(data)], extra...))
}

func TestCurlCreateDirs(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	dir := t.TempDir()
	data := testData(4, 4096)
	writeFile(t, filepath.Join(dir, "f.txt"), data)

	// Without --ftp-create-dirs the missing directory is an error.
	res := curl(t, dir, "-T", "f.txt", ts.url("/a/b/c/f.txt"))
	if res.exitCode == curlOK {
		t.Fatalf("upload into a missing directory succeeded:\n%s", res)
	}
	wantNoFile(t, ts.local("/a"))

	res = curl(t, dir, "--ftp-create-dirs", "-T", "f.txt", ts.url("/a/b/c/f.txt"))
	wantCurl(t, res, curlOK)
	wantFile(t, ts.local("/a/b/c/f.txt"), data)

	// Again, now that the directories exist (MKD fails, CWD works).
	res = curl(t, dir, "--ftp-create-dirs", "-T", "f.txt", ts.url("/a/b/c/g.txt"))
	wantCurl(t, res, curlOK)
	wantFile(t, ts.local("/a/b/c/g.txt"), data)

	// Names with spaces and UTF-8, percent-encoded in the URL.
	res = curl(t, dir, "--ftp-create-dirs", "-T", "f.txt", ts.url("/with%20space/%C3%BC/%E5%90%8D.txt"))
	wantCurl(t, res, curlOK)
	wantFile(t, ts.local("/with space/ü/名.txt"), data)
}

func TestCurlQuote(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	writeFile(t, ts.local("/x"), []byte("delete me"))
	writeFile(t, ts.local("/a"), []byte("rename me"))

	// -Q before the transfer, -Q "-..." after it.
	res := curl(t, "", "-v",
		"-Q", "DELE x",
		"-Q", "MKD made",
		"-Q", "-RNFR a",
		"-Q", "-RNTO made/b",
		"--list-only", ts.url("/"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "< 250 File deleted.", `< 257 "/made" created.`, "< 350 ", "< 250 Rename successful.")
	wantNoFile(t, ts.local("/x"))
	wantNoFile(t, ts.local("/a"))
	wantFile(t, ts.local("/made/b"), []byte("rename me"))
	// The listing ran after DELE and MKD and before the rename.
	if names := strings.Fields(res.stdout); !slices.Contains(names, "made") || slices.Contains(names, "x") || !slices.Contains(names, "a") {
		t.Errorf("listing between the quote commands = %q", names)
	}

	// A quote command the server refuses stops curl with a quote error.
	res = curl(t, "", "-v", "-Q", "DELE missing", ts.url("/"))
	wantCurl(t, res, curlQuoteError)
	wantLog(t, res.stderr, "< 550 ")

	// "*" in front lets the command fail without stopping curl.
	res = curl(t, "", "-Q", "*DELE missing", "--list-only", ts.url("/"))
	wantCurl(t, res, curlOK)
}

func TestCurlAnonymous(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	pub := testData(5, 5000)
	writeFile(t, ts.local("/pub.bin"), pub)
	dir := t.TempDir()
	up := testData(6, 6000)
	writeFile(t, filepath.Join(dir, "up.bin"), up)

	res := curl(t, dir, "-o", "pub.bin", ts.anonURL("/pub.bin"))
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(dir, "pub.bin"), pub)

	// Read-only outside the upload directory.
	res = curl(t, dir, "-v", "-T", "up.bin", ts.anonURL("/up.bin"))
	wantCurl(t, res, curlUploadFailed)
	wantLog(t, res.stderr, "< 550 ")
	wantNoFile(t, ts.local("/up.bin"))
	res = curl(t, dir, "-v", "-Q", "DELE pub.bin", ts.anonURL("/"))
	wantCurl(t, res, curlQuoteError)
	wantFile(t, ts.local("/pub.bin"), pub)

	// New files in /incoming are fine; replacing one is not.
	res = curl(t, dir, "-T", "up.bin", ts.anonURL("/incoming/up.bin"))
	wantCurl(t, res, curlOK)
	wantFile(t, ts.local("/incoming/up.bin"), up)
	writeFile(t, filepath.Join(dir, "other.bin"), pub)
	res = curl(t, dir, "-T", "other.bin", ts.anonURL("/incoming/up.bin"))
	wantCurl(t, res, curlUploadFailed)
	wantFile(t, ts.local("/incoming/up.bin"), up)
}

func TestCurlErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	res := curl(t, "", "ftp://"+user+":wrong@"+ts.addr()+"/")
	wantCurl(t, res, curlLoginDenied)

	res = curl(t, "", "-o", "/dev/null", ts.url("/missing.bin"))
	wantCurl(t, res, curlFileNotFound)
}

// TestCurlFTPMethods fetches and stores a file two directories down with
// each of curl's ways to reach it: a CWD per directory, one CWD with the
// whole path, and no CWD at all (full paths in SIZE, RETR and STOR).
func TestCurlFTPMethods(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	data := testData(7, 300000)
	writeFile(t, ts.local("/one dir/two/data.bin"), data)
	for _, method := range []string{"multicwd", "singlecwd", "nocwd"} {
		t.Run(method, func(t *testing.T) {
			dir := t.TempDir()
			res := curl(t, dir, "-v", "--ftp-method", method, "-o", "got.bin", ts.url("/one%20dir/two/data.bin"))
			wantCurl(t, res, curlOK)
			wantFile(t, filepath.Join(dir, "got.bin"), data)
			switch method {
			case "multicwd":
				wantLog(t, res.stderr, "> CWD one dir", "> CWD two", "> RETR data.bin")
			case "singlecwd":
				wantLog(t, res.stderr, "> CWD one dir/two", "> RETR data.bin")
			case "nocwd":
				wantLog(t, res.stderr, "> RETR one dir/two/data.bin")
			}

			writeFile(t, filepath.Join(dir, "up.bin"), data[:1000])
			res = curl(t, dir, "--ftp-method", method, "-T", "up.bin", ts.url("/one%20dir/two/"+method+".bin"))
			wantCurl(t, res, curlOK)
			wantFile(t, ts.local("/one dir/two/"+method+".bin"), data[:1000])

			res = curl(t, dir, "--ftp-method", method, "--list-only", ts.url("/one%20dir/two/"))
			wantCurl(t, res, curlOK)
			if !slices.Contains(outputLines(res.stdout), "data.bin") {
				t.Errorf("listing lacks data.bin:\n%s", res.stdout)
			}
		})
	}
}

// TestCurlASCII transfers text in TYPE A (-B): the server stores LF line
// ends, whatever the wire carried, and binary transfers stay untouched.
func TestCurlASCII(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	dir := t.TempDir()
	text := []byte("line one\nline two\n\nlast line\n")
	writeFile(t, ts.local("/text.txt"), text)
	writeFile(t, filepath.Join(dir, "up.txt"), text)

	res := curl(t, dir, "-v", "-B", "-o", "got.txt", ts.url("/text.txt"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "> TYPE A", "< 200 ")
	wantFile(t, filepath.Join(dir, "got.txt"), text)

	res = curl(t, dir, "-v", "-B", "-T", "up.txt", ts.url("/up.txt"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "> TYPE A", "< 226 ")
	wantFile(t, ts.local("/up.txt"), text)

	// --crlf makes curl send CRLF line ends: TYPE A stores them as LF.
	res = curl(t, dir, "-B", "--crlf", "-T", "up.txt", ts.url("/crlf.txt"))
	wantCurl(t, res, curlOK)
	wantFile(t, ts.local("/crlf.txt"), text)
}

// TestCurlKilledUploadResumes kills curl in the middle of an upload: with
// the default upload mode the bytes that arrived become the file, and
// curl -C - then completes it.
func TestCurlKilledUploadResumes(t *testing.T) {
	t.Parallel()
	bin := testtool.Need(t, "curl")
	ts := startServer(t)
	dir := t.TempDir()
	data := testData(8, 4<<20+3)
	writeFile(t, filepath.Join(dir, "up.bin"), data)

	cmd := exec.Command(bin, "-sS", "--limit-rate", "512K", "-T", "up.bin", ts.url("/up.bin"))
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() { // also when the wait below fails
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	// Kill it once a good part (but, at curl's rate, far from all) has
	// reached the server: its running transfer says how much (on disk
	// the upload has no name until it is published).
	testwait.For(t, "512 KiB of the upload on the server", func() bool {
		for _, s := range ts.srv.Sessions() {
			if s.Transfer != nil && s.Transfer.Bytes >= 512<<10 {
				return true
			}
		}
		return false
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	// The server notices the lost connections and keeps what arrived.
	var partial []byte
	testwait.For(t, "the partial file of the killed upload, and no session left", func() bool {
		var err error
		partial, err = os.ReadFile(ts.local("/up.bin"))
		return err == nil && ts.srv.SessionCount() == 0
	})
	if len(partial) == 0 || len(partial) >= len(data) || !bytes.Equal(partial, data[:len(partial)]) {
		t.Fatalf("after the killed upload the file has %d bytes; want a true prefix of the %d", len(partial), len(data))
	}

	res := curl(t, dir, "-v", "-C", "-", "-T", "up.bin", ts.url("/up.bin"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "< 213 "+strconv.Itoa(len(partial)))
	wantFile(t, ts.local("/up.bin"), data)
}
