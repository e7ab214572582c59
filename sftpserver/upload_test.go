package sftpserver_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestOpenSSHPutLargeRequests: OpenSSH's sftp uploading with large write
// requests and many in flight (-B, -R: what it does by default with a
// server whose limits@openssh.com allows 255 KiB writes) stores the file
// byte-identical. pkg/sftp's workers hand such writes over out of order,
// further ahead of the stream than the server holds: a write ahead then
// waits for the stream to move rather than failing the upload.
func TestOpenSSHPutLargeRequests(t *testing.T) {
	t.Parallel()
	sftpPath := needTool(t, "sftp")
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

	raw := dialRawSFTP(t, f)
	handle := raw.open(t, "/ahead.bin")
	// The requests are written by one goroutine while this one reads
	// the replies, as a client with requests in flight does.
	ids := make(chan error, 1)
	go func() {
		var err error
		for i := 1; i <= ahead && err == nil; i++ {
			err = raw.write(uint32(100+i), handle, uint64(i*chunk), data[i*chunk:(i+1)*chunk])
		}
		if err == nil {
			err = raw.write(100, handle, 0, data[:chunk])
		}
		ids <- err
	}()
	for range ahead + 1 {
		id, code := raw.status(t)
		if code != 0 {
			t.Errorf("write %d: status %d, want 0 (OK)", id-100, code)
		}
	}
	if err := <-ids; err != nil {
		t.Fatal(err)
	}
	raw.send(t, 4, 999, sshString(handle)) // SSH_FXP_CLOSE
	if id, code := raw.status(t); id != 999 || code != 0 {
		t.Fatalf("close: id %d status %d, want 999 and 0 (OK)", id, code)
	}
	onDisk, err := os.ReadFile(filepath.Join(f.dir, "ahead.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("uploaded file differs (err %v, %d bytes of %d, first difference at %d)",
			err, len(onDisk), len(data), firstDiff(onDisk, data))
	}
}

// rawSFTP speaks SFTP v3 packets (draft-ietf-secsh-filexfer-02) over an
// SSH session channel, for requests in an order pkg/sftp's client would
// not send.
type rawSFTP struct {
	in  io.Writer
	out io.Reader
	mu  sync.Mutex // one packet written at a time
}

func dialRawSFTP(t *testing.T, f *fixture) *rawSFTP {
	t.Helper()
	conn, err := ssh.Dial("tcp", f.addr, &ssh.ClientConfig{
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(f.clientKey)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	r := &rawSFTP{in: in, out: out}
	r.send(t, 1, 3) // SSH_FXP_INIT, version 3 (in the id's place)
	if typ, _ := r.recv(t); typ != 2 {
		t.Fatalf("reply to INIT: type %d, want 2 (VERSION)", typ)
	}
	return r
}

func sshString(s []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(s))), s...)
}

// packet frames a request: length, type, id, then fields.
func (r *rawSFTP) packet(typ byte, id uint32, fields ...[]byte) error {
	body := binary.BigEndian.AppendUint32([]byte{typ}, id)
	for _, f := range fields {
		body = append(body, f...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.in.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...))
	return err
}

func (r *rawSFTP) send(t *testing.T, typ byte, id uint32, fields ...[]byte) {
	t.Helper()
	if err := r.packet(typ, id, fields...); err != nil {
		t.Fatal(err)
	}
}

func (r *rawSFTP) write(id uint32, handle []byte, off uint64, data []byte) error {
	return r.packet(6, id, sshString(handle), binary.BigEndian.AppendUint64(nil, off), sshString(data)) // SSH_FXP_WRITE
}

// recv reads one reply: its type and what follows the type.
func (r *rawSFTP) recv(t *testing.T) (byte, []byte) {
	t.Helper()
	var n uint32
	if err := binary.Read(r.out, binary.BigEndian, &n); err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	if n == 0 || n > 1<<20 {
		t.Fatalf("reply of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.out, b); err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	return b[0], b[1:]
}

// status reads an SSH_FXP_STATUS reply: its id and code.
func (r *rawSFTP) status(t *testing.T) (uint32, uint32) {
	t.Helper()
	typ, b := r.recv(t)
	if typ != 101 || len(b) < 8 {
		t.Fatalf("reply type %d (%d bytes), want 101 (STATUS)", typ, len(b))
	}
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
}

// open opens path for writing (created, truncated) and returns its handle.
func (r *rawSFTP) open(t *testing.T, path string) []byte {
	t.Helper()
	const pflags = 0x02 | 0x08 | 0x10                                                                     // WRITE | CREAT | TRUNC
	r.send(t, 3, 1, sshString([]byte(path)), binary.BigEndian.AppendUint32(nil, pflags), make([]byte, 4)) // SSH_FXP_OPEN, no attributes
	typ, b := r.recv(t)
	if typ != 102 || len(b) < 8 {
		t.Fatalf("reply to OPEN: type %d, want 102 (HANDLE)", typ)
	}
	n := binary.BigEndian.Uint32(b[4:])
	if int(n) > len(b)-8 {
		t.Fatalf("HANDLE reply with a handle of %d bytes in %d", n, len(b)-8)
	}
	return b[8 : 8+n]
}
