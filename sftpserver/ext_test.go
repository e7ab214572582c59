package sftpserver_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// countingFS wraps local disk, recording what uploads write and when
// they are synced; with gate set, every upload Write and every Open of
// gatedName waits for it to close.
type countingFS struct {
	ftpserver.FileSystem

	mu        sync.Mutex
	gate      chan struct{}
	gatedName string  // "": every upload's writes
	syncs     []int64 // bytes the upload had written at each Sync
	maxWrite  int
	cancelled int // gated calls ended by their context
}

// startCounting runs a server whose accounts have a countingFS over a
// temporary home, returned with it.
func startCounting(t *testing.T) (*fixture, *countingFS, string) {
	t.Helper()
	home := t.TempDir()
	fsys, err := localfs.New(home)
	if err != nil {
		t.Fatal(err)
	}
	cfs := &countingFS{FileSystem: fsys}
	return startFS(t, cfs, nil), cfs, home
}

func (c *countingFS) Create(ctx context.Context, name string, opts ftpserver.CreateOptions) (ftpserver.FileWriter, error) {
	w, err := c.FileSystem.Create(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	return &countingWriter{FileWriter: w, fs: c}, nil
}

func (c *countingFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if err := c.wait(ctx, name); err != nil {
		return nil, err
	}
	return c.FileSystem.Open(ctx, name, offset)
}

func (c *countingFS) Link(ctx context.Context, oldname, newname string) error {
	return c.FileSystem.(ftpserver.Linker).Link(ctx, oldname, newname)
}

// hold makes Writes of uploads (name "") or Opens of name wait until the
// returned function is called.
func (c *countingFS) hold(name string) (release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gate := make(chan struct{})
	c.gate, c.gatedName = gate, name
	return func() { close(gate) }
}

// wait holds a call on name while it is gated, or until ctx ends (then
// counted in cancelled).
func (c *countingFS) wait(ctx context.Context, name string) error {
	c.mu.Lock()
	gate, gated := c.gate, c.gatedName
	c.mu.Unlock()
	if gate == nil || name != gated {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		c.cancelled++
		c.mu.Unlock()
		return ctx.Err()
	}
}

func (c *countingFS) syncsSeen() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.syncs...)
}

type countingWriter struct {
	ftpserver.FileWriter
	fs      *countingFS
	written int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.fs.wait(context.Background(), "")
	n, err := w.FileWriter.Write(p)
	w.written += int64(n)
	w.fs.mu.Lock()
	w.fs.maxWrite = max(w.fs.maxWrite, len(p))
	w.fs.mu.Unlock()
	return n, err
}

func (w *countingWriter) Sync(ctx context.Context) error {
	w.fs.mu.Lock()
	w.fs.syncs = append(w.fs.syncs, w.written)
	w.fs.mu.Unlock()
	return w.FileWriter.(ftpserver.Syncer).Sync(ctx)
}

// TestOpenSSHPutFsync: OpenSSH's "put -f" and "reput -f" ask for
// fsync@openssh.com after the last write; each upload is synced once,
// with all of its data written, and the files arrive whole.
func TestOpenSSHPutFsync(t *testing.T) {
	t.Parallel()
	f, cfs, home := startCounting(t)
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 1<<20+33)
	re := randomFile(t, filepath.Join(local, "re.bin"), 1<<20+7)
	const had = 300_000
	if err := os.WriteFile(filepath.Join(home, "re.bin"), re[:had], 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.sftpBatch(t, local, "alice", password, "", "put -f up.bin\nreput -f re.bin")
	if r.code != 0 || strings.Contains(r.out, "fsync") {
		t.Fatalf("sftp put -f, reput -f: %v", r)
	}
	if got, want := cfs.syncsSeen(), []int64{int64(len(data)), int64(len(re) - had)}; !slices.Equal(got, want) {
		t.Errorf("syncs with bytes written %v, want %v", got, want)
	}
	for name, want := range map[string][]byte{"up.bin": data, "re.bin": re} {
		onDisk, err := os.ReadFile(filepath.Join(home, name))
		if err != nil || !bytes.Equal(onDisk, want) {
			t.Errorf("%s differs (err %v, %d bytes of %d)", name, err, len(onDisk), len(want))
		}
	}
}

// TestFsyncAfterOutstandingWrites: an fsync sent right behind WRITEs on
// the same handle, before any is answered, syncs only once they are all
// applied; fsync of a download is OK and of an unknown handle a failure.
func TestFsyncAfterOutstandingWrites(t *testing.T) {
	t.Parallel()
	f, cfs, home := startCounting(t)
	randomFile(t, filepath.Join(home, "r.bin"), 100)
	c := f.dialRaw(t)
	handle := c.call(3, "/g.bin", uint32(0x1a), uint32(0)).handle(t) // WRITE|CREAT|TRUNC
	release := cfs.hold("")
	const chunk, n = 32 << 10, 8
	var data []byte
	var ids []uint32
	for i := range n {
		b := bytes.Repeat([]byte{byte('a' + i)}, chunk)
		data = append(data, b...)
		ids = append(ids, c.send(6, handle, uint64(i*chunk), b))
	}
	fsyncID := c.send(200, "fsync@openssh.com", handle)
	// Everything is sent while the first write is held in the backend.
	release()
	got := c.await(append(ids, fsyncID)...)
	for _, id := range append(ids, fsyncID) {
		if code, msg := got[id].status(); code != 0 {
			t.Errorf("request %d: status %d %q", id, code, msg)
		}
	}
	if s := cfs.syncsSeen(); len(s) != 1 || s[0] != int64(len(data)) {
		t.Errorf("syncs with bytes written %v, want one at %d", s, len(data))
	}
	if code, msg := c.call(4, handle).status(); code != 0 {
		t.Fatalf("close: %d %q", code, msg)
	}
	if onDisk, err := os.ReadFile(filepath.Join(home, "g.bin")); err != nil || !bytes.Equal(onDisk, data) {
		t.Errorf("uploaded file differs (err %v, %d bytes of %d)", err, len(onDisk), len(data))
	}

	rh := c.call(3, "/r.bin", uint32(1), uint32(0)).handle(t)
	if code, msg := c.call(200, "fsync@openssh.com", rh).status(); code != 0 {
		t.Errorf("fsync of a download: %d %q, want OK", code, msg)
	}
	if code, _ := c.call(200, "fsync@openssh.com", "nosuch").status(); code != 4 {
		t.Errorf("fsync of an unknown handle: status %d, want failure (4)", code)
	}
	if code, _ := c.call(200, "fsync@openssh.com", handle).status(); code != 4 {
		t.Errorf("fsync of a closed handle: status %d, want failure (4)", code)
	}
}

// TestLimits: the VERSION reply offers the filter's extensions beside
// pkg/sftp's, and limits@openssh.com answers the request server's
// limits.
func TestLimits(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dialRaw(t)
	exts := c.extensions(t)
	for name, data := range map[string]string{
		"posix-rename@openssh.com": "1",
		"statvfs@openssh.com":      "2",
		"hardlink@openssh.com":     "1",
		"fsync@openssh.com":        "1",
		"limits@openssh.com":       "1",
		"check-file":               "md5,sha1,sha224,sha256,sha384,sha512,crc32",
	} {
		if exts[name] != data {
			t.Errorf("VERSION extension %s = %q, want %q (all: %v)", name, exts[name], data, exts)
		}
	}
	p := c.call(200, "limits@openssh.com")
	if p.typ != typExtendedReply || len(p.body) != 32 {
		t.Fatalf("limits reply of type %d, %d bytes", p.typ, len(p.body))
	}
	var got [4]uint64
	for i := range got {
		got[i] = binary.BigEndian.Uint64(p.body[8*i:])
	}
	if want := [4]uint64{256 << 10, 255 << 10, 255 << 10, 0}; got != want {
		t.Errorf("limits %v, want %v", got, want)
	}
	// An extension nobody serves is still pkg/sftp's to refuse.
	if code, _ := c.call(200, "nosuch@example.com").status(); code != 8 {
		t.Errorf("unknown extension: status %d, want op-unsupported (8)", code)
	}
}

// TestOpenSSHLimits: OpenSSH's sftp reads the limits, sizes its
// transfers from them, and uploads in WRITEs of at most the advertised
// size.
func TestOpenSSHLimits(t *testing.T) {
	t.Parallel()
	f, cfs, home := startCounting(t)
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 2<<20+1)
	argv := []string{testtool.Need(t, "sshpass"), "-e", testtool.Need(t, "sftp"), "-vvv"}
	argv = append(argv, f.sshOptions()...)
	argv = append(argv, "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
		"-P", f.port, "-b", "-", "alice@127.0.0.1")
	r := f.run(t, local, password, "put up.bin", argv)
	if r.code != 0 {
		t.Fatalf("sftp put: %v", r)
	}
	if !strings.Contains(r.out, "server upload/download buffer sizes 261120 / 261120; using 261120 / 261120") {
		t.Errorf("sftp -vvv does not show the server's limits in use:\n%s", r.out)
	}
	cfs.mu.Lock()
	maxWrite := cfs.maxWrite
	cfs.mu.Unlock()
	if maxWrite != 255<<10 {
		t.Errorf("largest WRITE %d bytes, want %d (max-write-length)", maxWrite, 255<<10)
	}
	if onDisk, err := os.ReadFile(filepath.Join(home, "up.bin")); err != nil || !bytes.Equal(onDisk, data) {
		t.Errorf("uploaded file differs (err %v, %d bytes of %d)", err, len(onDisk), len(data))
	}
}

// TestOpenSSHHardlinkDf: OpenSSH's "ln" makes a hard link (one file,
// two names); "ln -s" stays refused; "df" reports the backend's space.
func TestOpenSSHHardlinkDf(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	data := randomFile(t, filepath.Join(f.dir, "a"), 1000)
	r := f.sftpBatch(t, t.TempDir(), "alice", password, "", strings.Join([]string{
		"ln a b",
		"-ln -s a s",
		"-ln a b",
		"df",
	}, "\n"))
	if r.code != 0 {
		t.Fatalf("sftp: %v", r)
	}
	a, errA := os.Stat(filepath.Join(f.dir, "a"))
	b, errB := os.Stat(filepath.Join(f.dir, "b"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Fatalf("a and b are not one file: %v %v", errA, errB)
	}
	if got, _ := os.ReadFile(filepath.Join(f.dir, "b")); !bytes.Equal(got, data) {
		t.Error("b does not hold a's data")
	}
	if _, err := os.Lstat(filepath.Join(f.dir, "s")); !os.IsNotExist(err) {
		t.Errorf("ln -s made s: %v", err)
	}
	if !strings.Contains(r.out, "Avail") {
		t.Errorf("df printed no table:\n%s", r.out)
	}
}

// checkFile sends a check-file request and returns the algorithm and
// the hash bytes of the reply, or fails with its status.
func checkFile(t *testing.T, c *rawClient, kind, target, algos string, start, length uint64, block uint32) (string, []byte) {
	t.Helper()
	p := c.call(200, kind, target, algos, start, length, block)
	if p.typ != typExtendedReply {
		code, msg := p.status()
		t.Fatalf("%s %s: status %d %q", kind, algos, code, msg)
	}
	name, rest, err := cutString(p.body)
	if err != nil || string(name) != "check-file" {
		t.Fatalf("reply names %q (%v), want check-file", name, err)
	}
	algo, sums, err := cutString(rest)
	if err != nil {
		t.Fatal(err)
	}
	return string(algo), sums
}

// TestCheckFile: check-file-name and check-file-handle hash a range, or
// each block of it, with the first algorithm the client lists that the
// server has; errors come as statuses.
func TestCheckFile(t *testing.T) {
	t.Parallel()
	f, cfs, home := startCounting(t)
	data := randomFile(t, filepath.Join(home, "data.bin"), 1000)
	c := f.dialRaw(t)

	algo, sum := checkFile(t, c, "check-file-name", "/data.bin", "sha256", 0, 0, 0)
	if want := sha256.Sum256(data); algo != "sha256" || !bytes.Equal(sum, want[:]) {
		t.Errorf("sha256: %s %x, want %x", algo, sum, want)
	}
	algo, sum = checkFile(t, c, "check-file-name", "data.bin", "whirlpool,md5,sha1", 100, 500, 256)
	m1, m2 := md5.Sum(data[100:356]), md5.Sum(data[356:600])
	if want := append(m1[:], m2[:]...); algo != "md5" || !bytes.Equal(sum, want) {
		t.Errorf("md5 per 256-byte block of [100,600): %s %x, want %x", algo, sum, want)
	}
	algo, sum = checkFile(t, c, "check-file-name", "/data.bin", "crc32", 990, 100, 0)
	if want := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data[990:])); algo != "crc32" || !bytes.Equal(sum, want) {
		t.Errorf("crc32 of the last 10 bytes: %s %x, want %x", algo, sum, want)
	}
	for _, k := range []struct {
		name string
		sum  func([]byte) []byte
	}{
		{"sha1", func(b []byte) []byte { s := sha1.Sum(b); return s[:] }},
		{"sha224", func(b []byte) []byte { s := sha256.Sum224(b); return s[:] }},
		{"sha384", func(b []byte) []byte { s := sha512.Sum384(b); return s[:] }},
		{"sha512", func(b []byte) []byte { s := sha512.Sum512(b); return s[:] }},
	} {
		if algo, sum := checkFile(t, c, "check-file-name", "/data.bin", k.name, 0, 0, 0); algo != k.name || !bytes.Equal(sum, k.sum(data)) {
			t.Errorf("%s: %s %x", k.name, algo, sum)
		}
	}

	rh := c.call(3, "/data.bin", uint32(1), uint32(0)).handle(t)
	algo, sum = checkFile(t, c, "check-file-handle", rh, "sha512,sha256", 0, 0, 0)
	if want := sha512.Sum512(data); algo != "sha512" || !bytes.Equal(sum, want[:]) {
		t.Errorf("check-file-handle sha512: %s %x", algo, sum)
	}
	wh := c.call(3, "/new.bin", uint32(0x1a), uint32(0)).handle(t)

	for _, k := range []struct {
		kind, target, algos string
		start               uint64
		block               uint32
		code                uint32
	}{
		{"check-file-name", "/missing", "md5", 0, 0, 2},
		{"check-file-name", "/data.bin", "whirlpool", 0, 0, 8},
		{"check-file-name", "/data.bin", "md5", 0, 100, 4},
		{"check-file-name", "/data.bin", "md5", 1001, 0, 4},
		{"check-file-name", "/", "md5", 0, 0, 4},
		{"check-file-handle", wh, "md5", 0, 0, 3},
		{"check-file-handle", "nosuch", "md5", 0, 0, 4},
	} {
		p := c.call(200, k.kind, k.target, k.algos, k.start, uint64(0), k.block)
		if code, msg := p.status(); code != k.code {
			t.Errorf("%s %s %s start %d block %d: status %d %q, want %d", k.kind, k.target, k.algos, k.start, k.block, code, msg, k.code)
		}
	}
	// A malformed request is answered, and the session goes on.
	if code, _ := c.call(200, "check-file-name", "/data.bin").status(); code != 5 {
		t.Errorf("check-file without its fields: status %d, want bad message (5)", code)
	}

	// A hash runs beside the session's other requests: while one waits
	// on its file, a realpath is answered.
	release := cfs.hold("/data.bin")
	id := c.send(200, "check-file-name", "/data.bin", "sha256", uint64(0), uint64(0), uint32(0))
	if p := c.call(16, "/"); p.typ != typName {
		t.Fatalf("realpath during a hash: reply of type %d", p.typ)
	}
	release()
	if p := c.await(id)[id]; p.typ != typExtendedReply {
		t.Errorf("hash after its file was released: reply of type %d", p.typ)
	}
}

// TestCheckFileCancelled: a hash still waiting on its file when the
// client goes is cancelled with the session.
func TestCheckFileCancelled(t *testing.T) {
	t.Parallel()
	f, cfs, home := startCounting(t)
	randomFile(t, filepath.Join(home, "big.bin"), 1000)
	c := f.dialRaw(t)
	cfs.hold("/big.bin")
	c.send(200, "check-file-name", "/big.bin", "sha256", uint64(0), uint64(0), uint32(0))
	c.call(200, "limits@openssh.com") // the check-file was read
	c.conn.Close()
	waitFor(t, "the waiting hash to be cancelled", func() bool {
		cfs.mu.Lock()
		defer cfs.mu.Unlock()
		return cfs.cancelled == 1
	})
}

// TestOversizePacket: a packet longer than the server takes ends the
// session, as pkg/sftp does, without a reply; so does one of length 0.
func TestOversizePacket(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	for _, length := range []uint32{256<<10 + 1, 0} {
		c := f.dialRaw(t)
		if _, err := c.w.Write(binary.BigEndian.AppendUint32(nil, length)); err != nil {
			t.Fatal(err)
		}
		select {
		case p, ok := <-c.replies:
			if ok {
				t.Errorf("length %d: a reply of type %d, want the session closed", length, p.typ)
			}
		case <-time.After(time.Minute):
			t.Fatalf("length %d: the session is still open after a minute", length)
		}
	}
}

// TestClientSyncLink: pkg/sftp's client syncs an upload (File.Sync sends
// fsync@openssh.com) and makes a hard link.
func TestClientSyncLink(t *testing.T) {
	t.Parallel()
	f, cfs, home := startCounting(t)
	c := f.dial(t, "alice", ssh.Password(password))
	w, err := c.Create("/s.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatalf("File.Sync: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := cfs.syncsSeen(); len(got) != 1 || got[0] != 5 {
		t.Errorf("syncs with bytes written %v, want one at 5", got)
	}
	if err := c.Link("/s.bin", "/t.bin"); err != nil {
		t.Fatalf("Link: %v", err)
	}
	a, _ := os.Stat(filepath.Join(home, "s.bin"))
	b, err := os.Stat(filepath.Join(home, "t.bin"))
	if err != nil || !os.SameFile(a, b) {
		t.Errorf("t.bin is not s.bin: %v", err)
	}
}

// hasherFS is local disk whose ftpserver.Hasher knows a whole file's
// SHA-256 (as an object store's stored checksum) and nothing else.
type hasherFS struct {
	ftpserver.FileSystem
	sum []byte
}

func (h hasherFS) Hash(_ context.Context, name, algo string, start, end int64) ([]byte, error) {
	if algo != "SHA-256" || start != 0 {
		return nil, ftpserver.ErrNotSupported
	}
	return h.sum, nil
}

// TestCheckFileHasher: a backend's own checksum answers check-file when
// it covers the request; otherwise the server reads the file.
func TestCheckFileHasher(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	fsys, err := localfs.New(home)
	if err != nil {
		t.Fatal(err)
	}
	stored := bytes.Repeat([]byte{0xab}, 32) // not the content's: shows where it came from
	f := startFS(t, hasherFS{fsys, stored}, nil)
	data := randomFile(t, filepath.Join(home, "o.bin"), 5000)
	c := f.dialRaw(t)
	if algo, sum := checkFile(t, c, "check-file-name", "/o.bin", "sha256", 0, 0, 0); algo != "sha256" || !bytes.Equal(sum, stored) {
		t.Errorf("sha256 of a whole file: %s %x, want the backend's %x", algo, sum, stored)
	}
	want := md5.Sum(data)
	if algo, sum := checkFile(t, c, "check-file-name", "/o.bin", "md5", 0, 0, 0); algo != "md5" || !bytes.Equal(sum, want[:]) {
		t.Errorf("md5 the backend does not know: %s %x, want %x", algo, sum, want)
	}
}
