package interop

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testtool"
)

// TestCurlIPv6 uses the server over [::1]: EPSV and EPRT carry IPv6, and
// PASV and PORT, which cannot, are refused rather than misused.
func TestCurlIPv6(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	port := ts.listen6(t)
	base := "ftp://" + user + ":" + password + "@" + net.JoinHostPort("::1", strconv.Itoa(port))
	data := testData(70, 1<<20+1)
	writeFile(t, ts.local("/data.bin"), data)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "up.bin"), data[:5000])

	res := curl(t, dir, "-v", "-o", "epsv.bin", base+"/data.bin")
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(dir, "epsv.bin"), data)
	wantLog(t, res.stderr, "> EPSV", "< 229 ")

	res = curl(t, dir, "-v", "-P", "::1", "-o", "eprt.bin", base+"/data.bin")
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(dir, "eprt.bin"), data)
	wantLog(t, res.stderr, "> EPRT |2|::1|", "< 200 ")

	res = curl(t, dir, "-T", "up.bin", base+"/up6.bin")
	wantCurl(t, res, curlOK)
	wantFile(t, ts.local("/up6.bin"), data[:5000])

	// curl always uses EPSV over IPv6 (--disable-epsv is ignored), so
	// PASV and PORT are left to ftplib.
}

func TestPythonIPv6(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	port := ts.listen6(t)
	work := t.TempDir()
	data := testData(71, 300001)
	writeFile(t, ts.local("/data.bin"), data)
	writeFile(t, filepath.Join(work, "up.bin"), data[:7777])

	ftplib(t, &testServer{host: "::1", port: port}, "ipv6", work)
	wantFile(t, filepath.Join(work, "data.bin"), data)
	wantFile(t, filepath.Join(work, "data-active.bin"), data)
	wantFile(t, ts.local("/up.bin"), data[:7777])
}

// TestLftpIPv6 mirrors a tree up and back over [::1] in passive mode
// (EPSV). Active mode is not covered: lftp 4.9 sends "EPRT |2|::|port|",
// which the server refuses with 500 as not the client's address.
func TestLftpIPv6(t *testing.T) {
	t.Parallel()
	bin := testtool.Need(t, "lftp")
	ts := startServer(t)
	port := ts.listen6(t)
	work := t.TempDir()
	want := makeTree(t, filepath.Join(work, "src"), 20)
	script := strings.Join([]string{
		"set cmd:fail-exit yes",
		"set net:max-retries 1",
		"set net:timeout 10",
		"set ftp:passive-mode on",
		"open -u " + user + "," + password + " ftp://[::1]:" + strconv.Itoa(port),
		"mirror -R src up",
		"mirror up back",
	}, "; ")
	res := run(t, 2*time.Minute, "", work, bin, "-c", script)
	wantLftp(t, res)
	compareTrees(t, want, treeDigest(t, ts.local("/up")))
	compareTrees(t, want, treeDigest(t, filepath.Join(work, "back")))
}
