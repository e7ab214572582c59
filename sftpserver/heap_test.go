package sftpserver_test

import (
	"crypto/rand"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/ferry-ftp/ferry/sftpserver"
	"golang.org/x/crypto/ssh"
)

// gcPercent is the garbage collector's percent in force.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// withGCPercent sets the percent for the test and puts it back after.
func withGCPercent(t *testing.T, p int) {
	t.Setenv("GOGC", "") // the server leaves an operator's GOGC alone
	old := debug.SetGCPercent(p)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// TestUploadHeapRoom: while an upload runs, the garbage collector's
// percent leaves UploadHeapRoom beside the live heap; when the upload
// ends (closed by the client, or by its connection ending) it is back
// where it was. Not parallel: the percent is the process's.
func TestUploadHeapRoom(t *testing.T) {
	withGCPercent(t, 100)
	const room = 64 << 20
	f := start(t, func(s *sftpserver.Server) { s.UploadHeapRoom = room })
	runtime.GC() // so that the live heap the server reads is this test's
	c := f.dial(t, "alice", ssh.Password(password))
	data := make([]byte, 1<<20)
	rand.Read(data)
	for _, cut := range []bool{false, true} {
		if cut {
			c = f.dial(t, "alice", ssh.Password(password))
		}
		w, err := c.Create("/room.bin")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		// A live heap of 64 MiB or more would need no more than 100.
		if p := gcPercent(); p <= 100 {
			t.Errorf("GC percent during an upload: %d, want above 100 (room %d MiB)", p, room>>20)
		}
		if cut {
			c.Close() // without closing the file
			waitFor(t, "GC percent back to 100 after the connection ended", func() bool { return gcPercent() == 100 })
			continue
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if p := gcPercent(); p != 100 {
			t.Errorf("GC percent after the upload: %d, want 100", p)
		}
	}
}

// TestUploadHeapRoomLeavesGOGC: an operator's GOGC in the environment,
// or a zero UploadHeapRoom, leaves the percent alone during an upload.
func TestUploadHeapRoomLeavesGOGC(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string
		room int64
	}{{"GOGC set", "150", 64 << 20}, {"no room", "", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			withGCPercent(t, 150)
			t.Setenv("GOGC", tc.env)
			f := start(t, func(s *sftpserver.Server) { s.UploadHeapRoom = tc.room })
			c := f.dial(t, "alice", ssh.Password(password))
			w, err := c.Create("/gogc.bin")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(make([]byte, 64<<10)); err != nil {
				t.Fatal(err)
			}
			if p := gcPercent(); p != 150 {
				t.Errorf("GC percent during an upload: %d, want 150 (left alone)", p)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
