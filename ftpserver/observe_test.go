package ftpserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu sync.Mutex
	recorded
}

type recorded struct {
	started   []ftpserver.SessionInfo
	ended     []ftpserver.SessionInfo
	logins    []ftpserver.LoginEvent
	replies   map[int]int
	transfers []ftpserver.TransferRecord
}

func (r *recorder) SessionStarted(i ftpserver.SessionInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, i)
}

func (r *recorder) SessionEnded(i ftpserver.SessionInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, i)
}

func (r *recorder) LoginAttempted(e ftpserver.LoginEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logins = append(r.logins, e)
}

func (r *recorder) Replied(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.replies == nil {
		r.replies = make(map[int]int)
	}
	r.replies[code]++
}

func (r *recorder) TransferEnded(rec ftpserver.TransferRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transfers = append(r.transfers, rec)
}

func (r *recorder) snapshot() recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := recorded{
		started:   slices.Clone(r.started),
		ended:     slices.Clone(r.ended),
		logins:    slices.Clone(r.logins),
		transfers: slices.Clone(r.transfers),
		replies:   make(map[int]int),
	}
	for k, v := range r.replies {
		c.replies[k] = v
	}
	return c
}

func TestObserverSeesSessionsLoginsRepliesAndTransfers(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	ts := startServer(t, func(s *ftpserver.Server) { s.Observer = ftpserver.MultiObserver(nil, rec) })

	c := ts.dial(t)
	c.cmd(331, "USER alice")
	c.cmd(530, "PASS wrong")
	c.loginAs("alice", "secret")
	c.stor("STOR", "f.txt", []byte("hello\n"))
	c.cmd(350, "REST 2")
	if got := string(c.retr("f.txt")); got != "llo\n" {
		t.Fatalf("RETR after REST 2: %q", got)
	}
	c.listing("LIST")
	c.cmd(221, "QUIT")

	a := ts.dial(t)
	a.loginAs("anonymous", "me@example.com")
	a.retr("f.txt")
	a.cmd(221, "QUIT")

	waitUntil(t, func() string {
		if got := len(rec.snapshot().ended); got != 2 {
			return fmt.Sprintf("%d sessions ended, want 2", got)
		}
		return ""
	})
	got := rec.snapshot()
	if len(got.started) != 2 || got.started[0].ID == got.started[1].ID {
		t.Fatalf("sessions started: %+v", got.started)
	}
	if !got.started[0].Remote.Addr().IsLoopback() || got.started[0].Remote.Port() == 0 {
		t.Errorf("remote address %v", got.started[0].Remote)
	}
	results := func() []string {
		var out []string
		for _, l := range got.logins {
			out = append(out, l.User+":"+string(l.Result))
		}
		return out
	}()
	if want := []string{"alice:failed", "alice:ok", "anonymous:ok"}; !slices.Equal(results, want) {
		t.Errorf("logins %v, want %v", results, want)
	}
	if !got.logins[2].Anonymous {
		t.Error("anonymous login not marked")
	}
	if got.replies[530] != 1 || got.replies[230] != 2 || got.replies[226] != 4 || got.replies[220] != 2 || got.replies[221] != 2 {
		t.Errorf("reply counts %v", got.replies)
	}
	if len(got.transfers) != 4 {
		t.Fatalf("%d transfers recorded: %+v", len(got.transfers), got.transfers)
	}
	stor, retr, list, anon := got.transfers[0], got.transfers[1], got.transfers[2], got.transfers[3]
	if stor.Verb != "STOR" || stor.Direction != ftpserver.Upload || stor.Path != "/f.txt" || stor.Bytes != 6 ||
		stor.Result != ftpserver.TransferOK || stor.User != "alice" || stor.Err != nil {
		t.Errorf("STOR record %+v", stor)
	}
	if retr.Direction != ftpserver.Download || retr.Bytes != 4 || retr.Offset != 2 {
		t.Errorf("RETR record %+v", retr)
	}
	if list.Direction != ftpserver.Listing || list.Bytes == 0 {
		t.Errorf("LIST record %+v", list)
	}
	if !anon.Anonymous || anon.AnonymousID != "me@example.com" || anon.User != "anonymous" {
		t.Errorf("anonymous RETR record %+v", anon)
	}
	if got.ended[0].User == "" && got.ended[1].User == "" {
		t.Errorf("ended sessions lost their user: %+v", got.ended)
	}
}

// A download the client stops reading shows in Sessions with its
// progress; Disconnect sends 421, closes the session and aborts the
// transfer, and a second Disconnect of the ID finds nothing.
func TestSessionsAndDisconnect(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	ts := startServer(t, func(s *ftpserver.Server) { s.Observer = rec })
	if err := ts.fs.WriteFile("/big", make([]byte, 64<<20)); err != nil {
		t.Fatal(err)
	}
	c := ts.login(t)
	c.cmd(200, "TYPE I")
	data := c.transfer("RETR /big")
	if _, err := io.ReadFull(data, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	// The client stops reading: the server blocks writing.

	var id string
	waitUntil(t, func() string {
		list := ts.srv.Sessions()
		if len(list) != 1 {
			return fmt.Sprintf("%d sessions listed", len(list))
		}
		s := list[0]
		id = s.ID
		if s.User != "alice" || s.Anonymous || s.TLS || !strings.HasPrefix(s.Command, "RETR /big") {
			return fmt.Sprintf("session %+v", s)
		}
		if s.Transfer == nil || s.Transfer.Verb != "RETR" || s.Transfer.Path != "/big" || s.Transfer.Size != 64<<20 || s.Transfer.Bytes < 1<<20 {
			return fmt.Sprintf("transfer %+v", s.Transfer)
		}
		return ""
	})

	if err := ts.srv.Disconnect(id, ""); err != nil {
		t.Fatal(err)
	}
	code, msg := c.read()
	if code != 421 || !strings.Contains(msg, "administrator") {
		t.Fatalf("after Disconnect: %d %q", code, msg)
	}
	expectClosed(t, c.conn)
	waitUntil(t, func() string {
		if n := ts.srv.SessionCount(); n != 0 {
			return fmt.Sprintf("%d sessions left", n)
		}
		return ""
	})
	if err := ts.srv.Disconnect(id, ""); !errors.Is(err, ftpserver.ErrNoSuchSession) {
		t.Errorf("second Disconnect: %v", err)
	}
	got := rec.snapshot()
	if len(got.transfers) != 1 || got.transfers[0].Result != ftpserver.TransferAborted {
		t.Errorf("transfers %+v", got.transfers)
	}
}

// A client that does not read its replies cannot hold Disconnect: the
// session is closed all the same, the 421 given up.
func TestDisconnectClientNotReadingReplies(t *testing.T) {
	ts, conn := stallServer(t)
	list := ts.srv.Sessions()
	if len(list) != 1 {
		t.Fatalf("%d sessions", len(list))
	}
	done := start(func() error { return ts.srv.Disconnect(list[0].ID, "") })
	if err := within(t, done, time.Second); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, conn)
}

// stalledFS serves "/stalled", whose reads block until the context of its
// Open is done, as a stalled object store's GET does.
type stalledFS struct {
	ftpserver.FileSystem
	reading chan struct{}
}

type stalledReader struct {
	ctx     context.Context
	reading chan struct{}
}

func (r stalledReader) Read([]byte) (int, error) {
	close(r.reading)
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

func (stalledReader) Close() error { return nil }

func (f stalledFS) Open(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if name == "/stalled" {
		return stalledReader{ctx: ctx, reading: f.reading}, nil
	}
	return f.FileSystem.Open(ctx, name, offset)
}

func (f stalledFS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if name == "/stalled" {
		return f.FileSystem.Stat(ctx, "/f")
	}
	return f.FileSystem.Stat(ctx, name)
}

// A session whose download is blocked in the storage ends when it is
// disconnected: the storage call is cancelled rather than waited for.
func TestDisconnectDuringStalledStorageRead(t *testing.T) {
	t.Parallel()
	reading := make(chan struct{})
	ts := startServer(t, func(s *ftpserver.Server) {
		next := s.Auth
		s.Auth = ftpserver.AuthFunc(func(ctx context.Context, c ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			a, err := next.Authenticate(ctx, c, user, pass)
			if err == nil {
				a.FS = stalledFS{FileSystem: a.FS, reading: reading}
			}
			return a, err
		})
	})
	ts.fs.WriteFile("/f", []byte("data"))
	c := ts.login(t)
	c.pasv()
	c.cmd(150, "RETR /stalled")
	<-reading
	list := ts.srv.Sessions()
	if len(list) != 1 {
		t.Fatalf("%d sessions", len(list))
	}
	if err := ts.srv.Disconnect(list[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	waitSessions(t, ts)
}
