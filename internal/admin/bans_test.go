package admin

import (
	"net"
	"net/textproto"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// failLogins makes n failed logins to addr from the local address from.
func failLogins(t *testing.T, addr, from string, n int) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := textproto.NewConn(conn)
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	for range n {
		c.PrintfLine("USER alice")
		if _, _, err := c.ReadResponse(331); err != nil {
			return // banned: 421 and closed
		}
		c.PrintfLine("PASS wrong")
		if _, _, err := c.ReadResponse(530); err != nil {
			return
		}
	}
}

// A password guesser's ban shows in /api/v1/bans and in the metrics, and
// DELETE lifts it: the address logs in again.
func TestBansAPIAndMetrics(t *testing.T) {
	t.Parallel()
	e := startEnvWith(t, func(s *ftpserver.Server) {
		s.Defender = &ftpserver.Defender{MaxFailures: 3}
	}, nil)
	if got := value(t, e.scrape(t, ""), "ferry_bans_total"); got != 0 {
		t.Fatalf("ferry_bans_total = %v before any ban", got)
	}
	failLogins(t, e.ftpAddr, "127.0.0.7", 5)

	var list struct {
		Enabled bool      `json:"enabled"`
		Bans    []BanInfo `json:"bans"`
	}
	r := e.do(t, "GET", "/api/v1/bans", testToken, "")
	r.decodeJSON(t, &list)
	if r.status != 200 || !list.Enabled || len(list.Bans) != 1 || list.Bans[0].Addr != "127.0.0.7/32" || list.Bans[0].Count != 1 ||
		!list.Bans[0].Until.After(time.Now()) {
		t.Fatalf("GET /api/v1/bans: %d %+v", r.status, list)
	}
	m := e.scrape(t, "")
	if value(t, m, "ferry_bans_total") != 1 || value(t, m, "ferry_bans_active") != 1 {
		t.Errorf("ban metrics: total %v, active %v; want 1, 1", value(t, m, "ferry_bans_total"), value(t, m, "ferry_bans_active"))
	}

	if r := e.do(t, "DELETE", "/api/v1/bans/127.0.0.8", testToken, ""); r.status != 404 {
		t.Errorf("DELETE of an address not banned: %d", r.status)
	}
	if r := e.do(t, "DELETE", "/api/v1/bans/not-an-address", testToken, ""); r.status != 400 {
		t.Errorf("DELETE of garbage: %d", r.status)
	}
	if r := e.do(t, "DELETE", "/api/v1/bans/127.0.0.7", "wrong", ""); r.status != 401 {
		t.Errorf("DELETE with a wrong token: %d", r.status)
	}
	if r := e.do(t, "DELETE", "/api/v1/bans/127.0.0.0/24", testToken, ""); r.status != 204 {
		t.Fatalf("DELETE /api/v1/bans/127.0.0.0/24: %d %s", r.status, r.body)
	}
	if value(t, e.scrape(t, ""), "ferry_bans_active") != 0 {
		t.Error("ferry_bans_active not 0 after the unban")
	}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.7")}}
	conn, err := d.Dial("tcp", e.ftpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := textproto.NewConn(conn).ReadResponse(220); err != nil {
		t.Errorf("after the unban: %v", err)
	}
}

// Without a defender the list is empty and says so.
func TestBansWithoutDefender(t *testing.T) {
	t.Parallel()
	e := startEnv(t, nil)
	var list struct {
		Enabled bool      `json:"enabled"`
		Bans    []BanInfo `json:"bans"`
	}
	r := e.do(t, "GET", "/api/v1/bans", testToken, "")
	r.decodeJSON(t, &list)
	if r.status != 200 || list.Enabled || list.Bans == nil || len(list.Bans) != 0 {
		t.Errorf("GET /api/v1/bans: %d %s", r.status, r.body)
	}
	if _, ok := e.scrape(t, "")["ferry_bans_total"]; ok {
		t.Error("ban metrics without a defender")
	}
}
