package cli

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-ftp/ferry/internal/sftptest"
)

// sftpTestServer is ferry's SFTP server on 127.0.0.1 (sftptest): alice
// logs in with the password "secret" or her key.
type sftpTestServer struct {
	*sftptest.Server
	known string // a known_hosts file with the host key
}

func startSFTPServer(t *testing.T) *sftpTestServer {
	t.Helper()
	s := sftptest.Start(t)
	return &sftpTestServer{Server: s, known: s.KnownHosts}
}

// url is an sftp:// URL for alice (with her password) to the absolute p.
func (ts *sftpTestServer) url(p string) string {
	return "sftp://" + sftptest.User + ":" + sftptest.Password + "@" + ts.Addr + "/" + strings.TrimPrefix(p, "/")
}

func (ts *sftpTestServer) file(p string) string { return ts.File(p) }

// run runs ferry with args and --known-hosts naming ts.known.
func (ts *sftpTestServer) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return ferry(t, append(args, "--known-hosts", ts.known)...)
}

func (ts *sftpTestServer) mustRun(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	return mustFerry(t, append(args, "--known-hosts", ts.known)...)
}

func TestSFTPPutGet(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	size := 3<<20 + 777
	if !testing.Short() {
		size = 64<<20 + 777
	}
	data := randomData(size, 11)
	dir := t.TempDir()
	local := filepath.Join(dir, "up.bin")
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2022, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(local, mtime, mtime)
	if err := os.Mkdir(ts.file("in"), 0o755); err != nil {
		t.Fatal(err)
	}

	// Into an existing directory: under the local base name.
	ts.mustRun(t, "put", local, ts.url("/in"))
	sameContent(t, ts.file("in/up.bin"), data)
	if fi, err := os.Stat(ts.file("in/up.bin")); err != nil || !fi.ModTime().Equal(mtime) {
		t.Errorf("remote mtime %v, want %v", fi.ModTime(), mtime)
	}

	got := filepath.Join(dir, "down.bin")
	ts.mustRun(t, "get", ts.url("/in/up.bin"), got)
	sameContent(t, got, data)
	if fi, _ := os.Stat(got); !fi.ModTime().Equal(mtime) {
		t.Errorf("local mtime %v, want %v", fi.ModTime(), mtime)
	}

	// Several ranges at once over the one connection.
	seg := filepath.Join(dir, "seg.bin")
	ts.mustRun(t, "get", "--segments", "3", ts.url("/in/up.bin"), seg)
	sameContent(t, seg, data)

	// cat, and a path below the login directory.
	out, _ := ts.mustRun(t, "cat", "sftp://alice:secret@"+ts.Addr+"/~/in/up.bin")
	if out != string(data) {
		t.Errorf("cat gave %d bytes, want the file's %d", len(out), len(data))
	}
}

// get -c and put -c continue what a cut transfer left.
func TestSFTPResume(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	data := randomData(3<<20+5, 12)
	if err := os.WriteFile(ts.file("f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "f.bin")
	os.WriteFile(local, data[:1<<20+3], 0o644)
	ts.mustRun(t, "get", "-c", ts.url("/f.bin"), local)
	sameContent(t, local, data)

	// Half the upload arrived.
	os.WriteFile(ts.file("g.bin"), data[:1<<20+7], 0o644)
	ts.mustRun(t, "put", "-c", local, ts.url("/g.bin"))
	sameContent(t, ts.file("g.bin"), data)

	// Without -c, the remote file is replaced, not extended.
	os.WriteFile(ts.file("g.bin"), []byte("junk that is longer than nothing"), 0o644)
	small := filepath.Join(t.TempDir(), "s")
	os.WriteFile(small, []byte("new"), 0o644)
	ts.mustRun(t, "put", small, ts.url("/g.bin"))
	sameContent(t, ts.file("g.bin"), []byte("new"))
}

func TestSFTPLsRmMkdirMv(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	os.MkdirAll(ts.file("d/sub"), 0o755)
	os.WriteFile(ts.file("d/a.txt"), []byte("hello"), 0o644)
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(ts.file("d/a.txt"), when, when)

	out, _ := ts.mustRun(t, "ls", ts.url("/d"))
	if out != "a.txt\nsub\n" {
		t.Errorf("ls: %q", out)
	}
	out, _ = ts.mustRun(t, "ls", "-l", ts.url("/d/a.txt"))
	if !strings.HasPrefix(out, "-rw-r--r-- 5 Jan  2  2020 a.txt") {
		t.Errorf("ls -l: %q", out)
	}
	ts.mustRun(t, "mkdir", "-p", ts.url("/x/y/z"))
	if fi, err := os.Stat(ts.file("x/y/z")); err != nil || !fi.IsDir() {
		t.Fatalf("mkdir -p: %v", err)
	}
	ts.mustRun(t, "mv", ts.url("/d/a.txt"), "/x/y/")
	sameContent(t, ts.file("x/y/a.txt"), []byte("hello"))
	ts.mustRun(t, "rm", ts.url("/x/y/a.txt"))
	ts.mustRun(t, "rmdir", ts.url("/x/y/z"))
	if _, err := os.Stat(ts.file("x/y/a.txt")); !os.IsNotExist(err) {
		t.Errorf("rm left the file: %v", err)
	}
	if _, err := os.Stat(ts.file("x/y/z")); !os.IsNotExist(err) {
		t.Errorf("rmdir left the directory: %v", err)
	}
	if _, _, err := ts.run(t, "rm", ts.url("/nothing")); err == nil {
		t.Error("rm of a missing file succeeded")
	}
}

func TestSFTPMirrorBothWays(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	src := t.TempDir()
	when := time.Date(2019, 9, 9, 9, 9, 9, 0, time.UTC)
	files := map[string][]byte{"a.txt": []byte("alpha"), "deep/er/b.bin": randomData(300<<10, 13)}
	for name, data := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
		os.Chtimes(p, when, when)
	}
	out, _ := ts.mustRun(t, "mirror", "--reverse", src, ts.url("/m"))
	if !strings.Contains(out, "mirror: 2 files transferred") {
		t.Errorf("upload: %q", out)
	}
	for name, data := range files {
		sameContent(t, ts.file("m/"+name), data)
		if fi, _ := os.Stat(ts.file("m/" + name)); !fi.ModTime().Equal(when) {
			t.Errorf("%s on the server: time %v, want %v", name, fi.ModTime(), when)
		}
	}
	out, _ = ts.mustRun(t, "mirror", "--reverse", src, ts.url("/m"))
	if !strings.Contains(out, "mirror: 0 files transferred") || !strings.Contains(out, "2 up to date") {
		t.Errorf("second upload transferred again: %q", out)
	}

	dst := t.TempDir()
	ts.mustRun(t, "mirror", ts.url("/m"), dst)
	for name, data := range files {
		p := filepath.Join(dst, filepath.FromSlash(name))
		sameContent(t, p, data)
		if fi, _ := os.Stat(p); !fi.ModTime().Equal(when) {
			t.Errorf("%s downloaded: time %v, want %v", name, fi.ModTime(), when)
		}
	}
	out, _ = ts.mustRun(t, "mirror", ts.url("/m"), dst)
	if !strings.Contains(out, "mirror: 0 files transferred") {
		t.Errorf("second download transferred again: %q", out)
	}
}

// cp streams between an SFTP and an FTP server, either way.
func TestSFTPCpToAndFromFTP(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	fs := startFTP(t)
	data := randomData(2<<20+9, 14)
	os.WriteFile(ts.file("s.bin"), data, 0o644)

	ts.mustRun(t, "cp", ts.url("/s.bin"), fs.url("f.bin"))
	sameContent(t, fs.file("f.bin"), data)
	// FTP's flags are for the FTP side: no error for the SFTP one.
	ts.mustRun(t, "cp", "--active", fs.url("f.bin"), ts.url("/back.bin"))
	sameContent(t, ts.file("back.bin"), data)
}

func TestSFTPUnknownHost(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	known := filepath.Join(t.TempDir(), "ssh", "known_hosts")
	_, _, err := ferry(t, "ls", ts.url("/"), "--known-hosts", known)
	fp := ssh.FingerprintSHA256(ts.HostKeys[0].PublicKey())
	if err == nil || !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "--accept-new-host-key") {
		t.Fatalf("ls of an unknown host: %v; want a refusal with %s and how to accept", err, fp)
	}
	if _, err := os.Stat(known); !os.IsNotExist(err) {
		t.Fatalf("known_hosts written for a refused host: %v", err)
	}

	_, stderr := mustFerry(t, "ls", "--accept-new-host-key", ts.url("/"), "--known-hosts", known)
	if !strings.Contains(stderr, fp) {
		t.Errorf("no note of the added key: %q", stderr)
	}
	// Written hashed, as OpenSSH does with HashKnownHosts yes, and found
	// by OpenSSH under the name it looks up.
	data, err := os.ReadFile(known)
	_, port, _ := net.SplitHostPort(ts.Addr)
	if err != nil || !strings.HasPrefix(string(data), "|1|") || !strings.Contains(string(data), " ssh-ed25519 ") || strings.Contains(string(data), "127.0.0.1") {
		t.Fatalf("known_hosts = %q, %v; want one hashed ssh-ed25519 line", data, err)
	}
	if keygen, err := exec.LookPath("ssh-keygen"); err == nil {
		host := "[127.0.0.1]:" + port
		out, err := exec.Command(keygen, "-F", host, "-f", known).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "# Host "+host+" found: line 1") {
			t.Errorf("ssh-keygen -F %s: %v\n%s", host, err, out)
		}
	}
	// Known now: silent, with or without the flag.
	for _, extra := range [][]string{nil, {"--accept-new-host-key"}} {
		_, stderr = mustFerry(t, append([]string{"ls", ts.url("/"), "--known-hosts", known}, extra...)...)
		if stderr != "" {
			t.Errorf("second run said %q", stderr)
		}
	}
}

func TestSFTPChangedHostKey(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	ts.TrustOnly(t, sftptest.NewSigner(t).PublicKey())
	line, _ := os.ReadFile(ts.known)
	_, _, err := ts.run(t, "ls", "--accept-new-host-key", ts.url("/"))
	if err == nil || !strings.Contains(err.Error(), "REMOTE HOST IDENTIFICATION HAS CHANGED") || !strings.Contains(err.Error(), ts.known+":1") {
		t.Fatalf("ls with a changed host key: %v", err)
	}
	if data, _ := os.ReadFile(ts.known); !bytes.Equal(data, line) {
		t.Errorf("known_hosts changed: %q", data)
	}
}

// An entry hashed by OpenSSH (ssh-keygen -H) is recognised.
func TestSFTPHashedKnownHosts(t *testing.T) {
	t.Parallel()
	keygen := needSSHKeygen(t)
	ts := startSFTPServer(t)
	if out, err := exec.Command(keygen, "-H", "-f", ts.known).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -H: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(ts.known); !strings.HasPrefix(string(data), "|1|") {
		t.Fatalf("not hashed: %q", data)
	}
	ts.mustRun(t, "ls", ts.url("/"))
}

func needSSHKeygen(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ssh-keygen")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ssh-keygen (openssh-client) is required in CI")
		}
		t.Skip("ssh-keygen not installed")
	}
	return p
}

func TestSFTPLogins(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	noPass := "sftp://alice@" + ts.Addr + "/"
	ts.mustRun(t, "ls", "-i", ts.KeyFile, noPass)
	ts.mustRun(t, "ls", "--user", "alice:secret", "sftp://"+ts.Addr+"/")

	_, _, err := ts.run(t, "ls", "sftp://alice:wrong@"+ts.Addr+"/")
	if err == nil || !strings.Contains(err.Error(), "login refused") || !strings.Contains(err.Error(), "alice@") {
		t.Errorf("wrong password: %v", err)
	}
	_, _, err = ts.run(t, "ls", noPass)
	if err == nil || !strings.Contains(err.Error(), "no password to offer") {
		t.Errorf("no password, no terminal: %v", err)
	}
	_, _, err = ts.run(t, "ls", "-i", filepath.Join(t.TempDir(), "missing"), noPass)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing -i file: %v", err)
	}
}

func TestSFTPFTPOnlyFlags(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	for _, args := range [][]string{
		{"get", "--active", ts.url("/x"), t.TempDir()},
		{"get", "--compress", ts.url("/x"), t.TempDir()},
		{"ls", "--vhost", "h", ts.url("/")},
		{"ls", "--ca", "ca.pem", ts.url("/")},
	} {
		_, _, err := ts.run(t, args...)
		if err == nil || !strings.Contains(err.Error(), args[1]) || !strings.Contains(err.Error(), "sftp://") {
			t.Errorf("ferry %s: %v; want an error naming %s", strings.Join(args, " "), err, args[1])
		}
	}
}

func TestParseSFTPURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, addr, user, path, shown string }{
		{"sftp://h", "h:22", "", ".", "sftp://h:22/~/"},
		{"sftp://h/", "h:22", "", "/", "sftp://h:22/"},
		{"sftp://bob@h:2022/srv/a%20b", "h:2022", "bob", "/srv/a b", "sftp://bob@h:2022/srv/a%20b"},
		{"SFTP://h/~/x/y", "h:22", "", "x/y", "sftp://h:22/~/x/y"},
		{"sftp://h/~", "h:22", "", ".", "sftp://h:22/~/"},
		{"sftp://[::1]/x", "[::1]:22", "", "/x", "sftp://[::1]:22/x"},
	}
	for _, tt := range tests {
		r, err := parseRemoteURL(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if r.Scheme != "sftp" || r.Addr() != tt.addr || r.User != tt.user || r.resolve() != tt.path || r.String() != tt.shown {
			t.Errorf("%s: %+v, addr %s, path %q, shown %s", tt.in, r, r.Addr(), r.resolve(), r.String())
		}
	}
}

// FuzzParseSFTPURL: any input parses or fails cleanly, and what an sftp://
// URL shows parses back to the same server and path.
func FuzzParseSFTPURL(f *testing.F) {
	for _, s := range []string{"sftp://h", "sftp://u:p@h:22/~/a", "sftp://[::1]:2/%2F", "sftp://h/~", "sftp://h//x", "ftp://h/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := parseRemoteURL(raw)
		if err != nil || r.Scheme != "sftp" {
			return
		}
		again, err := parseRemoteURL(r.String())
		if err != nil {
			t.Fatalf("%q shows as %q, which does not parse: %v", raw, r.String(), err)
		}
		if again.Addr() != r.Addr() || again.User != r.User || again.resolve() != r.resolve() {
			t.Fatalf("%q shows as %q, which names %s %q, not %s %q", raw, r.String(), again.Addr(), again.resolve(), r.Addr(), r.resolve())
		}
	})
}

// cutProxy forwards connections to target; the first one is cut once
// more than cut bytes have gone either way through it.
type cutProxy struct {
	addr   string
	conns  atomic.Int32
	cutOne atomic.Bool
}

func startCutProxy(t *testing.T, target string, cut int64) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			first := p.conns.Add(1) == 1
			go p.serve(c, target, first, cut)
		}
	}()
	return p
}

func (p *cutProxy) serve(c net.Conn, target string, first bool, cut int64) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	var moved atomic.Int64
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if first && moved.Add(int64(n)) > cut {
					p.cutOne.Store(true)
					c.Close()
					s.Close()
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	done := make(chan struct{})
	go func() { pipe(s, c); close(done) }()
	pipe(c, s)
	<-done
}

// A transfer whose connection is cut is resumed on a new one, from where
// it stopped, as an FTP transfer is.
func TestSFTPResumeAfterCut(t *testing.T) {
	t.Parallel()
	ts := startSFTPServer(t)
	data := randomData(6<<20+1, 15)
	os.WriteFile(ts.file("down.bin"), data, 0o644)
	local := filepath.Join(t.TempDir(), "down.bin")

	for _, dir := range []string{"get", "put"} {
		proxy := startCutProxy(t, ts.Addr, 2<<20)
		// known_hosts names the proxy's address, which the client dials.
		known := filepath.Join(t.TempDir(), "known_hosts")
		line := knownhosts.Line([]string{knownhosts.Normalize(proxy.addr)}, ts.HostKeys[0].PublicKey())
		os.WriteFile(known, []byte(line+"\n"), 0o600)
		url := "sftp://alice:secret@" + proxy.addr
		var stderr string
		if dir == "get" {
			_, stderr = mustFerry(t, "get", "--retry-wait", "1ms", "--known-hosts", known, url+"/down.bin", local)
			sameContent(t, local, data)
		} else {
			_, stderr = mustFerry(t, "put", "--retry-wait", "1ms", "--known-hosts", known, local, url+"/up.bin")
			sameContent(t, ts.file("up.bin"), data)
		}
		if !proxy.cutOne.Load() || proxy.conns.Load() < 2 || !strings.Contains(stderr, "retrying") {
			t.Errorf("%s: cut %v, %d connections, stderr %q: the transfer was not cut and resumed", dir, proxy.cutOne.Load(), proxy.conns.Load(), stderr)
		}
	}
}
