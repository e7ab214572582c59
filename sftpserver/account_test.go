package sftpserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/sftptest"
	"github.com/ferry-ftp/ferry/sftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// serveAccount serves acct (whatever the password) and returns a logged
// in pkg/sftp client with opts.
func serveAccount(t *testing.T, acct func() *ftpserver.Account, opts ...sftp.ClientOption) *sftp.Client {
	t.Helper()
	srv := &sftpserver.Server{
		Auth: ftpserver.AuthFunc(func(context.Context, ftpserver.ConnInfo, string, string) (*ftpserver.Account, error) {
			return acct(), nil
		}),
		HostKeys: []ssh.Signer{sftptest.NewSigner(t)},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	f := &fixture{addr: sftptest.Serve(t, srv)}
	return f.dial(t, "user", ssh.Password("x"), opts...)
}

// putMem stores data at name in fsys.
func putMem(t *testing.T, fsys *memfs.FS, name string, data []byte, mode fs.FileMode) {
	t.Helper()
	ctx := context.Background()
	w, err := fsys.Create(ctx, name, ftpserver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Chmod(ctx, name, mode); err != nil {
		t.Fatal(err)
	}
}

// TestStreamedDownload: a backend whose files are plain streams (memfs,
// like S3) serves concurrent reads that arrive out of order, and reads
// that jump back and forth, byte-identical.
func TestStreamedDownload(t *testing.T) {
	t.Parallel()
	fsys := memfs.New()
	data := make([]byte, 6<<20+321)
	rand.Read(data)
	putMem(t, fsys, "/f", data, 0o644)
	c := serveAccount(t, func() *ftpserver.Account { return &ftpserver.Account{User: "u", FS: fsys} },
		sftp.UseConcurrentReads(true), sftp.MaxConcurrentRequestsPerFile(64))
	r, err := c.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got bytes.Buffer
	if _, err := r.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("streamed download differs at %d (%d of %d bytes)", firstDiff(got.Bytes(), data), got.Len(), len(data))
	}
	for _, off := range []int64{5 << 20, 100, 6 << 20, 3, 1 << 20} {
		buf := make([]byte, 40_000)
		n, err := r.ReadAt(buf, off)
		want := data[off:min(off+int64(len(buf)), int64(len(data)))]
		if (err != nil && !errors.Is(err, io.EOF)) || !bytes.Equal(buf[:n], want) {
			t.Fatalf("ReadAt %d: %d bytes, %v; differ at %d", off, n, err, firstDiff(buf[:n], want))
		}
	}
}

// countingLimiter counts the bytes a transfer was paced for.
type countingLimiter struct {
	mu    sync.Mutex
	bytes int
}

func (l *countingLimiter) WaitN(_ context.Context, n int) error {
	l.mu.Lock()
	l.bytes += n
	l.mu.Unlock()
	return nil
}

func (l *countingLimiter) Burst() int { return 16 << 10 }

func (l *countingLimiter) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes
}

// TestRateLimits: every byte of an upload and a download goes through
// the account's limiters, in pieces no bigger than their burst.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	fsys := memfs.New()
	down, up := &countingLimiter{}, &countingLimiter{}
	c := serveAccount(t, func() *ftpserver.Account {
		return &ftpserver.Account{User: "u", FS: fsys, Write: true, DownloadLimit: down, UploadLimit: up}
	})
	data := make([]byte, 1<<20+7)
	rand.Read(data)
	w, err := c.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := c.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip: %v", err)
	}
	if up.total() != len(data) || down.total() != len(data) {
		t.Errorf("paced %d up and %d down, want %d each", up.total(), down.total(), len(data))
	}
}

// TestPermissions: Account.Perms and WorldReadableOnly are honoured as
// FTP honours them.
func TestPermissions(t *testing.T) {
	t.Parallel()
	fsys := memfs.New()
	if err := fsys.Mkdir(context.Background(), "/in"); err != nil {
		t.Fatal(err)
	}
	putMem(t, fsys, "/public", []byte("public"), 0o644)
	putMem(t, fsys, "/private", []byte("private"), 0o640)
	c := serveAccount(t, func() *ftpserver.Account {
		return &ftpserver.Account{User: "u", FS: fsys, WorldReadableOnly: true, Perms: []ftpserver.PathPerm{
			{Path: "/", Perm: ftpserver.PermRead},
			{Path: "/in", Perm: ftpserver.PermList | ftpserver.PermUpload},
		}}
	})
	if r, err := c.Open("/public"); err != nil {
		t.Errorf("world-readable file refused: %v", err)
	} else {
		r.Close()
	}
	if _, err := c.Open("/private"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("a file not world-readable: %v, want permission denied", err)
	}
	if _, err := c.Create("/new"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("upload where only list,download is allowed: %v", err)
	}
	w, err := c.Create("/in/new")
	if err != nil {
		t.Fatalf("upload into /in: %v", err)
	}
	w.Write([]byte("x"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// upload without overwrite: the file just made cannot be replaced.
	if _, err := c.Create("/in/new"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("overwrite without the permission: %v", err)
	}
	if err := c.Remove("/in/new"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("delete without the permission: %v", err)
	}
	if err := c.Mkdir("/in/d"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("mkdir without the permission: %v", err)
	}
}

// panicFS panics on Stat of "/boom".
type panicFS struct{ *memfs.FS }

func (p panicFS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if name == "/boom" {
		panic("backend bug")
	}
	return p.FS.Stat(ctx, name)
}

// TestHandlerPanic: a panic in a backend (on pkg/sftp's goroutines,
// which do not recover) fails the request and ends that connection,
// not the process; other connections go on.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	fsys := panicFS{memfs.New()}
	putMem(t, fsys.FS, "/ok", []byte("ok"), 0o644)
	srvAcct := func() *ftpserver.Account { return &ftpserver.Account{User: "u", FS: fsys} }
	c := serveAccount(t, srvAcct)
	if _, err := c.Stat("/boom"); err == nil {
		t.Fatal("stat of a panicking backend succeeded")
	}
	c2 := serveAccount(t, srvAcct)
	if fi, err := c2.Stat("/ok"); err != nil || fi.Size() != 2 {
		t.Fatalf("after a panic: %v, %v", fi, err)
	}
}
