package ftpserver_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

// benchServer serves dir through localfs on 127.0.0.1:0 to any login.
func benchServer(b *testing.B, dir string, mutate ...func(*ftpserver.Server)) string {
	b.Helper()
	lfs, err := localfs.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	srv := &ftpserver.Server{
		Logger:         slog.New(slog.DiscardHandler),
		LoginFailDelay: -1,
		Auth: ftpserver.AuthFunc(func(ctx context.Context, c ftpserver.ConnInfo, u, p string) (*ftpserver.Account, error) {
			return &ftpserver.Account{User: u, FS: lfs}, nil
		}),
	}
	for _, m := range mutate {
		m(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close(); lfs.Close() })
	return ln.Addr().String()
}

// rawSession is a minimal client for benchmarks: no checks beyond codes.
type rawSession struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(b *testing.B, addr string) *rawSession {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	s := &rawSession{conn: conn, r: bufio.NewReader(conn)}
	s.expect(b, "220")
	s.do(b, "USER u", "331")
	s.do(b, "PASS p", "230")
	s.do(b, "TYPE I", "200")
	return s
}

func (s *rawSession) expect(b *testing.B, code string) string {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if len(line) >= 4 && line[3] == ' ' {
			if !strings.HasPrefix(line, code) {
				b.Fatalf("got %q, want %s", line, code)
			}
			return line
		}
	}
}

func (s *rawSession) do(b *testing.B, cmd, code string) string {
	fmt.Fprintf(s.conn, "%s\r\n", cmd)
	return s.expect(b, code)
}

// transfer runs a data command over EPSV and discards the data.
func (s *rawSession) transfer(b *testing.B, addr, cmd string) int64 {
	port, err := ftp.ParseEPSVReply(s.do(b, "EPSV", "229"))
	if err != nil {
		b.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(addr)
	data, err := net.Dial("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(s.conn, "%s\r\n", cmd)
	s.expect(b, "150")
	n, _ := io.Copy(io.Discard, data)
	data.Close()
	s.expect(b, "226")
	return n
}

func BenchmarkList10000(b *testing.B) {
	dir := b.TempDir()
	for i := range 10000 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d.dat", i)), []byte("x"), 0o644)
	}
	addr := benchServer(b, dir)
	for _, cmd := range []string{"LIST", "MLSD"} {
		b.Run(cmd, func(b *testing.B) {
			s := dialRaw(b, addr)
			b.ResetTimer()
			for range b.N {
				s.transfer(b, addr, cmd)
			}
		})
	}
}

func BenchmarkSmallFiles(b *testing.B) {
	dir := b.TempDir()
	for i := range 100 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), make([]byte, 4096), 0o644)
	}
	// As ferry serve runs: a passive port range and a text log.
	addr := benchServer(b, dir, func(s *ftpserver.Server) {
		s.PassivePorts = ftpserver.PortRange{Min: 50000, Max: 50100}
		s.MaxPassivePerIP = -1 // one load client stands for many clients
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	for _, sessions := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			clients := make([]*rawSession, sessions)
			for i := range clients {
				clients[i] = dialRaw(b, addr)
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/sessions + 1
			for i, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range per {
						c.transfer(b, addr, fmt.Sprintf("RETR f%d", (i+j)%100))
					}
				}()
			}
			wg.Wait()
		})
	}
}
