package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-ftp/ferry/internal/miniotest"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/sftpserver"
)

// sftpBeside serves ts's accounts and storage over SFTP too, as ferry
// serve does with [sftp] listen, and returns its port and a known_hosts
// file naming its host key.
func sftpBeside(t *testing.T, ts *testServer) (port int, knownHostsFile string) {
	t.Helper()
	key, _, err := sftpserver.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	srv := &sftpserver.Server{
		Auth:           ts.srv.Auth,
		HostKeys:       []ssh.Signer{key},
		LoginFailDelay: 10 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, sftpserver.ErrServerClosed) {
			t.Errorf("SFTP Serve returned %v", err)
		}
	})
	port = ln.Addr().(*net.TCPAddr).Port
	knownHostsFile = filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(ln.Addr().String())}, key.PublicKey())
	if err := os.WriteFile(knownHostsFile, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return port, knownHostsFile
}

// rclone runs rclone with a remote "ferry" of type sftp, configured
// through the environment (with the password obscured as rclone stores
// it) and an empty configuration file, so that nothing of the user's is
// read.
type rclone struct {
	bin string
	env []string
}

func newRclone(t *testing.T, port int, knownHosts string) *rclone {
	t.Helper()
	bin := testtool.Need(t, "rclone")
	home := t.TempDir()
	out, err := exec.Command(bin, "obscure", password).Output()
	if err != nil {
		t.Fatalf("rclone obscure: %v", err)
	}
	conf := filepath.Join(home, "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return &rclone{bin: bin, env: append(os.Environ(),
		"HOME="+home,
		"RCLONE_CONFIG="+conf,
		"RCLONE_CONFIG_FERRY_TYPE=sftp",
		"RCLONE_CONFIG_FERRY_HOST=127.0.0.1",
		"RCLONE_CONFIG_FERRY_PORT="+strconv.Itoa(port),
		"RCLONE_CONFIG_FERRY_USER="+user,
		"RCLONE_CONFIG_FERRY_PASS="+strings.TrimSpace(string(out)),
		"RCLONE_CONFIG_FERRY_KNOWN_HOSTS_FILE="+knownHosts,
	)}
}

// run runs rclone with args and returns its stdout, failing the test
// when it fails.
func (r *rclone) run(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := r.try(args...)
	if err != nil {
		t.Fatalf("rclone %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout
}

func (r *rclone) try(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--low-level-retries", "1", "--retries", "1"}, args...)...)
	cmd.Env = r.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// rcloneEntry is one entry of rclone lsjson.
type rcloneEntry struct {
	Path    string
	Size    int64
	ModTime time.Time
	IsDir   bool
}

func (r *rclone) lsjson(t *testing.T, remote string) map[string]rcloneEntry {
	t.Helper()
	var list []rcloneEntry
	if err := json.Unmarshal([]byte(r.run(t, "lsjson", "-R", remote)), &list); err != nil {
		t.Fatalf("rclone lsjson: %v", err)
	}
	m := map[string]rcloneEntry{}
	for _, e := range list {
		m[e.Path] = e
	}
	return m
}

// rcloneTree writes a small tree with an empty file, a file of many
// SFTP packets, and nested directories, and returns its files' contents
// by slash path.
func rcloneTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"empty":              {},
		"a.txt":              []byte("hello rclone\n"),
		"sub/big.bin":        randomBytes(t, 3<<20+12345),
		"sub/deeper/c.txt":   []byte("c"),
		"name with spaces":   []byte("spaces"),
		"sub/deeper/d.bin":   randomBytes(t, 70_000),
		"sub/üñíçødé-ñame.x": []byte("utf-8"),
	}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkTree checks that dir holds exactly files.
func checkTree(t *testing.T, what, dir string, files map[string][]byte) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		want, ok := files[rel]
		got, rerr := os.ReadFile(p)
		switch {
		case !ok:
			t.Errorf("%s: unexpected file %s", what, rel)
		case rerr != nil || !bytes.Equal(got, want):
			t.Errorf("%s: %s differs (%d bytes, want %d; %v)", what, rel, len(got), len(want), rerr)
		}
		seen++
		return nil
	})
	if err != nil || seen != len(files) {
		t.Errorf("%s: %d files (%v), want %d", what, seen, err, len(files))
	}
}

// TestRcloneSFTP: rclone's SFTP backend copies a tree up and down
// byte-identical, lists sizes and times as they are, moves, makes and
// removes directories and deletes files. ferry runs no commands, so
// rclone's md5sum/sha1sum over exec are refused: rclone finds no hash
// type and falls back to sizes (and times) for its checks.
func TestRcloneSFTP(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	port, knownHosts := sftpBeside(t, ts)
	rc := newRclone(t, port, knownHosts)
	rcloneSuite(t, rc, func(p string) string { return filepath.Join(ts.root, filepath.FromSlash(p)) })
}

// rcloneSuite runs rclone against the remote "ferry:"; onDisk, when not
// nil, maps a server path to the file behind it, to check the bytes
// there too.
func rcloneSuite(t *testing.T, rc *rclone, onDisk func(string) string) {
	local := t.TempDir()
	files := rcloneTree(t, local)

	rc.run(t, "copy", local, "ferry:tree")
	if onDisk != nil {
		checkTree(t, "the server's disk after rclone copy up", onDisk("tree"), files)
	}

	list := rc.lsjson(t, "ferry:tree")
	for p, data := range files {
		e, ok := list[p]
		if !ok || e.IsDir || e.Size != int64(len(data)) {
			t.Errorf("lsjson %s: %+v, want a file of %d bytes", p, e, len(data))
			continue
		}
		// rclone sets the time with SETSTAT after its upload.
		if want := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC); !e.ModTime.Equal(want) {
			t.Errorf("lsjson %s: time %v, want %v", p, e.ModTime, want)
		}
	}
	if e := list["sub/deeper"]; !e.IsDir {
		t.Errorf("lsjson sub/deeper: %+v, want a directory", e)
	}

	// Hashes: rclone asks for them over exec ("md5sum"), which ferry
	// refuses; it reports no hash and does not fail.
	if out := rc.run(t, "backend", "features", "ferry:"); !strings.Contains(out, `"Hashes": []`) {
		t.Errorf("rclone backend features: want no hashes (exec refused):\n%s", out)
	}
	// Asked for one all the same, it says so clearly.
	if stdout, stderr, err := rc.try("md5sum", "ferry:tree/a.txt"); err == nil || stdout != "" || !strings.Contains(stderr, "hash unsupported") {
		t.Errorf("rclone md5sum: %v, stdout %q; want it to fail with \"hash unsupported\":\n%s", err, stdout, stderr)
	}
	// check compares sizes (and, with --download, the bytes).
	if _, stderr, err := rc.try("check", local, "ferry:tree"); err != nil {
		t.Errorf("rclone check: %v\n%s", err, stderr)
	}
	if _, stderr, err := rc.try("check", "--download", local, "ferry:tree"); err != nil {
		t.Errorf("rclone check --download: %v\n%s", err, stderr)
	}

	down := t.TempDir()
	rc.run(t, "copy", "ferry:tree", down)
	checkTree(t, "rclone copy down", down, files)

	rc.run(t, "moveto", "ferry:tree/a.txt", "ferry:tree/moved/a.txt")
	list = rc.lsjson(t, "ferry:tree")
	if _, ok := list["a.txt"]; ok {
		t.Error("moveto left the source")
	}
	if e := list["moved/a.txt"]; e.Size != int64(len(files["a.txt"])) {
		t.Errorf("moveto: moved/a.txt is %+v", e)
	}

	rc.run(t, "mkdir", "ferry:newdir/inner")
	if e := rc.lsjson(t, "ferry:")["newdir/inner"]; !e.IsDir {
		t.Errorf("mkdir: newdir/inner is %+v", e)
	}
	rc.run(t, "rmdir", "ferry:newdir/inner")
	if _, ok := rc.lsjson(t, "ferry:")["newdir/inner"]; ok {
		t.Error("rmdir left newdir/inner")
	}
	if _, _, err := rc.try("rmdir", "ferry:tree/sub"); err == nil {
		t.Error("rmdir of a directory with files succeeded")
	}

	rc.run(t, "delete", "ferry:tree/sub")
	list = rc.lsjson(t, "ferry:tree")
	for p := range list {
		if strings.HasPrefix(p, "sub/") && !list[p].IsDir {
			t.Errorf("delete left %s", p)
		}
	}
	if e := list["empty"]; e.IsDir || e.Size != 0 {
		t.Errorf("delete removed files outside sub: empty is %+v", e)
	}
	rc.run(t, "purge", "ferry:tree")
	if _, ok := rc.lsjson(t, "ferry:")["tree"]; ok {
		t.Error("purge left tree")
	}
}

// TestRcloneSFTPOverS3: the same over the S3 back end (a real MinIO).
func TestRcloneSFTPOverS3(t *testing.T) {
	t.Parallel()
	ss := startS3Server(t, miniotest.Shared(t), s3SmallParts)
	port, knownHosts := sftpBeside(t, ss.testServer)
	rcloneSuite(t, newRclone(t, port, knownHosts), nil)
}
