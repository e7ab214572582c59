package sftpserver_test

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// rawClient speaks SFTP packets over an SSH "sftp" subsystem, for
// requests pkg/sftp's client does not send (check-file, limits) and for
// sending requests without waiting for their replies.
type rawClient struct {
	t       *testing.T
	conn    *ssh.Client
	w       io.WriteCloser
	mu      sync.Mutex
	next    uint32
	replies chan rawPacket
	stash   map[uint32]rawPacket // replies received before they were awaited
	version rawPacket
}

// rawPacket is one packet from the server: its type, id (0 for VERSION)
// and what follows the id.
type rawPacket struct {
	typ  byte
	id   uint32
	body []byte
}

const (
	typStatus        = 101
	typHandle        = 102
	typName          = 104
	typExtendedReply = 201
)

// dialRaw logs in as alice and starts SFTP, INIT and VERSION done.
func (f *fixture) dialRaw(t *testing.T) *rawClient {
	t.Helper()
	conn, err := ssh.Dial("tcp", f.addr, &ssh.ClientConfig{
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.Password(password)},
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
	w, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: conn, w: w, next: 1, replies: make(chan rawPacket, 256), stash: map[uint32]rawPacket{}}
	if _, err := w.Write([]byte{0, 0, 0, 5, 1, 0, 0, 0, 3}); err != nil { // INIT v3
		t.Fatal(err)
	}
	go func() {
		defer close(c.replies)
		for {
			var hdr [4]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return
			}
			b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(r, b); err != nil || len(b) < 5 {
				return
			}
			p := rawPacket{typ: b[0], body: b[1:]}
			if p.typ != 2 { // VERSION has no id
				p.id, p.body = binary.BigEndian.Uint32(b[1:]), b[5:]
			}
			c.replies <- p
		}
	}()
	c.version = c.recv()
	if c.version.typ != 2 {
		t.Fatalf("first reply of type %d, want VERSION", c.version.typ)
	}
	return c
}

// send sends a request of type typ whose fields (after the id) are
// fields, returning its id.
func (c *rawClient) send(typ byte, fields ...any) uint32 {
	c.t.Helper()
	c.mu.Lock()
	id := c.next
	c.next++
	c.mu.Unlock()
	b := []byte{0, 0, 0, 0, typ}
	b = binary.BigEndian.AppendUint32(b, id)
	for _, f := range fields {
		switch v := f.(type) {
		case string:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case []byte:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		default:
			c.t.Fatalf("field of type %T", f)
		}
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	if _, err := c.w.Write(b); err != nil {
		c.t.Fatal(err)
	}
	return id
}

// recv returns the next reply, failing the test after a minute.
func (c *rawClient) recv() rawPacket {
	c.t.Helper()
	select {
	case p, ok := <-c.replies:
		if !ok {
			c.t.Fatal("the server closed the session")
		}
		return p
	case <-time.After(time.Minute):
		c.t.Fatal("no reply from the server in a minute")
	}
	return rawPacket{}
}

// await collects replies until it has one for each id; others are kept
// for a later await.
func (c *rawClient) await(ids ...uint32) map[uint32]rawPacket {
	c.t.Helper()
	got := map[uint32]rawPacket{}
	for _, id := range ids {
		for {
			if p, ok := c.stash[id]; ok {
				delete(c.stash, id)
				got[id] = p
				break
			}
			p := c.recv()
			c.stash[p.id] = p
		}
	}
	return got
}

// call sends a request and waits for its reply.
func (c *rawClient) call(typ byte, fields ...any) rawPacket {
	c.t.Helper()
	id := c.send(typ, fields...)
	return c.await(id)[id]
}

// status is a STATUS reply's code and message.
func (p rawPacket) status() (uint32, string) {
	if p.typ != typStatus || len(p.body) < 8 {
		return 1 << 31, ""
	}
	code := binary.BigEndian.Uint32(p.body)
	msg, _, _ := cutString(p.body[4:])
	return code, string(msg)
}

// handle is a HANDLE reply's handle.
func (p rawPacket) handle(t *testing.T) string {
	t.Helper()
	if p.typ != typHandle {
		code, msg := p.status()
		t.Fatalf("reply of type %d (status %d %q), want HANDLE", p.typ, code, msg)
	}
	h, _, err := cutString(p.body)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func cutString(b []byte) (s, rest []byte, err error) {
	if len(b) < 4 || uint64(binary.BigEndian.Uint32(b)) > uint64(len(b)-4) {
		return nil, nil, errors.New("short string")
	}
	n := binary.BigEndian.Uint32(b)
	return b[4 : 4+n], b[4+n:], nil
}

// extensions is the VERSION reply's extension pairs.
func (c *rawClient) extensions(t *testing.T) map[string]string {
	t.Helper()
	exts := map[string]string{}
	b := c.version.body[4:]
	for len(b) > 0 {
		name, rest, err := cutString(b)
		if err != nil {
			t.Fatalf("VERSION: %v", err)
		}
		data, rest, err := cutString(rest)
		if err != nil {
			t.Fatalf("VERSION: %v", err)
		}
		exts[string(name)] = string(data)
		b = rest
	}
	return exts
}
