package ftpclient_test

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

// Tests against the scripted fake server, for what ferry's server never
// does.

func TestEPSVRefusedFallsBackToPASV(t *testing.T) {
	t.Parallel()
	for _, code := range []int{500, 502, 522} {
		fs := startFake(t)
		fs.handle("EPSV", func(s *fakeSession, _ string) { s.reply(code, "EPSV? never heard of it") })
		fs.handle("RETR", func(s *fakeSession, _ string) { s.sendData([]byte("payload")) })
		c := dial(t, fs.addr)
		ctx := testCtx(t)
		for range 3 {
			var buf bytes.Buffer
			if _, err := c.Retrieve(ctx, "/f", 0, &buf); err != nil || buf.String() != "payload" {
				t.Fatalf("%d: Retrieve: %q, %v", code, buf.String(), err)
			}
		}
		// EPSV was tried once, then the client kept to PASV.
		if n, m := fs.count("EPSV"), fs.count("PASV"); n != 1 || m != 3 {
			t.Fatalf("%d: %d EPSV and %d PASV, want 1 and 3: %v", code, n, m, fs.received())
		}
	}
}

func TestBogusPASVAddressIsReplaced(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"10,1,2,3", "0,0,0,0", "192,168,7,7", "8,8,8,8"} {
		fs := startFake(t)
		fs.pasvHost = host
		fs.feat = nil // no EPSV announced; it is refused too
		fs.handle("EPSV", func(s *fakeSession, _ string) { s.reply(502, "no") })
		fs.handle("RETR", func(s *fakeSession, _ string) { s.sendData([]byte("via the peer")) })
		d := &recordingDialer{}
		c := dial(t, fs.addr, ftpclient.WithDialer(d.dial))
		var buf bytes.Buffer
		if _, err := c.Retrieve(testCtx(t), "/f", 0, &buf); err != nil || buf.String() != "via the peer" {
			t.Fatalf("PASV %s: Retrieve: %q, %v", host, buf.String(), err)
		}
		for _, a := range d.dialed() {
			if !strings.HasPrefix(a, "127.0.0.1:") {
				t.Fatalf("PASV %s: the client dialed %s (all: %v)", host, a, d.dialed())
			}
		}
		if len(d.dialed()) != 2 { // control, data
			t.Fatalf("PASV %s: dialed %v", host, d.dialed())
		}
	}
}

func TestTrustedPASVStillRejectsTheUnspecifiedAddress(t *testing.T) {
	t.Parallel()
	fs := startFake(t)
	fs.pasvHost = "0,0,0,0"
	fs.handle("EPSV", func(s *fakeSession, _ string) { s.reply(502, "no") })
	fs.handle("RETR", func(s *fakeSession, _ string) { s.sendData([]byte("ok")) })
	d := &recordingDialer{}
	c := dial(t, fs.addr, ftpclient.WithDialer(d.dial), ftpclient.WithTrustPASV(true))
	var buf bytes.Buffer
	if _, err := c.Retrieve(testCtx(t), "/f", 0, &buf); err != nil || buf.String() != "ok" {
		t.Fatalf("Retrieve: %q, %v (dialed %v)", buf.String(), err, d.dialed())
	}
}

func TestUnparsableListLinesAreReported(t *testing.T) {
	t.Parallel()
	fs := startFake(t) // announces no MLST: LIST it is
	listing := strings.Join([]string{
		"total 12",
		"drwxr-xr-x    2 ftp      ftp          4096 Jan 02  2020 .",
		"-rw-r--r--    1 ftp      ftp           123 Jan 02  2020 good.txt",
		"this is not a listing line",
		"01-02-20  03:04PM       <DIR>          dosdir",
		"+i8388621.48594,m825718503,r,s280,\teplf.txt",
		"-rw-r--r--    1 ftp ftp 12 Feb 31  2020 bad-date",
		"",
	}, "\r\n")
	fs.handle("LIST", func(s *fakeSession, _ string) { s.sendData([]byte(listing)) })
	c := dial(t, fs.addr)
	entries, err := c.List(testCtx(t), "/")
	var le *ftpclient.ListError
	if !errors.As(err, &le) {
		t.Fatalf("List: %v", err)
	}
	if want := []string{"this is not a listing line", "-rw-r--r--    1 ftp ftp 12 Feb 31  2020 bad-date"}; !slices.Equal(le.Lines, want) {
		t.Fatalf("ListError lines %q, want %q", le.Lines, want)
	}
	if le.Path != "/" || !strings.Contains(le.Error(), "not a listing line") {
		t.Fatalf("ListError %v", le)
	}
	if got := names(entries); !slices.Equal(got, []string{"dosdir", "eplf.txt", "good.txt"}) {
		t.Fatalf("entries %v", got)
	}
	for _, e := range entries {
		if e.Name == "good.txt" && e.Size != 123 || e.Name == "eplf.txt" && e.Size != 280 || e.Name == "dosdir" && !e.IsDir() {
			t.Fatalf("entry %+v", e)
		}
	}
}

func TestMLSDLinesThatDoNotParseAreReported(t *testing.T) {
	t.Parallel()
	fs := startFake(t)
	fs.feat = []string{"MLST type*;size*;modify*;"}
	fs.handle("MLSD", func(s *fakeSession, _ string) {
		s.sendData([]byte("type=cdir; .\r\ntype=file;size=5; ok\r\ntype=file;size=x; badsize\r\nnospace\r\n"))
	})
	c := dial(t, fs.addr)
	entries, err := c.List(testCtx(t), "/")
	var le *ftpclient.ListError
	if !errors.As(err, &le) || len(le.Lines) != 2 || len(entries) != 1 || entries[0].Name != "ok" || entries[0].Size != 5 {
		t.Fatalf("List: %+v, %v", entries, err)
	}
}

func TestMLSTAnnouncedButRefused(t *testing.T) {
	t.Parallel()
	fs := startFake(t)
	fs.feat = []string{"MLST type*;size*;modify*;", "SIZE", "MDTM"}
	fs.handle("LIST", func(s *fakeSession, _ string) {
		s.sendData([]byte("-rw-r--r--    1 ftp      ftp           123 Jan 02  2020 f\r\n"))
	})
	fs.handle("SIZE", func(s *fakeSession, _ string) { s.reply(213, "123") })
	fs.handle("MDTM", func(s *fakeSession, _ string) { s.reply(213, "20200102030405") })
	c := dial(t, fs.addr)
	ctx := testCtx(t)
	for range 2 {
		entries, err := c.List(ctx, "/")
		if err != nil || len(entries) != 1 || entries[0].Name != "f" {
			t.Fatalf("List: %v, %v", entries, err)
		}
		e, err := c.Stat(ctx, "/f")
		if err != nil || e.Size != 123 || !e.ModTime.Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Fatalf("Stat: %+v, %v", e, err)
		}
	}
	if n, m := fs.count("MLSD"), fs.count("MLST"); n != 1 || m != 1 {
		t.Fatalf("MLSD %d and MLST %d times, want once each: %v", n, m, fs.received())
	}
}

func TestNOOPAnsweredDuringTransfer(t *testing.T) {
	t.Parallel()
	// Some servers answer commands during a transfer; the NOOP's 200 then
	// comes before the transfer's 226.
	fs := startFake(t)
	fs.handle("RETR", func(s *fakeSession, _ string) {
		s.reply(150, "here it comes")
		dc := s.accept()
		dc.Write([]byte("first half "))
		if line, err := s.readCommand(); err != nil || line != "NOOP" {
			s.srv.t.Errorf("during the transfer: %q, %v", line, err)
		}
		s.reply(200, "NOOP ok")
		dc.Write([]byte("second half"))
		dc.Close()
		s.reply(226, "done")
	})
	fs.handle("SIZE", func(s *fakeSession, _ string) { s.reply(213, "22") })
	c := dial(t, fs.addr, ftpclient.WithKeepAlive(20*time.Millisecond), ftpclient.WithPoolSize(1))
	ctx := testCtx(t)
	var buf bytes.Buffer
	if _, err := c.Retrieve(ctx, "/f", 0, &buf); err != nil || buf.String() != "first half second half" {
		t.Fatalf("Retrieve: %q, %v", buf.String(), err)
	}
	// The NOOPs sent after the one the server read are answered after the
	// 226; the client must have consumed every reply.
	if size, err := c.Size(ctx, "/f"); err != nil || size != 22 {
		t.Fatalf("Size: %d, %v", size, err)
	}
}

func TestFailedTransferReply(t *testing.T) {
	t.Parallel()
	fs := startFake(t)
	fs.handle("RETR", func(s *fakeSession, _ string) {
		s.reply(150, "here it comes")
		dc := s.accept()
		dc.Write([]byte("trunc"))
		dc.Close()
		s.reply(451, "local error: disk gone")
	})
	c := dial(t, fs.addr)
	var buf bytes.Buffer
	_, err := c.Retrieve(testCtx(t), "/f", 0, &buf)
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != 451 || !fe.Temporary() {
		t.Fatalf("Retrieve with a 451 final reply: %v", err)
	}
	r, err := c.Open(testCtx(t), "/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); ftp.CodeOf(err) != 451 {
		t.Fatalf("reading a failed transfer: %v", err)
	}
}

func TestHashFallbackToXCommands(t *testing.T) {
	t.Parallel()
	fs := startFake(t) // no HASH in FEAT
	sha := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	fs.handle("XSHA256", func(s *fakeSession, arg string) { s.reply(250, sha) })
	fs.handle("XCRC", func(s *fakeSession, arg string) { s.reply(250, "1A2B3C") }) // no leading zeros
	c := dial(t, fs.addr)
	ctx := testCtx(t)
	got, err := c.Hash(ctx, "/f", "sha-256")
	if err != nil || hex.EncodeToString(got) != sha {
		t.Fatalf("Hash SHA-256: %x, %v", got, err)
	}
	if got, err := c.Hash(ctx, "/f", "CRC32"); err != nil || hex.EncodeToString(got) != "001a2b3c" {
		t.Fatalf("Hash CRC32: %x, %v", got, err)
	}
	if _, err := c.Hash(ctx, "/f", "MD5"); !errors.Is(err, ftpclient.ErrUnsupported) {
		t.Fatalf("Hash MD5 on a server without XMD5: %v", err)
	}
}

func TestMalformedReplies(t *testing.T) {
	t.Parallel()
	fs := startFake(t)
	fs.handle("SIZE", func(s *fakeSession, _ string) { s.conn.Write([]byte("this is no reply\r\n")) })
	fs.handle("MDTM", func(s *fakeSession, _ string) {
		s.conn.Write([]byte("213-start\r\n" + strings.Repeat("x", 10000) + "\r\n213 end\r\n"))
	})
	ctx := testCtx(t)
	c := dial(t, fs.addr)
	if _, err := c.Size(ctx, "/f"); !errors.Is(err, ftpclient.ErrProtocol) {
		t.Fatalf("Size with a garbage reply: %v", err)
	}
	if _, err := c.ModTime(ctx, "/f"); !errors.Is(err, ftpclient.ErrProtocol) {
		t.Fatalf("ModTime with an overlong line: %v", err)
	}
}

func TestRelativePathsResolveAgainstTheLoginDirectory(t *testing.T) {
	t.Parallel()
	fs := startFake(t)
	fs.handle("PWD", func(s *fakeSession, _ string) { s.reply(257, `"/home/a ""b""" is cwd`) })
	fs.handle("DELE", func(s *fakeSession, _ string) { s.reply(250, "gone") })
	c := dial(t, fs.addr)
	if c.Home() != `/home/a "b"` {
		t.Fatalf("Home %q", c.Home())
	}
	ctx := testCtx(t)
	for _, p := range []string{"x", "./sub/../x", "/abs/x"} {
		if err := c.Remove(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	var deletes []string
	for _, cmd := range fs.received() {
		if strings.HasPrefix(cmd, "DELE ") {
			deletes = append(deletes, cmd)
		}
	}
	want := []string{`DELE /home/a "b"/x`, `DELE /home/a "b"/x`, "DELE /abs/x"}
	if !slices.Equal(deletes, want) {
		t.Fatalf("sent %q, want %q", deletes, want)
	}
	if err := c.Remove(ctx, "a\r\nDELE b"); err == nil {
		t.Fatal("a path with a line break was sent")
	}
}

func TestRetrieveResumesAfterALostConnection(t *testing.T) {
	t.Parallel()
	data := pattern(100000)
	cut := 40000
	fs := startFake(t)
	var retrs atomic.Int32
	fs.handle("REST", func(s *fakeSession, arg string) { s.reply(350, "restarting") })
	fs.handle("RETR", func(s *fakeSession, _ string) {
		if retrs.Add(1) == 1 {
			// The server dies in the middle of the first transfer.
			s.reply(150, "here it comes")
			dc := s.accept()
			dc.Write(data[:cut])
			dc.Close()
			s.conn.Close()
			return
		}
		s.sendData(data[cut:])
	})
	c := dial(t, fs.addr)
	var buf bytes.Buffer
	n, err := c.Retrieve(testCtx(t), "/f", 0, &buf)
	if err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("Retrieve: %d, %v", n, err)
	}
	var rest []string
	for _, cmd := range fs.received() {
		if strings.HasPrefix(cmd, "REST ") {
			rest = append(rest, cmd)
		}
	}
	if !slices.Equal(rest, []string{"REST 40000"}) {
		t.Fatalf("%v, want REST at the offset where the first transfer stopped", rest)
	}
}

func TestUploadIsNotRepeatedAfterALostConnection(t *testing.T) {
	t.Parallel()
	fs := startFake(t)
	fs.handle("STOR", func(s *fakeSession, _ string) {
		s.reply(150, "send it")
		dc := s.accept()
		buf := make([]byte, 10)
		dc.Read(buf)
		dc.Close()
		s.conn.Close()
	})
	c := dial(t, fs.addr)
	if _, err := c.Store(testCtx(t), "/f", bytes.NewReader(pattern(1<<20)), 0); err == nil {
		t.Fatal("Store succeeded on a server that died")
	}
	if n := fs.count("STOR"); n != 1 {
		t.Fatalf("STOR sent %d times", n)
	}
}

func TestUploadRefusedMidway(t *testing.T) {
	t.Parallel()
	// The server stops reading and says why (552): the client reports the
	// server's reason, not a broken pipe, and keeps the connection.
	fs := startFake(t)
	fs.handle("STOR", func(s *fakeSession, _ string) {
		s.reply(150, "send it")
		dc := s.accept()
		io.CopyN(io.Discard, dc, 64<<10)
		dc.Close()
		s.reply(552, "quota exceeded")
	})
	fs.handle("SIZE", func(s *fakeSession, _ string) { s.reply(213, "65536") })
	c := dial(t, fs.addr, ftpclient.WithPoolSize(1))
	ctx := testCtx(t)
	_, err := c.Store(ctx, "/f", bytes.NewReader(pattern(32<<20)), 0)
	if ftp.CodeOf(err) != ftp.CodeExceededStorage {
		t.Fatalf("Store: %v, want the 552", err)
	}
	if size, err := c.Size(ctx, "/f"); err != nil || size != 65536 {
		t.Fatalf("Size after the refused upload: %d, %v", size, err)
	}
}

func TestTLSUploadEndsCleanly(t *testing.T) {
	t.Parallel()
	// A TLS 1.3 server sends session tickets on the data connection after
	// the handshake. An upload never reads them, and closing a socket with
	// unread data sends a reset, which can destroy the end of the upload
	// at a server that has not read it yet (vsftpd: 426). The server here
	// is slow to read, so that a reset would arrive first.
	cert, roots := testCert(t)
	fs := startFake(t)
	fs.tls = &tls.Config{Certificates: []tls.Certificate{cert}}
	// crypto/tls sends its tickets with its Finished message unless it
	// asks for a client certificate, which it does in full handshakes
	// only: the data connections get other ticket keys, so that they do
	// not resume, and ask for a certificate.
	fs.dataTLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	fs.dataTLS.SetSessionTicketKeys([][32]byte{{1}})
	data := pattern(8 << 20) // more than the socket buffers hold
	fs.handle("STOR", func(s *fakeSession, _ string) {
		s.reply(150, "send it")
		dc := s.accept()
		if dc == nil {
			s.reply(425, "no data connection")
			return
		}
		time.Sleep(100 * time.Millisecond)
		got, err := io.ReadAll(dc)
		dc.Close()
		if err != nil || !bytes.Equal(got, data) {
			s.reply(426, "Failure reading network stream.")
			return
		}
		s.reply(226, "done")
	})
	c := dial(t, fs.addr, ftpclient.WithTLS(&tls.Config{RootCAs: roots}))
	if _, err := c.Store(testCtx(t), "/f", bytes.NewReader(data), 0); err != nil {
		t.Fatal(err)
	}
}

func TestPROTAfterLogin(t *testing.T) {
	t.Parallel()
	// Some servers take PBSZ and PROT only once logged in.
	cert, roots := testCert(t)
	fs := startFake(t)
	fs.tls = &tls.Config{Certificates: []tls.Certificate{cert}}
	var loggedIn atomic.Bool
	fs.handle("PASS", func(s *fakeSession, _ string) {
		loggedIn.Store(true)
		s.reply(230, "logged in")
	})
	for _, verb := range []string{"PBSZ", "PROT"} {
		fs.handle(verb, func(s *fakeSession, arg string) {
			if !loggedIn.Load() {
				s.reply(530, "Please login with USER and PASS.")
				return
			}
			s.protP = verb == "PROT" && arg == "P"
			s.reply(200, verb+" ok")
		})
	}
	fs.handle("RETR", func(s *fakeSession, _ string) {
		if !s.protP {
			s.reply(521, "PROT P required")
			return
		}
		s.sendData([]byte("protected"))
	})
	c := dial(t, fs.addr, ftpclient.WithTLS(&tls.Config{RootCAs: roots}))
	var buf bytes.Buffer
	if _, err := c.Retrieve(testCtx(t), "/f", 0, &buf); err != nil || buf.String() != "protected" {
		t.Fatalf("Retrieve: %q, %v", buf.String(), err)
	}
}
