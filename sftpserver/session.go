package sftpserver

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// session serves one "session" channel: its "subsystem sftp" request
// starts SFTP; every other request (exec, shell, pty-req, env,
// x11-req, auth-agent-req, a second subsystem) is refused.
func (c *conn) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	start := make(chan bool, 1) // true: serve SFTP; false: the channel ended first
	done := make(chan struct{})
	go func() {
		defer close(done)
		if <-start {
			c.serveSFTP(ch)
		}
	}()
	serving := false
	for {
		select {
		case r, ok := <-reqs:
			if !ok {
				if !serving {
					start <- false
				}
				<-done
				return
			}
			if !serving && r.Type == "subsystem" && subsystemName(r.Payload) == "sftp" {
				serving = true
				r.Reply(true, nil)
				start <- true
				continue
			}
			if r.Type != "subsystem" {
				c.log.Info("request refused", "type", r.Type)
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		case <-done:
			if serving {
				// OpenSSH's sftp waits for the channel to close; an exit
				// status first tells it the subsystem ended cleanly.
				ch.SendRequest("exit-status", false, []byte{0, 0, 0, 0})
			}
			return
		}
	}
}

// subsystemName is the name in a "subsystem" request's payload (one SSH
// string), "" when malformed.
func subsystemName(payload []byte) string {
	if len(payload) < 4 {
		return ""
	}
	n := binary.BigEndian.Uint32(payload)
	if uint64(n) != uint64(len(payload)-4) {
		return ""
	}
	return string(payload[4:])
}

// serveSFTP runs pkg/sftp's request server over ch with handlers on the
// account's FileSystem, behind the filter that serves the extensions
// pkg/sftp does not (fsync, limits, check-file; see filter.go, ext.go).
// The extensions still running when the session ends are cancelled and
// waited for.
func (c *conn) serveSFTP(ch ssh.Channel) {
	h := &handlers{c: c, acct: c.acct}
	ext := newExtensions(h)
	f := newFilter(&trackedChannel{ch, c}, ext)
	files := openTracker{h, f}
	rs := sftp.NewRequestServer(readWriteCloser{f, ch}, sftp.Handlers{FileGet: files, FilePut: files, FileCmd: h, FileList: h},
		sftp.WithRSMaxTxPacket(maxReadLength))
	err := rs.Serve()
	rs.Close()
	f.end()
	ext.stop()
	if err != nil && !errors.Is(err, io.EOF) && c.ctx.Err() == nil {
		c.log.Debug("sftp ended", "err", err)
	}
}

// readWriteCloser is the filter over a channel, as pkg/sftp takes it.
type readWriteCloser struct {
	*filter
	io.Closer
}

// trackedChannel notes the order of a session's reads and writes, so
// that Shutdown can tell a connection whose last request is answered
// (idle) from one whose request is still being served.
type trackedChannel struct {
	ssh.Channel
	c *conn
}

func (t *trackedChannel) Read(p []byte) (int, error) {
	n, err := t.Channel.Read(p)
	if n > 0 {
		t.c.lastRead.Store(t.c.ioSeq.Add(1))
	}
	return n, err
}

func (t *trackedChannel) Write(p []byte) (int, error) {
	n, err := t.Channel.Write(p)
	t.c.lastWrite.Store(t.c.ioSeq.Add(1))
	return n, err
}

// idle reports whether the connection holds no file open and has
// answered what it last read: Shutdown may close it without cutting a
// transfer or a reply.
func (c *conn) idle() bool {
	return c.openFiles.Load() == 0 && c.lastWrite.Load() >= c.lastRead.Load()
}
