package ftpserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// panicCatcher is a slog handler that remembers any record about a panic:
// the server recovers session panics, so only its log shows them.
type panicCatcher struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicCatcher) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		p.mu.Lock()
		p.panics = append(p.panics, r.Message)
		p.mu.Unlock()
	}
	return nil
}
func (p *panicCatcher) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicCatcher) WithGroup(string) slog.Handler      { return p }

func (p *panicCatcher) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := p.panics
	p.panics = nil
	return got
}

// FuzzSession feeds arbitrary bytes to a logged-in session. Whatever
// arrives, the server must not panic, must not hang, and must go on
// serving a fresh session.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"PWD\r\n",
		"MKD a\r\nCWD a\r\nSTOR x\r\nRNFR x\r\nRNTO y\r\n",
		"TYPE A\r\nREST 5\r\nRETR f\r\nABOR\r\n",
		"EPSV ALL\r\nPASV\r\nPORT 1,2,3,4,5,6\r\nEPRT |2|::1|5|\r\n",
		"LIST -la *\r\nNLST [\r\nMLSD ..\r\nMLST\r\nSTAT /\r\n",
		"OPTS MLST size;;type\r\nOPTS HASH crc32\r\nHASH f\r\nXCRC f 9 1\r\n",
		"SITE CHMOD 7777 f\r\nMFMT 99999999999999 f\r\nAVBL\r\nSIZE /\r\n",
		"\xff\xf4\xff\xf2ABOR\r\n\xff\xff\xfb\r\n",
		"REIN\r\nUSER \x00\r\nPASS\r\nQUIT\r\n",
		"AUTH TLS\r\nPBSZ 0\r\nPROT P\r\nCCC\r\n",
		"LANG zh\r\nFEAT\r\nHELP\r\nSTAT\r\nLANG x-\r\nLANG\r\n",
		"TYPE E\r\nLIST\r\nSTOR e\r\nTYPE E T\r\nREST 3\r\nRETR e\r\n",
		"SSCN\r\nSSCN ON\r\nCPSV\r\nSSCN OFF\r\nREIN\r\n",
	} {
		f.Add([]byte(seed))
	}
	catcher := &panicCatcher{}
	ts := startServer(f, func(s *ftpserver.Server) {
		s.Logger = slog.New(catcher)
		s.DataTimeout = 200 * time.Millisecond
		s.MaxBadCommands = -1
	})
	ts.fs.WriteFile("/f", []byte("0123456789\n"))
	f.Fuzz(func(t *testing.T, input []byte) {
		// A hang is a failure too: dump every goroutine and crash, so the
		// fuzzer records the input.
		watchdog := time.AfterFunc(20*time.Second, func() {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic(fmt.Sprintf("session input hung the server:\n%s", buf[:n]))
		})
		defer watchdog.Stop()
		c := ts.login(t)
		c.conn.Write(input)
		c.conn.Write([]byte("\r\nNOOP\r\n"))
		// Drain what the server says until it goes quiet or closes.
		buf := make([]byte, 4096)
		for {
			c.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := c.conn.Read(buf); err != nil {
				break
			}
		}
		c.conn.Close()
		fresh := ts.login(t)
		fresh.cmd(257, "PWD")
		if p := catcher.take(); len(p) > 0 {
			t.Fatalf("server panicked: %q", p)
		}
	})
}
