package ftpserver

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// addrN is the n-th of a run of distinct IPv4 addresses.
func addrN(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// TestDefenderTablesBounded: a flood of distinct addresses, scoring and
// banned, cannot grow the tables past MaxEntries; the newest stay.
func TestDefenderTablesBounded(t *testing.T) {
	t.Parallel()
	d := &Defender{MaxEntries: 100, MaxFailures: 1}
	for n := range 5000 {
		d.record(addrN(n), offenceLogin)
	}
	if len(d.scores) != 100 || d.byStart.Len() != 100 {
		t.Fatalf("%d scores (%d in order) after 5000 addresses, want 100", len(d.scores), d.byStart.Len())
	}
	if d.scores[addrN(4999)] == nil || d.scores[addrN(0)] != nil {
		t.Fatal("the oldest scores were not the ones dropped")
	}
	for n := range 5000 {
		d.record(addrN(n), offenceLogin)
		d.record(addrN(n), offenceLogin) // the second failure bans
	}
	if len(d.bans) != 100 || len(d.Bans()) != 100 {
		t.Fatalf("%d bans (%d listed) after 5000 banned addresses, want 100", len(d.bans), len(d.Bans()))
	}
	if !d.banned(addrN(4999)) {
		t.Fatal("the newest ban was dropped")
	}
}

// TestDefenderSweep: expired scores and forgotten bans leave the tables.
func TestDefenderSweep(t *testing.T) {
	t.Parallel()
	now := time.Now()
	d := &Defender{MaxFailures: 1, Window: time.Minute, Ban: time.Minute, MaxBan: time.Hour}
	d.now = func() time.Time { return now }
	for n := range 50 {
		d.record(addrN(n), offenceLogin)
	}
	d.record(addrN(0), offenceLogin) // banned
	if len(d.scores) != 49 || len(d.bans) != 1 {
		t.Fatalf("%d scores and %d bans, want 49 and 1", len(d.scores), len(d.bans))
	}
	now = now.Add(2 * time.Minute)
	d.record(addrN(1000), offenceLogin)
	if len(d.scores) != 1 || len(d.bans) != 1 || len(d.Bans()) != 0 {
		t.Fatalf("%d scores, %d bans (%d in force) after the window, want 1, 1 (remembered), 0", len(d.scores), len(d.bans), len(d.Bans()))
	}
	now = now.Add(time.Hour)
	d.record(addrN(1001), offenceLogin)
	if len(d.scores) != 1 || len(d.bans) != 0 {
		t.Fatalf("%d scores and %d bans after MaxBan, want 1 and 0", len(d.scores), len(d.bans))
	}
}

// TestRefuseBounded: past maxRefusing refusals under way, a refused
// connection is closed without a reply rather than given a goroutine.
func TestRefuseBounded(t *testing.T) {
	t.Parallel()
	srv := &Server{}
	st := srv.state()
	for range maxRefusing {
		st.refusing <- struct{}{}
	}
	server, client := net.Pipe()
	defer client.Close()
	srv.refuse(server, "busy")
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(client); err != nil || len(got) != 0 {
		t.Fatalf("read %q, %v; want a close without a reply", got, err)
	}
	<-st.refusing
	server, client = net.Pipe()
	defer client.Close()
	srv.refuse(server, "busy")
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(client); err != nil || string(got) != "421 busy\r\n" {
		t.Fatalf("read %q, %v; want the 421", got, err)
	}
}

// TestDefenderNegativeMaxEntries: a negative bound is the default one,
// not "every new address evicts from an empty table".
func TestDefenderNegativeMaxEntries(t *testing.T) {
	t.Parallel()
	d := &Defender{MaxEntries: -1}
	for n := range 3 {
		d.record(addrN(n), offenceLogin)
	}
	if len(d.scores) != 3 {
		t.Fatalf("%d scores, want 3", len(d.scores))
	}
}
