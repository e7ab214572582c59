package interop

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modezText is compressible text, as MODE Z is meant for.
func modezText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%06d the quick brown fox jumps over the lazy dog; ferry MODE Z\n", i)
	}
	return b.Bytes()[:n]
}

// TestLftpModeZ has lftp transfer in MODE Z (its ftp:use-mode-z) both
// ways, list, and resume a download, and checks from lftp's own protocol
// trace that MODE Z was in force, and the bytes on both sides.
func TestLftpModeZ(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	down := modezText(3 << 20)
	up := modezText(2<<20 + 12345)
	writeFile(t, ts.local("/down.txt"), down)
	writeFile(t, filepath.Join(work, "up.txt"), up)
	for i := range 50 {
		writeFile(t, ts.local(fmt.Sprintf("/dir/entry-%02d", i)), []byte("x"))
	}
	// Half of down.txt already here, for get -c.
	writeFile(t, filepath.Join(work, "part.txt"), down[:1<<20])
	trace := filepath.Join(work, "trace")

	res := lftp(t, ts, work, true, strings.Join([]string{
		"set ftp:use-mode-z true",
		"debug -o " + trace + " 5",
		"get down.txt -o got.txt",
		"put up.txt -o put.txt",
		"cls -1 dir > listing",
		"get -c down.txt -o part.txt",
	}, "; "))
	wantLftp(t, res)
	wantFile(t, filepath.Join(work, "got.txt"), down)
	wantFile(t, ts.local("/put.txt"), up)
	wantFile(t, filepath.Join(work, "part.txt"), down)
	listing, err := os.ReadFile(filepath.Join(work, "listing"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(listing), "entry-"); n != 50 {
		t.Errorf("listing has %d entries, want 50:\n%s", n, listing)
	}

	log, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "<--- 200 Mode set to Z") {
		t.Errorf("lftp's trace shows no MODE Z accepted:\n%s", log)
	}
	// Each transfer ran in the MODE that came last before it.
	mode := ""
	for _, line := range strings.Split(string(log), "\n") {
		cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "---> ")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(cmd, "MODE "):
			mode = cmd
		case strings.HasPrefix(cmd, "RETR "), strings.HasPrefix(cmd, "STOR "), strings.HasPrefix(cmd, "MLSD"), strings.HasPrefix(cmd, "LIST"):
			if mode != "MODE Z" {
				t.Errorf("%s ran in %q, not MODE Z", cmd, mode)
			}
		}
	}

	// curl does not know MODE Z and is not affected by it.
	res = curl(t, work, "-o", filepath.Join(work, "curl.txt"), ts.url("/down.txt"))
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(work, "curl.txt"), down)
	res = curl(t, work, "-T", filepath.Join(work, "up.txt"), ts.url("/curl-up.txt"))
	wantCurl(t, res, curlOK)
	wantFile(t, ts.local("/curl-up.txt"), up)
}
