package ftpserver_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// withAccount serves "carol"/"pw" as the account mutate describes, over
// the test server's tree.
func withAccount(mutate func(*ftpserver.Account)) func(*ftpserver.Server) {
	return func(s *ftpserver.Server) {
		next := s.Auth
		s.Auth = ftpserver.AuthFunc(func(ctx context.Context, c ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "carol" && pass == "pw" {
				a, err := next.Authenticate(ctx, c, "alice", "secret")
				if err != nil {
					return nil, err
				}
				a.User = "carol"
				mutate(a)
				return a, nil
			}
			return next.Authenticate(ctx, c, user, pass)
		})
	}
}

func loginCarol(t *testing.T, ts *testServer, from string) *client {
	t.Helper()
	c := ts.dialFrom(t, from)
	c.loginAs("carol", "pw")
	return c
}

func TestParsePathPerm(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/=list,download":           "/=list,download",
		"/in = Upload , mkdir":      "/in=upload,mkdir",
		"/x=all":                    "/x=list,download,upload,overwrite,delete,rename,mkdir,rmdir,chmod",
		"/x=*":                      "/x=list,download,upload,overwrite,delete,rename,mkdir,rmdir,chmod",
		"/x=none":                   "/x=none",
		"/a/b=rename,delete,chmod,": "",
		"in=list":                   "",
		"/a/../b=list":              "",
		"/a/=list":                  "",
		"/a":                        "",
		"/a=read":                   "",
	} {
		pp, err := ftpserver.ParsePathPerm(in)
		switch {
		case want == "" && err == nil:
			t.Errorf("ParsePathPerm(%q) = %v, want an error", in, pp)
		case want != "" && err != nil:
			t.Errorf("ParsePathPerm(%q): %v", in, err)
		case want != "" && pp.String() != want:
			t.Errorf("ParsePathPerm(%q) = %s, want %s", in, pp, want)
		}
	}
}

// The longest matching rule wins; each refusal is a 550 naming the
// permission missing; what a rule grants works.
func TestPathPermissions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withAccount(func(a *ftpserver.Account) {
		a.Write = false
		a.Perms = []ftpserver.PathPerm{
			{Path: "/", Perm: ftpserver.PermList},
			{Path: "/pub", Perm: ftpserver.PermRead},
			{Path: "/drop", Perm: ftpserver.PermList | ftpserver.PermUpload | ftpserver.PermMkdir},
			{Path: "/drop/mine", Perm: ftpserver.PermAll},
		}
	}))
	for name, data := range map[string]string{"/top": "t", "/pub/f": "p", "/drop/old": "o"} {
		if err := ts.fs.WriteFile(name, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	c := loginCarol(t, ts, "")
	refused := func(perm, format string, args ...any) {
		t.Helper()
		msg := c.cmd(550, format, args...)
		if !strings.Contains(msg, "no "+perm+" permission") {
			t.Errorf("%s: %q does not name the %s permission", fmt.Sprintf(format, args...), msg, perm)
		}
	}
	c.listing("NLST /")
	refused("download", "RETR /top")
	if got := string(c.retr("/pub/f")); got != "p" {
		t.Errorf("RETR /pub/f = %q", got)
	}
	refused("upload", "STOR /pub/new")
	refused("delete", "DELE /pub/f")
	refused("rename", "RNFR /pub/f")
	refused("mkdir", "MKD /pub/d")
	refused("chmod", "MFMT 20200101000000 /pub/f")
	refused("download", "XMD5 /top")

	c.stor("STOR", "/drop/new", []byte("n"))
	refused("overwrite", "STOR /drop/old")
	refused("overwrite", "APPE /drop/old")
	refused("delete", "DELE /drop/old")
	refused("download", "RETR /drop/old")
	c.cmd(257, "MKD /drop/mine")
	c.stor("STOR", "/drop/mine/f", []byte("1"))
	c.stor("STOR", "/drop/mine/f", []byte("2")) // overwrite granted here
	c.cmd(350, "RNFR /drop/mine/f")
	c.cmd(250, "RNTO /drop/mine/g")
	c.cmd(350, "RNFR /drop/mine/g")
	refused("rename", "RNTO /drop/g") // the target's rule counts too
	c.cmd(250, "DELE /drop/mine/g")

	// MLSx shows what each entry allows.
	lines := c.listing("MLSD /drop")
	facts := map[string]string{}
	for _, l := range lines {
		f, name, _ := strings.Cut(l, " ")
		for kv := range strings.SplitSeq(f, ";") {
			if v, ok := strings.CutPrefix(strings.ToLower(kv), "perm="); ok {
				facts[name] = v
			}
		}
	}
	if facts["old"] != "" || facts["mine"] != "elcmdfp" {
		t.Errorf("perm facts %v, want old=\"\" and mine=elcmdfp", facts)
	}
}

// An account allowed from some addresses only gets the answer of a wrong
// password anywhere else.
func TestAllowFrom(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withAccount(func(a *ftpserver.Account) {
		a.AllowFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	}))
	c := ts.dialFrom(t, "127.0.0.1")
	c.cmd(331, "USER carol")
	if msg := c.cmd(530, "PASS pw"); msg != "Login incorrect." {
		t.Errorf("refused login says %q", msg)
	}
	loginCarol(t, ts, "127.0.0.2")
}

// MaxSessions counts logged-in sessions of one account across
// addresses; a session that ends or logs out gives its place back.
func TestAccountMaxSessions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withAccount(func(a *ftpserver.Account) { a.MaxSessions = 2 }))
	first := loginCarol(t, ts, "127.0.0.1")
	second := loginCarol(t, ts, "127.0.0.3")
	third := ts.dial(t)
	third.cmd(331, "USER carol")
	if msg := third.cmd(530, "PASS pw"); !strings.Contains(msg, "Too many sessions") {
		t.Errorf("third login: %q", msg)
	}
	ts.login(t) // other accounts are not limited
	second.cmd(220, "REIN")
	third.loginAs("carol", "pw")
	first.conn.Close()
	waitUntil(t, func() string {
		c := ts.dial(t)
		defer c.conn.Close()
		c.cmd(331, "USER carol")
		c.send("PASS pw")
		if code, msg := c.read(); code != 230 {
			return fmt.Sprintf("login after a session ended: %d %q", code, msg)
		}
		return ""
	})
}

// countingLimiter records what a transfer asks of it; block makes every
// wait last until its context is done.
type countingLimiter struct {
	burst   int
	block   bool
	bytes   atomic.Int64
	waiting chan struct{}
	once    sync.Once
}

func (l *countingLimiter) Burst() int { return l.burst }

func (l *countingLimiter) WaitN(ctx context.Context, n int) error {
	if n > l.burst {
		return fmt.Errorf("WaitN(%d) beyond burst %d", n, l.burst)
	}
	l.bytes.Add(int64(n))
	if l.block {
		l.once.Do(func() { close(l.waiting) })
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// Every byte of an account's downloads and uploads, in all its sessions,
// passes its shared limiters, in steps no larger than their burst.
func TestRateLimitersPaceEveryByte(t *testing.T) {
	t.Parallel()
	down := &countingLimiter{burst: 10000}
	up := &countingLimiter{burst: 7000}
	ts := startServer(t, withAccount(func(a *ftpserver.Account) {
		a.DownloadLimit, a.UploadLimit = down, up
	}))
	data := make([]byte, 300_001)
	if err := ts.fs.WriteFile("/f", data); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 2 {
		c := loginCarol(t, ts, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.cmd(200, "TYPE I")
			if got := c.retr("/f"); len(got) != len(data) {
				t.Errorf("RETR: %d bytes", len(got))
			}
			c.stor("STOR", fmt.Sprintf("/up%d", i), data[:123_456])
		}()
	}
	wg.Wait()
	if got, want := down.bytes.Load(), int64(2*len(data)); got != want {
		t.Errorf("download limiter paced %d bytes, want %d", got, want)
	}
	if got, want := up.bytes.Load(), int64(2*123_456); got != want {
		t.Errorf("upload limiter paced %d bytes, want %d", got, want)
	}
}

// ABOR interrupts a transfer waiting for its limiter.
func TestAbortWhileRateLimited(t *testing.T) {
	t.Parallel()
	lim := &countingLimiter{burst: 4096, block: true, waiting: make(chan struct{})}
	ts := startServer(t, withAccount(func(a *ftpserver.Account) { a.DownloadLimit = lim }))
	if err := ts.fs.WriteFile("/f", make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	c := loginCarol(t, ts, "")
	data := c.transfer("RETR /f")
	<-lim.waiting
	c.send("ABOR")
	c.expect(426)
	c.expect(226)
	n, _ := io.Copy(io.Discard, data)
	if n != 4096 {
		t.Errorf("%d bytes arrived before the limiter's first wait, want 4096", n)
	}
}
