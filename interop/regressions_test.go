// Regression tests for interop problems found with real clients and fixed
// in the server.
package interop

import (
	"fmt"
	"io"
	"net"
	"net/textproto"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	goftp "github.com/jlaffaye/ftp"

	"github.com/ferry-ftp/ferry/internal/testtool"
)

// lftp 4.9 in active mode over IPv6 sends "EPRT |2|::|port|": the
// unspecified address, meaning "the address you see me at". The server
// answers "500 Illegal EPRT command: address must be your own." and lftp
// then sends RETR with no data connection and retries until its timeout.
func TestLftpActiveIPv6Unspecified(t *testing.T) {
	t.Parallel()
	bin := testtool.Need(t, "lftp")
	ts := startServer(t)
	port := ts.listen6(t)
	work := t.TempDir()
	data := testData(80, 1000)
	writeFile(t, ts.local("/f.bin"), data)
	script := strings.Join([]string{
		"set cmd:fail-exit yes",
		"set net:max-retries 1",
		"set net:timeout 5",
		"set ftp:passive-mode off",
		"open -u " + user + "," + password + " ftp://[::1]:" + strconv.Itoa(port),
		"get f.bin",
	}, "; ")
	res := run(t, time.Minute, "", work, bin, "-c", script)
	wantLftp(t, res)
	wantFile(t, filepath.Join(work, "f.bin"), data)
}

// SIZE answers the size on disk in TYPE A too, as vsftpd and Pure-FTPd
// do, although RFC 3659 §4 would count the CRLFs a TYPE A RETR sends:
// Python's ftplib and BSD ftp switch to TYPE A for every listing and then
// use SIZE for the byte count of a binary download (TestPythonFtplib and
// TestDebianFTP check that from the clients' side).
func TestSizeInASCII(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	writeFile(t, ts.local("/text.txt"), []byte("a\nb\nc\n"))
	c := dialGoFTP(t, ts)
	mustOK(t, "TYPE A", c.Type(goftp.TransferTypeASCII))
	size, err := c.FileSize("text.txt")
	mustOK(t, "SIZE", err)
	if size != 6 {
		t.Errorf("SIZE in TYPE A = %d, want the 6 bytes on disk", size)
	}
}

// STAT during a download reports the bytes sent so far; the counter moves
// per 256 KiB chunk, so after the client has read 1 MiB it is not 0.
func TestStatProgress(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	writeFile(t, ts.local("/big.bin"), testData(81, 64<<20))
	c, err := textproto.Dial("tcp", ts.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cmd := func(code int, format string, args ...any) string {
		t.Helper()
		if format != "" {
			if err := c.PrintfLine(format, args...); err != nil {
				t.Fatal(err)
			}
		}
		_, msg, err := c.ReadResponse(code)
		if err != nil {
			t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
		}
		return msg
	}
	cmd(220, "")
	cmd(331, "USER %s", user)
	cmd(230, "PASS %s", password)
	cmd(200, "TYPE I")
	epsv := cmd(229, "EPSV")
	port := regexp.MustCompile(`\|\|\|(\d+)\|`).FindStringSubmatch(epsv)
	data, err := net.Dial("tcp", net.JoinHostPort(ts.host, port[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	cmd(150, "RETR big.bin")
	if _, err := io.ReadFull(data, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	stat := cmd(211, "STAT")
	m := regexp.MustCompile(`: (\d+) of (\d+) bytes`).FindStringSubmatch(stat)
	if m == nil {
		t.Fatalf("STAT during RETR: %q", stat)
	}
	if sent, _ := strconv.Atoi(m[1]); sent < 1<<20 {
		t.Errorf("STAT says %d bytes sent; the client has already read %d:\n%s", sent, 1<<20, stat)
	}
}
