package sftpserver_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// TestClientConcurrentRoundTrip: pkg/sftp's client with concurrent
// writes and reads (requests in flight out of order) moves a file both
// ways byte-identical; 256 MiB unless -short.
func TestClientConcurrentRoundTrip(t *testing.T) {
	t.Parallel()
	size := 5<<20 + 123
	if !testing.Short() {
		size = 256 << 20
	}
	f := start(t, nil)
	c := f.dial(t, "alice", ssh.Password(password),
		sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true), sftp.MaxConcurrentRequestsPerFile(64))
	data := make([]byte, size)
	rand.Read(data)
	w, err := c.Create("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(f.dir, "big.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("upload differs: %d of %d bytes, first difference at %d (%v)", len(onDisk), len(data), firstDiff(onDisk, data), err)
	}
	r, err := c.Open("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := r.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("download differs: %d of %d bytes, first difference at %d", got.Len(), len(data), firstDiff(got.Bytes(), data))
	}
}

// TestClientStatusCodes: errors reach the client as SFTP status codes
// with messages of the server's own, never a host path.
func TestClientStatusCodes(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t, "alice", ssh.Password(password))
	if err := c.Mkdir("/d"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "d", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := c.Stat("/missing")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat of a missing file: %v, want not-exist", err)
	}
	err = c.RemoveDirectory("/d")
	var se *sftp.StatusError
	if !errors.As(err, &se) || se.FxCode() != sftp.ErrSSHFxFailure || !bytes.Contains([]byte(err.Error()), []byte("Directory not empty")) {
		t.Errorf("rmdir of a full directory: %v", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte(f.dir)) {
		t.Errorf("the host path reached the client: %v", err)
	}
	// SFTP v3 rename never replaces; posix-rename does.
	if err := os.WriteFile(filepath.Join(f.dir, "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "b"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("/a", "/b"); err == nil {
		t.Error("rename over an existing file succeeded")
	}
	if err := c.PosixRename("/a", "/b"); err != nil {
		t.Errorf("posix-rename: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "b")); string(b) != "a" {
		t.Errorf("after posix-rename b holds %q", b)
	}
	// statvfs from the backend's free space.
	vfs, err := c.StatVFS("/")
	if err != nil || vfs.Bavail == 0 || vfs.Frsize != 4096 {
		t.Errorf("statvfs: %+v, %v", vfs, err)
	}
	// Hard links where the backend has them (localfs); no symlinks
	// anywhere.
	if err := c.Link("/b", "/c"); err != nil {
		t.Errorf("hardlink: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "c")); string(b) != "a" {
		t.Errorf("after hardlink c holds %q", b)
	}
	if err := c.Symlink("/b", "/s"); err == nil {
		t.Error("symlink succeeded")
	}
}

// TestClientCutUpload: a connection lost mid-upload aborts it as FTP's
// interrupted upload: the default atomic-resume mode publishes what
// arrived, and the transfer is reported aborted.
func TestClientCutUpload(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t, "alice", ssh.Password(password))
	w, err := c.Create("/cut.bin")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	rand.Read(data)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	c.Close() // without closing the file
	rec := f.records(t, 1)[0]
	if rec.Result != ftpserver.TransferAborted || rec.Bytes != int64(len(data)) {
		t.Errorf("record of a cut upload: %+v", rec)
	}
	got, err := os.ReadFile(filepath.Join(f.dir, "cut.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("atomic-resume left %d bytes (%v), want the %d that arrived", len(got), err, len(data))
	}
}

// TestClientResumeWritesOutOfOrder: a client resuming an upload opens
// the file without truncation and writes from its end; a later write
// that reaches the server first (pkg/sftp's workers hand requests over
// in any order) must wait for the ones before it, not start the upload
// past them and then refuse them.
func TestClientResumeWritesOutOfOrder(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	head := bytes.Repeat([]byte("h"), 100<<10)
	if err := os.WriteFile(filepath.Join(f.dir, "part.bin"), head, 0o644); err != nil {
		t.Fatal(err)
	}
	c := f.dial(t, "alice", ssh.Password(password))
	w, err := c.OpenFile("/part.bin", os.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	first, second := bytes.Repeat([]byte("1"), 32<<10), bytes.Repeat([]byte("2"), 32<<10)
	end := int64(len(head))
	if _, err := w.WriteAt(second, end+int64(len(first))); err != nil {
		t.Fatalf("write ahead: %v", err)
	}
	if _, err := w.WriteAt(first, end); err != nil {
		t.Fatalf("write at the end, after one ahead of it: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte(nil), head...), first...), second...)
	got, err := os.ReadFile(filepath.Join(f.dir, "part.bin"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("resumed file: %d bytes, want %d, first difference at %d (%v)", len(got), len(want), firstDiff(got, want), err)
	}
}
