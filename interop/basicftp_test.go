package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testtool"
)

// basicFTPResult is what interop/node/basicftp.mjs prints.
type basicFTPResult struct {
	List []struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
		Dir  bool   `json:"dir"`
	} `json:"list"`
	Errors        []string `json:"errors"`
	EmptyFailures []string `json:"emptyFailures"`
}

// needNode returns node and the path of script in interop/node, which
// drives the Node package pkg; scripts/test installs the pinned versions
// with npm ci into interop/node/node_modules. Missing, the test is
// skipped on a developer machine and fails in CI, as testtool.Need does
// for programs.
func needNode(t *testing.T, pkg, script string) (node, scriptPath string) {
	t.Helper()
	node = testtool.Need(t, "node")
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
		if testtool.InCI() {
			t.Fatalf("%s is not installed in %s; CI must have it (scripts/test runs npm ci there)", pkg, dir)
		}
		t.Skipf("%s is not installed; run scripts/test or npm ci --prefix %s", pkg, dir)
	}
	return node, filepath.Join(dir, script)
}

// basicFTP lists, uploads up.bin, downloads data.bin and uploads 50 empty
// files with basic-ftp, and checks the bytes on both sides.
func basicFTP(t *testing.T, ts *testServer, secure, caFile string) {
	t.Helper()
	node, script := needNode(t, "basic-ftp", "basicftp.mjs")
	work := t.TempDir()
	data := testData(71, 1<<20+17)
	writeFile(t, ts.local("/data.bin"), data)
	up := testData(72, 300011)
	writeFile(t, filepath.Join(work, "up.bin"), up)

	res := run(t, 3*time.Minute, "", work, node, script, fmt.Sprint(ts.port), secure, caFile, work)
	var got basicFTPResult
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil || res.exitCode != 0 {
		t.Fatalf("basic-ftp: %v\n%s", err, res)
	}
	if len(got.Errors) > 0 {
		t.Fatalf("basic-ftp failed: %q", got.Errors)
	}
	if len(got.EmptyFailures) > 0 {
		t.Errorf("%d of 50 empty uploads failed: %q", len(got.EmptyFailures), got.EmptyFailures)
	}
	listed := false
	for _, f := range got.List {
		if f.Name == "data.bin" && f.Size == int64(len(data)) && !f.Dir {
			listed = true
		}
	}
	if !listed {
		t.Errorf("listing of / lacks data.bin of %d bytes: %+v", len(data), got.List)
	}
	wantFile(t, ts.local("/up.bin"), up)
	wantFile(t, filepath.Join(work, "data.bin"), data)
	for i := range 50 {
		if len(got.EmptyFailures) == 0 {
			wantFile(t, ts.local(fmt.Sprintf("/empty/e-%d.txt", i)), nil)
		}
	}
}

func TestBasicFTP(t *testing.T) {
	t.Parallel()
	basicFTP(t, startServer(t), "plain", "")
}

// TestBasicFTPS runs basic-ftp over explicit TLS with protected data
// connections required: its data connections resume the control
// session, and it starts their handshake before the transfer command, so
// empty uploads need the server to finish it early.
func TestBasicFTPS(t *testing.T) {
	t.Parallel()
	ts := startTLSServer(t, ftpserver.TLSPolicy{RequireLogin: true, RequireData: true})
	basicFTP(t, ts.testServer, "tls", ts.caFile)
}
