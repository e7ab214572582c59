package ftpserver_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// raceServer serves one backend in one upload mode to anonymous users
// (create-only in /incoming) and to alice (read-write), with uploads held
// at their first write until gate is closed.
type raceServer struct {
	*testServer
	gate chan struct{}
	read func(name string) []byte // content on the backend, nil if none
}

func startRaceServer(t *testing.T, backend string, mode ftpserver.UploadMode, gated bool) *raceServer {
	t.Helper()
	rs := &raceServer{gate: make(chan struct{})}
	if !gated {
		close(rs.gate)
	}
	var fsys ftpserver.FileSystem
	switch backend {
	case "memfs":
		mfs := memfs.New()
		mfs.Mkdir(context.Background(), "/incoming")
		fsys = mfs
		rs.read = func(name string) []byte {
			b, _ := mfs.ReadFile(name)
			return b
		}
	case "localfs":
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "incoming"), 0o755)
		lfs, err := localfs.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lfs.Close() })
		fsys = lfs
		rs.read = func(name string) []byte {
			b, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			return b
		}
	}
	gatedFsys := &gatedFS{FileSystem: fsys, gate: rs.gate}
	rs.testServer = startServer(t, func(s *ftpserver.Server) {
		s.Upload = mode
		s.Logger = slog.New(slog.DiscardHandler)
		s.Auth = ftpserver.AuthFunc(func(ctx context.Context, c ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "alice" {
				return &ftpserver.Account{User: "alice", FS: gatedFsys, Write: true}, nil
			}
			return &ftpserver.Account{User: "anonymous", FS: gatedFsys, UploadDir: "/incoming", Anonymous: true}, nil
		})
	})
	return rs
}

// storAtOnce runs one STOR of name per client with its content, all
// started before any data is sent, and returns each one's final reply
// code (that of STOR itself when it is refused at once).
func storAtOnce(rs *raceServer, clients []*client, name string, contents [][]byte) []int {
	for _, c := range clients {
		c.send("EPSV")
	}
	data := make([]net.Conn, len(clients))
	for i, c := range clients {
		data[i] = dialEPSV(c, c.expect(229))
	}
	for _, c := range clients {
		c.send("STOR %s", name)
	}
	codes := make([]int, len(clients))
	for i, c := range clients {
		codes[i], _ = c.read()
		if codes[i] == 150 {
			data[i].Write(contents[i])
		}
		data[i].Close()
	}
	select {
	case <-rs.gate:
	default:
		close(rs.gate)
	}
	for i, c := range clients {
		if codes[i] == 150 {
			codes[i], _ = c.read()
		}
	}
	return codes
}

func anonymous(t *testing.T, ts *testServer) *client {
	c := ts.dial(t)
	c.loginAs("anonymous", "guest@")
	return c
}

// TestAnonymousUploadsCreateOnly: in an anonymous upload area two STORs of
// one new name at once never both succeed, and the one that does keeps
// its content: the name is taken exclusively when the upload is published.
func TestAnonymousUploadsCreateOnly(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memfs", "localfs"} {
		for _, mode := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect} {
			for _, gated := range []bool{true, false} {
				rounds := 30
				name := fmt.Sprintf("%s/%s/free", backend, mode)
				if gated {
					rounds, name = 1, fmt.Sprintf("%s/%s/both-in-flight", backend, mode)
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					rs := startRaceServer(t, backend, mode, gated)
					clients := []*client{anonymous(t, rs.testServer), anonymous(t, rs.testServer)}
					for round := range rounds {
						file := fmt.Sprintf("/incoming/f%d", round)
						contents := [][]byte{bytes.Repeat([]byte("first "), 10000), bytes.Repeat([]byte("second"), 12000)}
						codes := storAtOnce(rs, clients, file, contents)
						won := -1
						for i, code := range codes {
							switch {
							case code == 226 && won < 0:
								won = i
							case code == 226:
								t.Fatalf("round %d: both uploads of one new name got 226", round)
							case code != 550 && code != 553:
								t.Fatalf("round %d: upload %d got %d, want 226, 550 or 553", round, i, code)
							}
						}
						if won < 0 {
							t.Fatalf("round %d: neither upload succeeded (%v)", round, codes)
						}
						if got := rs.read(file); !bytes.Equal(got, contents[won]) {
							t.Fatalf("round %d: %s holds %d bytes, not the %d of the upload that got 226", round, file, len(got), len(contents[won]))
						}
					}
				})
			}
		}
	}
}

// dialEPSV dials the data connection that an EPSV reply announces.
func dialEPSV(c *client, reply string) net.Conn {
	c.t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", mustEPSVPort(c.t, reply)), 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return conn
}

// TestDirectUploadsNeverInterleave: two STORs of one file at once in
// direct mode (or resumed in place) would write into the same file; the
// second is refused with 450 while the first holds it, so the file is
// always one upload's content whole.
func TestDirectUploadsNeverInterleave(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memfs", "localfs"} {
		for _, gated := range []bool{true, false} {
			rounds := 30
			name := backend + "/free"
			if gated {
				rounds, name = 1, backend+"/both-in-flight"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				rs := startRaceServer(t, backend, ftpserver.UploadDirect, gated)
				clients := []*client{rs.login(t), rs.login(t)}
				for round := range rounds {
					contents := [][]byte{bytes.Repeat([]byte("first "), 10000), bytes.Repeat([]byte("second"), 12000)}
					codes := storAtOnce(rs, clients, "/target", contents)
					got := rs.read("/target")
					whole := false
					for i, code := range codes {
						switch code {
						case 226:
							whole = whole || bytes.Equal(got, contents[i])
						case 450:
						default:
							t.Fatalf("round %d: upload %d got %d, want 226 or 450", round, i, code)
						}
					}
					if !whole {
						t.Fatalf("round %d (%v): target holds %d bytes that are no upload's content whole", round, codes, len(got))
					}
				}
			})
		}
	}
}
