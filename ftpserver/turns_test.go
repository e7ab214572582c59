package ftpserver_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// waitCounts waits until the server's counts of large sends and unused
// passive listeners are as wanted.
func waitCounts(t *testing.T, ts *testServer, sends, passives int) {
	t.Helper()
	waitUntil(t, func() string {
		if s, p := ts.srv.TransferCounts(); s != sends || p != passives {
			return fmt.Sprintf("transfer counts: %d sends, %d passive listeners; want %d and %d", s, p, sends, passives)
		}
		return ""
	})
}

// While downloads take turns, a client that stops reading must not hold
// a turn: with as many stalled downloads as there are turns, the others
// still finish, and the stalled ones then finish whole too (if a turn had
// been held, everything would wait for the data timeout, and the stalled
// ones would end with 426).
func TestStalledDownloadsHoldUpNoOne(t *testing.T) {
	ts, dir := startDiskServer(t, ftpserver.UploadAtomicResume)
	ts.srv.DataTimeout = 30 * time.Second
	// Larger than what loopback socket buffers take in before the sender
	// blocks (a few MiB on each side).
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20) // 48 MiB
	mid := make([]byte, 3<<20+12345)
	for i := range mid {
		mid[i] = byte(i*131 + i>>12)
	}
	for name, b := range map[string][]byte{"big.bin": big, "mid.bin": mid} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	type stalled struct {
		c    *client
		data io.Reader
	}
	var stalls []stalled
	for range runtime.GOMAXPROCS(0) {
		c := ts.login(t)
		data := c.pasv()
		c.cmd(150, "RETR big.bin")
		stalls = append(stalls, stalled{c, data})
	}
	waitCounts(t, ts, len(stalls), 0)

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ts.login(t)
			for _, off := range []int{0, 1, 256 << 10, len(mid) - 5} {
				if off > 0 {
					c.cmd(350, "REST %d", off)
				}
				if got := c.retr("mid.bin"); !bytes.Equal(got, mid[off:]) {
					t.Errorf("worker %d: REST %d + RETR: %d bytes, want %d identical ones", w, off, len(got), len(mid)-off)
				}
			}
			c.cmd(221, "QUIT")
		}()
	}
	wg.Wait()

	for i, s := range stalls {
		got, err := io.ReadAll(s.data)
		if err != nil || !bytes.Equal(got, big) {
			t.Errorf("stalled download %d: %d bytes (%v), want %d identical ones", i, len(got), err, len(big))
		}
		s.c.expect(226)
	}
	waitCounts(t, ts, 0, 0)
}

// Every way a passive listener ends (used by a transfer, replaced by
// another PASV or EPSV, given up for PORT, closed with the session) takes
// it out of the count that decides whether downloads take turns; a count
// that only grew would make every later download wait for turns.
func TestPassiveListenersCounted(t *testing.T) {
	ts, dir := startDiskServer(t, ftpserver.UploadAtomicResume)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := ts.login(t)
	c.pasv4()
	waitCounts(t, ts, 0, 1)
	c.pasv4()
	c.cmd(229, "EPSV")
	waitCounts(t, ts, 0, 1)
	if got := c.retr("f"); string(got) != "data" {
		t.Errorf("RETR = %q", got)
	}
	waitCounts(t, ts, 0, 0)
	c.cmd(229, "EPSV")
	c.cmd(200, "PORT 127,0,0,1,%d,%d", 40000>>8, 40000&255)
	waitCounts(t, ts, 0, 0)

	others := make([]*client, 3)
	for i := range others {
		others[i] = ts.login(t)
		others[i].cmd(229, "EPSV")
	}
	waitCounts(t, ts, 0, 3)
	others[0].cmd(221, "QUIT")
	others[1].conn.Close()
	waitCounts(t, ts, 0, 1)
	others[2].cmd(550, "RETR missing")
	waitCounts(t, ts, 0, 1) // a refused RETR leaves the listener for the next try
	c.cmd(221, "QUIT")
	others[2].cmd(221, "QUIT")
	waitCounts(t, ts, 0, 0)
}
