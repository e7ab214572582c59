package admin

import (
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/internal/sftptest"
	"github.com/ferry-ftp/ferry/internal/testwait"
	"github.com/ferry-ftp/ferry/sftpserver"
)

// startSFTPBeside runs an SFTP server on e's accounts and storage, as
// ferry serve runs one beside the FTP server, and returns it and its
// address.
func startSFTPBeside(t *testing.T, e *testEnv) (*sftpserver.Server, string) {
	t.Helper()
	key, _, err := sftpserver.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	srv := &sftpserver.Server{
		Auth:           e.ftp.Auth,
		HostKeys:       []ssh.Signer{key},
		LoginFailDelay: -1,
		Observer:       e.stats,
		Logger:         slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		e.fs.allow(math.MaxInt64)
		srv.Close()
	})
	return srv, ln.Addr().String()
}

// TestAPIListsAndDisconnectsSFTPSessions: the session list shows an SFTP
// session beside an FTP one, with protocol "sftp", its user, address and
// running download with its bytes; DELETE ends it (the client's
// connection is closed) and then answers 404.
func TestAPIListsAndDisconnectsSFTPSessions(t *testing.T) {
	t.Parallel()
	var sftpSrv *sftpserver.Server
	var sftpAddr string
	e := startEnvOn(t, nil, func(e *testEnv, o *Options) {
		sftpSrv, sftpAddr = startSFTPBeside(t, e)
		o.Sessions = []SessionSource{o.Server, sftpSrv}
		o.Metrics = NewMetrics(e.ftp, "v-test", sftpSrv)
	})
	const size = 1 << 20
	const gate = 256 << 10
	if err := putFile(e, "/big", size); err != nil {
		t.Fatal(err)
	}
	e.fs.allow(gate)
	ftpc, _ := retrStart(t, e.ftpAddr, "/big") // an FTP session beside it

	// One read at a time, so that the bytes moved stop exactly at the
	// gate.
	client, conn := sftptest.DialPassword(t, sftpAddr, "alice", "secret", sftp.UseConcurrentReads(false))
	f, err := client.Open("/big")
	if err != nil {
		t.Fatal(err)
	}
	readDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, f)
		readDone <- err
	}()

	var s Session
	var ids []string
	testwait.For(t, "the SFTP session's download to show", func() bool {
		var list struct {
			Sessions []Session `json:"sessions"`
		}
		e.do(t, "GET", "/api/v1/sessions", testToken, "").decodeJSON(t, &list)
		ids = ids[:0]
		found := false
		for _, got := range list.Sessions {
			ids = append(ids, got.ID+"/"+got.Protocol)
			if got.Protocol == "sftp" && got.Transfer != nil && got.Transfer.Bytes == gate {
				s, found = got, true
			}
		}
		return found && len(list.Sessions) == 2
	})
	if s.User != "alice" || s.Remote != conn.LocalAddr().String() || s.TLS {
		t.Errorf("SFTP session %+v, want alice from %s", s, conn.LocalAddr())
	}
	if tr := s.Transfer; tr.Verb != "RETR" || tr.Path != "/big" || tr.Size != size {
		t.Errorf("SFTP transfer %+v, want RETR /big of %d bytes", tr, size)
	}
	if ids[0] == ids[1] || !strings.HasSuffix(ids[0], "/ftp") {
		t.Errorf("sessions %v: want the FTP one (older) first, IDs distinct", ids)
	}
	var stats map[string]any
	e.do(t, "GET", "/api/v1/stats", testToken, "").decodeJSON(t, &stats)
	if n, _ := stats["sessions"].(float64); n != 2 {
		t.Errorf("stats count %v sessions, want 2 (FTP and SFTP)", stats["sessions"])
	}

	if got := e.scrape(t, testToken)["ferry_sessions_active"].GetMetric()[0].GetGauge().GetValue(); got != 2 {
		t.Errorf("ferry_sessions_active = %v, want 2 (FTP and SFTP)", got)
	}

	if r := e.do(t, "DELETE", "/api/v1/sessions/"+s.ID, testToken, ""); r.status != 204 {
		t.Fatalf("DELETE the SFTP session: %d %s", r.status, r.body)
	}
	select {
	case err := <-readDone:
		if err == nil {
			t.Error("the download completed after its session was disconnected")
		}
	case <-time.After(testwait.Timeout):
		t.Fatal("the SFTP client's download still runs after DELETE")
	}
	if _, err := client.Stat("/big"); err == nil {
		t.Error("the SFTP connection still serves after DELETE")
	}
	testwait.For(t, "the SFTP session to end", func() bool { return sftpSrv.SessionCount() == 0 })
	if r := e.do(t, "DELETE", "/api/v1/sessions/"+s.ID, testToken, ""); r.status != 404 {
		t.Errorf("DELETE an ended SFTP session: %d", r.status)
	}
	if e.ftp.SessionCount() != 1 {
		t.Errorf("the FTP session was ended too")
	}
	ftpc.conn.Close()
}
