package ftpserver_test

import (
	"fmt"
	"io"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// testClock is a Defender clock that tests move forward by hand.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// banRecorder collects the bans OnBan reports.
type banRecorder struct {
	mu   sync.Mutex
	bans []ftpserver.Ban
}

func (r *banRecorder) onBan(b ftpserver.Ban) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bans = append(r.bans, b)
}

func (r *banRecorder) list() []ftpserver.Ban {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ftpserver.Ban(nil), r.bans...)
}

// withDefender gives the server d.
func withDefender(d *ftpserver.Defender) func(*ftpserver.Server) {
	return func(s *ftpserver.Server) { s.Defender = d }
}

// failLogin sends a wrong password for alice and expects want: 530, or
// 421 when the failure bans the address.
func (c *client) failLogin(want int) string {
	c.t.Helper()
	c.cmd(331, "USER alice")
	return c.cmd(want, "PASS wrong")
}

// expectBanned reads a 421 naming the ban and then the connection's end.
func (c *client) expectBanned() {
	c.t.Helper()
	if msg := c.expect(421); !strings.Contains(msg, "Too many failures") {
		c.t.Fatalf("421 %q does not say why", msg)
	}
	expectSilentClose(c.t, c.conn)
}

// dialRefused connects from ip and expects a 421 ban refusal and a close
// instead of the greeting.
func (ts *testServer) dialRefused(t *testing.T, ip string) {
	t.Helper()
	conn := ts.rawDial(t, ip)
	c := &client{t: t, conn: conn, tp: textproto.NewConn(conn)}
	c.expectBanned()
}

func banOf(t *testing.T, d *ftpserver.Defender, prefix string) ftpserver.Ban {
	t.Helper()
	want := netip.MustParsePrefix(prefix)
	for _, b := range d.Bans() {
		if b.Addr == want {
			return b
		}
	}
	t.Fatalf("no ban of %s in %v", prefix, d.Bans())
	return ftpserver.Ban{}
}

// TestDefenderBansFailedLogins: past MaxFailures failed logins the
// address is banned; its session and new connections get 421 and are
// closed, another address is not affected, the ban is listed and
// reported once.
func TestDefenderBansFailedLogins(t *testing.T) {
	t.Parallel()
	var rec banRecorder
	d := &ftpserver.Defender{MaxFailures: 3, OnBan: rec.onBan}
	ts := startServer(t, withDefender(d))

	guesser := ts.dialFrom(t, "127.0.0.2")
	for range 3 {
		guesser.failLogin(530)
	}
	before := time.Now()
	guesser.cmd(331, "USER alice")
	guesser.send("PASS wrong")
	guesser.expectBanned()

	ts.dialRefused(t, "127.0.0.2")
	other := ts.dialFrom(t, "127.0.0.3")
	other.loginAs("alice", "secret")

	b := banOf(t, d, "127.0.0.2/32")
	if b.Count != 1 || b.Until.Before(before.Add(ftpserver.DefaultDefenderBan-time.Second)) || b.Until.After(time.Now().Add(ftpserver.DefaultDefenderBan)) {
		t.Fatalf("ban %+v, want count 1 for about %v", b, ftpserver.DefaultDefenderBan)
	}
	if got := d.Bans(); len(got) != 1 {
		t.Fatalf("bans %v, want only 127.0.0.2", got)
	}
	if got := rec.list(); len(got) != 1 || got[0] != b {
		t.Fatalf("OnBan saw %v, want [%v]", got, b)
	}
}

// TestDefenderDefaults: with the defaults, a user who mistypes a
// password a few times and then gets it right is not banned, and a
// guesser is banned at its eleventh failure within the window.
func TestDefenderDefaults(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{}
	ts := startServer(t, withDefender(d))
	for range 3 {
		c := ts.dialFrom(t, "127.0.0.2")
		c.failLogin(530)
		c.failLogin(530)
		c.failLogin(530)
		c.loginAs("alice", "secret")
	}
	if bans := d.Bans(); len(bans) != 0 {
		t.Fatalf("bans %v after 9 typos in 3 sessions, want none", bans)
	}
	c := ts.dialFrom(t, "127.0.0.2")
	c.failLogin(530) // the tenth
	c.cmd(331, "USER alice")
	c.send("PASS wrong")
	c.expectBanned()
	if b := banOf(t, d, "127.0.0.2/32"); b.Count != 1 {
		t.Fatalf("ban %+v, want a first ban", b)
	}
}

// TestDefenderAllowList: an allowed address is never banned.
func TestDefenderAllowList(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{MaxFailures: 1, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/31")}}
	ts := startServer(t, withDefender(d))
	c := ts.dialFrom(t, "127.0.0.3")
	for range 5 {
		c.failLogin(530)
	}
	ts.dialFrom(t, "127.0.0.3").cmd(331, "USER alice")
	if bans := d.Bans(); len(bans) != 0 {
		t.Fatalf("bans %v, want none for an allowed address", bans)
	}
}

// TestDefenderBanExpiresAndDoubles: a ban ends after Ban; a repeat
// offender's next ban lasts twice as long, up to MaxBan.
func TestDefenderBanExpiresAndDoubles(t *testing.T) {
	t.Parallel()
	var clock testClock
	d := &ftpserver.Defender{MaxFailures: 1, Ban: time.Minute, MaxBan: 3 * time.Minute}
	d.SetClock(clock.now)
	ts := startServer(t, withDefender(d))

	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		c := ts.dialFrom(t, "127.0.0.2")
		c.failLogin(530)
		c.cmd(331, "USER alice")
		c.send("PASS wrong")
		c.expectBanned()
		b := banOf(t, d, "127.0.0.2/32")
		if left := b.Until.Sub(clock.now()); b.Count != i+1 || left > want || left < want-10*time.Second {
			t.Fatalf("ban %d: %+v, %v left; want count %d, %v", i+1, b, left, i+1, want)
		}
		clock.advance(want - 5*time.Second)
		ts.dialRefused(t, "127.0.0.2")
		clock.advance(10 * time.Second)
		if bans := d.Bans(); len(bans) != 0 {
			t.Fatalf("ban %d still listed after its end: %v", i+1, bans)
		}
	}
	ts.dialFrom(t, "127.0.0.2").cmd(331, "USER alice")
}

// TestDefenderScoreWindow: failures further apart than Window do not
// add up to a ban.
func TestDefenderScoreWindow(t *testing.T) {
	t.Parallel()
	var clock testClock
	d := &ftpserver.Defender{MaxFailures: 2, Window: time.Minute}
	d.SetClock(clock.now)
	ts := startServer(t, withDefender(d))
	c := ts.dialFrom(t, "127.0.0.2")
	for range 4 {
		c.failLogin(530)
		c.failLogin(530)
		clock.advance(time.Minute)
	}
	c.failLogin(530)
	c.failLogin(530)
	c.cmd(331, "USER alice")
	c.send("PASS wrong")
	c.expectBanned()
}

// TestDefenderUnban: Unban lifts a ban at once.
func TestDefenderUnban(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{MaxFailures: 1}
	ts := startServer(t, withDefender(d))
	c := ts.dialFrom(t, "127.0.0.2")
	c.failLogin(530)
	c.cmd(331, "USER alice")
	c.send("PASS wrong")
	c.expectBanned()
	ts.dialRefused(t, "127.0.0.2")

	if d.Unban(netip.MustParsePrefix("127.0.0.3/32")) {
		t.Fatal("Unban of an address never banned reported true")
	}
	if !d.Unban(netip.MustParsePrefix("127.0.0.2/32")) {
		t.Fatal("Unban of a banned address reported false")
	}
	if bans := d.Bans(); len(bans) != 0 {
		t.Fatalf("bans %v after Unban", bans)
	}
	c = ts.dialFrom(t, "127.0.0.2")
	c.loginAs("alice", "secret")
	if d.Unban(netip.MustParsePrefix("127.0.0.2/32")) {
		t.Fatal("second Unban reported true")
	}

	// A wider prefix lifts every ban inside it.
	for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		c := ts.dialFrom(t, ip)
		c.failLogin(530)
		c.cmd(331, "USER alice")
		c.send("PASS wrong")
		c.expectBanned()
	}
	if bans := d.Bans(); len(bans) != 2 {
		t.Fatalf("bans %v, want two", bans)
	}
	if !d.Unban(netip.MustParsePrefix("127.0.0.0/24")) || len(d.Bans()) != 0 {
		t.Fatalf("Unban of 127.0.0.0/24 left %v", d.Bans())
	}
	ts.dialFrom(t, "127.0.0.3").cmd(331, "USER alice")
}

// TestDefenderBadCommandFlood: rejected commands score too, at their
// weight: a flood of them bans the address before the bad-command limit
// would merely close the session.
func TestDefenderBadCommandFlood(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{MaxFailures: 2, BadCommandWeight: 0.25}
	ts := startServer(t, withDefender(d))
	c := ts.dialFrom(t, "127.0.0.2")
	for range 4 {
		c.cmd(500, "BOGUS")
	}
	for range 4 {
		c.cmd(530, "LIST") // before login
	}
	// The command is answered, then the ban ends the session.
	c.cmd(500, "BOGUS")
	c.expectBanned()
	banOf(t, d, "127.0.0.2/32")
}

// TestDefenderRefusedPort: PORT and EPRT naming another host score as
// refused data connections.
func TestDefenderRefusedPort(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{MaxFailures: 1, BadCommandWeight: -1}
	ts := startServer(t, withDefender(d))
	c := ts.dialFrom(t, "127.0.0.2")
	c.loginAs("alice", "secret")
	c.cmd(500, "PORT 127,0,0,3,200,1")
	c.send("EPRT |1|127.0.0.3|51201|")
	c.expectBanned()
	banOf(t, d, "127.0.0.2/32")
}

// TestDefenderForeignPassiveConnection: connections to a passive port
// from an address other than the client's score against that address,
// and its ban ends its live sessions; the client's transfer goes on.
func TestDefenderForeignPassiveConnection(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{MaxFailures: 1}
	ts := startServer(t, withDefender(d))
	ts.fs.WriteFile("/f", []byte("content"))
	thief := ts.dialFrom(t, "127.0.0.3")
	thief.loginAs("alice", "secret")

	c := ts.dialFrom(t, "127.0.0.2")
	c.loginAs("alice", "secret")
	epsv := c.cmd(229, "EPSV")
	foreign1 := c.dataFrom("127.0.0.3", epsv)
	foreign2 := c.dataFrom("127.0.0.3", epsv)
	c.send("RETR f")
	// The server accepts and refuses the foreign connections before
	// the client's own, queued behind them.
	expectSilentClose(t, foreign1)
	expectSilentClose(t, foreign2)
	data := c.dataFrom("127.0.0.2", epsv)
	c.expect(150)
	got, err := io.ReadAll(data)
	if err != nil || string(got) != "content" {
		t.Fatalf("RETR got %q, %v", got, err)
	}
	c.expect(226)

	thief.expectBanned()
	banOf(t, d, "127.0.0.3/32")
	if bans := d.Bans(); len(bans) != 1 {
		t.Fatalf("bans %v, want only the thief's", bans)
	}
}

// TestDefenderEndsLiveSessions: when an address is banned, its other
// sessions, logged in or not, are told and closed.
func TestDefenderEndsLiveSessions(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{MaxFailures: 2}
	ts := startServer(t, withDefender(d))
	loggedIn := ts.dialFrom(t, "127.0.0.2")
	loggedIn.loginAs("alice", "secret")
	waiting := ts.dialFrom(t, "127.0.0.2")
	bystander := ts.dialFrom(t, "127.0.0.3")

	c := ts.dialFrom(t, "127.0.0.2")
	c.failLogin(530)
	c.failLogin(530)
	c.cmd(331, "USER alice")
	c.send("PASS wrong")
	c.expectBanned()
	loggedIn.expectBanned()
	waiting.expectBanned()
	bystander.loginAs("alice", "secret")
	waitUntil(t, func() string {
		if n := ts.srv.SessionCount(); n != 1 {
			return fmt.Sprintf("%d sessions, want the bystander's only", n)
		}
		return ""
	})
}

// TestDefenderBehindProxy: behind PROXY protocol the client's address
// is banned, not the balancer's, and an IPv6 client's whole /64.
func TestDefenderBehindProxy(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{MaxFailures: 1}
	ts := startServer(t, trustLoopback1(0), withDefender(d))
	dst := netip.MustParseAddrPort("198.51.100.1:21")
	src := netip.MustParseAddrPort("192.0.2.7:40000")
	src6 := netip.MustParseAddrPort("[2001:db8::1]:40000")
	dst6 := netip.MustParseAddrPort("[2001:db8:ff::1]:21")

	for _, header := range [][]byte{proxyV1(src, dst), proxyV2(src6, dst6, nil)} {
		c := ts.dialProxied(t, header)
		c.failLogin(530)
		c.cmd(331, "USER alice")
		c.send("PASS wrong")
		c.expectBanned()
	}
	banOf(t, d, "192.0.2.7/32")
	banOf(t, d, "2001:db8::/64")
	if bans := d.Bans(); len(bans) != 2 {
		t.Fatalf("bans %v, want the two clients only", bans)
	}

	for _, src := range []string{"192.0.2.7:40001", "[2001:db8::2]:40001"} {
		conn := ts.rawDial(t, "127.0.0.1")
		ap := netip.MustParseAddrPort(src)
		to := dst
		if ap.Addr().Is6() {
			to = dst6
		}
		if _, err := conn.Write(proxyV1(ap, to)); err != nil {
			t.Fatal(err)
		}
		(&client{t: t, conn: conn, tp: textproto.NewConn(conn)}).expectBanned()
	}
	for _, src := range []string{"192.0.2.8:40000", "[2001:db8:0:1::1]:40000"} {
		ap := netip.MustParseAddrPort(src)
		to := dst
		if ap.Addr().Is6() {
			to = dst6
		}
		c := ts.dialProxied(t, proxyV1(ap, to))
		c.loginAs("alice", "secret")
	}
	// The balancer itself is not banned: its own connections (health
	// checks) still get through.
	ts.dialProxied(t, proxyLocalV2).cmd(331, "USER alice")
}
