package ftpserver_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// A client that stops reading its download holds up no one: with a
// stalled download per CPU, other sessions' downloads (with REST offsets)
// still finish whole, and the stalled ones then finish whole too.
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
		data := c.transfer("RETR big.bin")
		stalls = append(stalls, stalled{c, data})
	}

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
}
