package sftpserver_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ftp/ferry/internal/testtool"
)

// TestOpenSSHPutLargeRequests: OpenSSH's sftp uploading with large write
// requests and many in flight (-B, -R: what it does by default with a
// server whose limits@openssh.com allows 255 KiB writes) stores the file
// byte-identical. pkg/sftp's workers hand such writes over out of order,
// further ahead of the stream than the server holds: a write ahead then
// waits for the stream to move rather than failing the upload.
func TestOpenSSHPutLargeRequests(t *testing.T) {
	t.Parallel()
	sftpPath := testtool.Need(t, "sftp")
	f := start(t, nil)
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 48<<20+123)
	argv := append([]string{sftpPath}, f.sshOptions()...)
	argv = append(argv, "-o", "PasswordAuthentication=no", "-o", "IdentitiesOnly=yes", "-i", f.keyFile,
		"-B", "261120", "-R", "128", "-P", f.port, "-b", "-", "alice@127.0.0.1")
	r := f.run(t, local, "", "put up.bin\n", argv)
	if r.code != 0 {
		t.Fatalf("sftp put failed: %v", r)
	}
	onDisk, err := os.ReadFile(filepath.Join(f.dir, "up.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("uploaded file differs (err %v, %d bytes of %d, first difference at %d)",
			err, len(onDisk), len(data), firstDiff(onDisk, data))
	}
}

// TestUploadWritesAheadWait: a client whose writes run more than 4 MiB
// ahead of the gap before them (23 writes of 255 KiB, then the one at
// offset 0, all sent before any reply is read: as pkg/sftp's workers can
// hand over an in-order client's writes) gets every write acknowledged
// and the file stored byte-identical: the writes past what the server
// holds wait for the gap instead of failing. 23 is what the server holds
// (16 writes) and what may wait (7: one of pkg/sftp's 8 workers never
// does, and takes the gap).
func TestUploadWritesAheadWait(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	const chunk, ahead = 261120, 23
	data := make([]byte, chunk*(ahead+1))
	rand.Read(data)

	raw := f.dialRaw(t)
	const pflags = uint32(0x02 | 0x08 | 0x10)                        // WRITE | CREAT | TRUNC
	handle := raw.call(3, "/ahead.bin", pflags, uint32(0)).handle(t) // SSH_FXP_OPEN, no attributes
	var ids []uint32
	for i := 1; i <= ahead; i++ {
		ids = append(ids, raw.send(6, handle, uint64(i*chunk), data[i*chunk:(i+1)*chunk])) // SSH_FXP_WRITE
	}
	ids = append(ids, raw.send(6, handle, uint64(0), data[:chunk]))
	replies := raw.await(ids...)
	for i, id := range ids {
		if code, msg := replies[id].status(); code != 0 {
			t.Errorf("write %d of %d: status %d %q, want 0 (OK)", i+1, len(ids), code, msg)
		}
	}
	if code, msg := raw.call(4, handle).status(); code != 0 { // SSH_FXP_CLOSE
		t.Fatalf("close: status %d %q, want 0 (OK)", code, msg)
	}
	onDisk, err := os.ReadFile(filepath.Join(f.dir, "ahead.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("uploaded file differs (err %v, %d bytes of %d, first difference at %d)",
			err, len(onDisk), len(data), firstDiff(onDisk, data))
	}
}
