package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// ssh2Result is what interop/node/ssh2sftp.mjs prints.
type ssh2Result struct {
	AuthFailed bool     `json:"authFailed"`
	Error      string   `json:"error"`
	Cipher     string   `json:"cipher"`
	PutSize    int64    `json:"putSize"`
	Listed     []string `json:"listed"`
	Mode       int      `json:"mode"`
	Removed    bool     `json:"removed"`
	After      []string `json:"after"`
}

// TestNodeSSH2SFTP: Node's ssh2 (under ssh2-sftp-client, the usual SFTP
// client of Node programs) against ferry's SFTP server, checking ferry's
// host key: fastPut and fastGet (parallel reads and writes) byte-identical,
// rename, mkdir, readdir, rmdir, chmod, unlink, and a wrong password
// refused.
func TestNodeSSH2SFTP(t *testing.T) {
	t.Parallel()
	node, script := needNode(t, "ssh2", "ssh2sftp.mjs")
	ts := startServer(t)
	port, knownHosts := sftpBeside(t, ts)
	line, err := os.ReadFile(knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(line)) // [127.0.0.1]:port ssh-ed25519 KEY
	if len(fields) != 3 {
		t.Fatalf("known_hosts line %q", line)
	}
	hostKey := fields[2]
	work := t.TempDir()
	src := testData(81, 2<<20+999) // fastPut's parallel writes, a short last one
	writeFile(t, filepath.Join(work, "src.bin"), src)

	ssh2 := func(pass, mode string) ssh2Result {
		t.Helper()
		res := run(t, 2*time.Minute, "", work, node, script, fmt.Sprint(port), user, pass, hostKey, work, mode)
		var r ssh2Result
		if err := json.Unmarshal([]byte(res.stdout), &r); err != nil || res.exitCode != 0 {
			t.Fatalf("ssh2 %s: %v\n%s\nserver log:\n%s", mode, err, res, ts.logs.String())
		}
		return r
	}

	r := ssh2(password, "session")
	if r.PutSize != int64(len(src)) {
		t.Errorf("uploaded size %d, want %d", r.PutSize, len(src))
	}
	wantFile(t, filepath.Join(work, "back.bin"), src)
	wantFile(t, ts.local("/m.bin"), src)
	if !slices.Contains(r.Listed, "nd") || !slices.Contains(r.Listed, "m.bin") || slices.Contains(r.Listed, "n.bin") {
		t.Errorf("listing after rename and mkdir: %v", r.Listed)
	}
	if slices.Contains(r.After, "nd") || slices.Contains(r.After, "gone.txt") || !r.Removed {
		t.Errorf("after rmdir and unlink: %v (removed file gone: %v)", r.After, r.Removed)
	}
	if r.Mode != 0o640 {
		t.Errorf("mode after chmod 0640: %o", r.Mode)
	}
	if fi, err := os.Stat(ts.local("/m.bin")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode on disk after chmod 0640: %v, %v", fi.Mode(), err)
	}
	t.Logf("ssh2 negotiated %s", r.Cipher)

	if bad := ssh2("wrong-"+password, "badpass"); !bad.AuthFailed {
		t.Errorf("a wrong password: %+v, want refused", bad)
	}
}
