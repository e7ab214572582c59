package admin

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// A download's bytes show in the throughput while it runs, second by
// second, and the points add up to the file exactly once it ends.
func TestStatsThroughputCountsRunningTransfers(t *testing.T) {
	t.Parallel()
	e := startEnv(t, nil)
	const size = 1 << 20
	const step = 256 << 10 // the server counts progress per 256 KiB
	if err := putFile(e, "/big", size); err != nil {
		t.Fatal(err)
	}
	e.fs.allow(step)
	c, data := retrStart(t, e.ftpAddr, "/big")
	buf := make([]byte, size)
	moved := func(n int64) {
		t.Helper()
		testwait.For(t, fmt.Sprintf("the transfer to reach %d bytes", n), func() bool {
			s := e.ftp.Sessions()
			return len(s) == 1 && s[0].Transfer != nil && s[0].Transfer.Bytes == n
		})
	}
	if _, err := readFull(data, buf[:step]); err != nil {
		t.Fatal(err)
	}
	moved(step)
	e.tick()
	e.fs.allow(2 * step)
	if _, err := readFull(data, buf[step:2*step]); err != nil {
		t.Fatal(err)
	}
	moved(2 * step)
	e.tick()

	var list struct {
		Sessions []Session `json:"sessions"`
	}
	e.do(t, "GET", "/api/v1/sessions", testToken, "").decodeJSON(t, &list)
	if len(list.Sessions) != 1 || list.Sessions[0].Transfer == nil || list.Sessions[0].Transfer.Rate != step {
		t.Errorf("sessions %+v: want one transfer at %d bytes/s over the last samples", list.Sessions, step)
	}

	e.fs.allow(math.MaxInt64)
	if _, err := readFull(data, buf[2*step:]); err != nil {
		t.Fatal(err)
	}
	data.Close()
	if code, msg, err := c.conn.ReadResponse(226); err != nil {
		t.Fatalf("end of RETR: %d %s %v", code, msg, err)
	}
	e.tick()
	e.tick()

	var stats struct {
		Uptime     int64             `json:"uptime_seconds"`
		Sessions   int               `json:"sessions"`
		Throughput []ThroughputPoint `json:"throughput"`
		Users      []UserUsage       `json:"users"`
	}
	e.do(t, "GET", "/api/v1/stats", testToken, "").decodeJSON(t, &stats)
	want := []float64{step, step, size - 2*step, 0}
	if len(stats.Throughput) != len(want) {
		t.Fatalf("throughput %+v, want %d points", stats.Throughput, len(want))
	}
	for i, p := range stats.Throughput {
		if p.Download != want[i] || p.Upload != 0 {
			t.Errorf("point %d: %+v, want download %v", i, p, want[i])
		}
		if i > 0 && p.T.Sub(stats.Throughput[i-1].T) != time.Second {
			t.Errorf("point %d at %v, one second after the one before expected", i, p.T)
		}
	}
	if stats.Sessions != 1 || len(stats.Users) != 1 {
		t.Fatalf("stats: %+v", stats)
	}
	u := stats.Users[0]
	if u.User != "alice" || u.Sessions != 1 || u.Downloads != 1 || u.DownloadedBytes != size || u.Uploads != 0 || u.UploadedBytes != 0 || !u.LastSeen.Equal(e.now().Add(-2*time.Second)) {
		t.Errorf("alice's usage %+v", u)
	}
}

func TestStatsUsersAnonymousAndBound(t *testing.T) {
	t.Parallel()
	e := startEnv(t, nil)
	for _, name := range []string{"anonymous", "ftp"} {
		e.stats.LoginAttempted(ftpserver.LoginEvent{User: name, Anonymous: true, Result: ftpserver.LoginOK})
	}
	e.stats.LoginAttempted(ftpserver.LoginEvent{User: "mallory", Result: ftpserver.LoginFailed})
	users := e.stats.Users()
	if len(users) != 1 || users[0].User != "anonymous" || users[0].Sessions != 2 {
		t.Fatalf("users %+v: want anonymous with 2 sessions, failed logins not counted", users)
	}

	for i := range MaxStatsUsers {
		e.clock.Add(int64(time.Second))
		e.stats.LoginAttempted(ftpserver.LoginEvent{User: fmt.Sprintf("u%05d", i), Result: ftpserver.LoginOK})
	}
	users = e.stats.Users()
	if len(users) != MaxStatsUsers {
		t.Fatalf("%d users kept, want the bound %d", len(users), MaxStatsUsers)
	}
	// The anonymous entry, seen longest ago, made room.
	if users[0].User != "u00000" || users[len(users)-1].User != fmt.Sprintf("u%05d", MaxStatsUsers-1) {
		t.Errorf("kept %s..%s", users[0].User, users[len(users)-1].User)
	}
}

func TestStatsHistoryKeepsTenMinutes(t *testing.T) {
	t.Parallel()
	e := startEnv(t, nil)
	for range historyLen + 50 {
		e.tick()
	}
	points := e.stats.Throughput()
	if len(points) != historyLen {
		t.Fatalf("%d points kept, want %d", len(points), historyLen)
	}
	if last := points[len(points)-1].T; !last.Equal(e.now()) || !points[0].T.Equal(last.Add(-(historyLen-1)*time.Second)) {
		t.Errorf("points from %v to %v, want the last %d seconds up to %v", points[0].T, last, historyLen, e.now())
	}
}

func TestStatsCloseStopsSampler(t *testing.T) {
	t.Parallel()
	srv := &ftpserver.Server{}
	s := NewStats(context.Background(), srv)
	s.Close() // returns only once the sampler goroutine is gone
	ctx, cancel := context.WithCancel(context.Background())
	s = NewStats(ctx, srv)
	cancel()
	<-s.done
}
