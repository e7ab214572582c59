package interop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testtool"
)

// paramikoResult is what testdata/paramiko_sftp.py prints.
type paramikoResult struct {
	AuthFailed bool     `json:"auth_failed"`
	Cipher     string   `json:"cipher"`
	MAC        string   `json:"mac"`
	PutSize    int64    `json:"put_size"`
	SrcSHA256  string   `json:"src_sha256"`
	BackSHA256 string   `json:"back_sha256"`
	Listed     []string `json:"listed"`
	Mode       int      `json:"mode"`
	Removed    bool     `json:"removed"`
	AfterRmdir []string `json:"after_rmdir"`
}

// TestParamikoSFTP: paramiko (Debian's 2.12: AES-CTR and CBC only, no
// GCM or ChaCha20), the SSH library of Ansible and most Python scripts,
// against ferry's SFTP server: put and get byte-identical, rename, mkdir
// and rmdir, listing, chmod, remove, and a wrong password refused.
func TestParamikoSFTP(t *testing.T) {
	t.Parallel()
	python := testtool.NeedPython(t, "paramiko")
	ts := startServer(t)
	port, knownHosts := sftpBeside(t, ts)
	local := t.TempDir()
	src := randomBytes(t, 3<<20+4321) // many SFTP packets, a short last one
	if err := os.WriteFile(filepath.Join(local, "src.bin"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(pass, mode string) paramikoResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, "testdata/paramiko_sftp.py",
			"127.0.0.1", strconv.Itoa(port), user, pass, knownHosts, local, mode)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("paramiko %s: %v\n%s%s\nserver log:\n%s", mode, err, out, stderr, ts.logs.String())
		}
		var r paramikoResult
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("paramiko %s printed %q: %v", mode, out, err)
		}
		return r
	}

	r := run(password, "session")
	sum := sha256.Sum256(src)
	want := hex.EncodeToString(sum[:])
	if r.PutSize != int64(len(src)) || r.SrcSHA256 != want || r.BackSHA256 != want {
		t.Errorf("put %d bytes (want %d), got back sha256 %s (want %s)", r.PutSize, len(src), r.BackSHA256, want)
	}
	stored, err := os.ReadFile(ts.local("/q.bin"))
	if err != nil {
		t.Fatalf("renamed upload: %v", err)
	}
	if storedSum := sha256.Sum256(stored); hex.EncodeToString(storedSum[:]) != want {
		t.Errorf("the server stored %d bytes that differ from the %d sent", len(stored), len(src))
	}
	if !slices.Contains(r.Listed, "d") || !slices.Contains(r.Listed, "q.bin") || slices.Contains(r.Listed, "p.bin") {
		t.Errorf("listing after rename and mkdir: %v", r.Listed)
	}
	if slices.Contains(r.AfterRmdir, "d") || slices.Contains(r.AfterRmdir, "gone.txt") {
		t.Errorf("listing after rmdir and remove: %v", r.AfterRmdir)
	}
	if !r.Removed {
		t.Error("a removed file still stats")
	}
	if r.Mode != 0o600 {
		t.Errorf("mode after chmod 0600: %o", r.Mode)
	}
	if fi, err := os.Stat(ts.local("/q.bin")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode on disk after chmod 0600: %v, %v", fi.Mode(), err)
	}
	if r.Cipher == "" {
		t.Error("paramiko reports no cipher")
	}
	t.Logf("paramiko negotiated %s with %s", r.Cipher, r.MAC)

	if bad := run("wrong-"+password, "badpass"); !bad.AuthFailed {
		t.Error("a wrong password logged in")
	}
}
