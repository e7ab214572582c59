package ftpclient_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// fxpServer starts a ferry server for alice on listen ("127.0.0.1:0"
// when empty), with FTPS when secure.
func fxpServer(t *testing.T, listen string, secure bool, mutate ...func(*ftpserver.Server)) *testServer {
	t.Helper()
	mfs := memfs.New()
	ts := &testServer{fs: mfs, listenAddr: listen}
	if secure {
		cert, roots := testCert(t)
		ts.roots = roots
		mutate = append([]func(*ftpserver.Server){func(s *ftpserver.Server) {
			s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}}, mutate...)
	}
	return ts.start(t, aliceOnly(mfs), mutate...)
}

func allowFXP(s *ftpserver.Server) { s.AllowFXP = true }

// fxpClient dials ts with a trace; from binds its control connections to
// that local address ("" for any). With TLS when ts has it.
func fxpClient(t *testing.T, ts *testServer, from string, trace *syncBuffer) *ftpclient.Client {
	t.Helper()
	opts := []ftpclient.Option{ftpclient.WithDebug(trace), ftpclient.WithPoolSize(1)}
	if ts.roots != nil {
		opts = append(opts, ftpclient.WithTLS(&tls.Config{RootCAs: ts.roots}))
	}
	if from != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		opts = append(opts, ftpclient.WithDialer(d.DialContext))
	}
	return dial(t, ts.addr, opts...)
}

func mustHave(t *testing.T, trace string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(trace, want) {
			t.Errorf("no %q in the trace:\n%s", want, trace)
		}
	}
}

func sameFile(t *testing.T, fsys *memfs.FS, name string, want []byte) {
	t.Helper()
	got, err := fsys.ReadFile(name)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes of %d, %v", name, len(got), len(want), err)
	}
}

func TestFXPPlain(t *testing.T) {
	t.Parallel()
	content := pattern(3<<20 + 11)
	for _, sourcePassive := range []bool{false, true} {
		// Both servers at the client's own address: no AllowFXP needed.
		src, dst := fxpServer(t, "", false), fxpServer(t, "", false)
		src.fs.WriteFile("/big.bin", content)
		strace, dtrace := &syncBuffer{}, &syncBuffer{}
		sc, dc := fxpClient(t, src, "", strace), fxpClient(t, dst, "", dtrace)
		opts := ftpclient.FXPOptions{
			SourcePassive: sourcePassive,
			OnFallback:    func(err error) { t.Errorf("fell back to streaming: %v", err) },
		}
		if err := ftpclient.Transfer(testCtx(t), sc, "big.bin", dc, "copy.bin", opts); err != nil {
			t.Fatalf("SourcePassive=%v: %v", sourcePassive, err)
		}
		sameFile(t, dst.fs, "/copy.bin", content)
		if sourcePassive {
			mustHave(t, strace.String(), "> PASV", "> RETR /big.bin", "< 226")
			mustHave(t, dtrace.String(), "> PORT 127,0,0,1,", "> STOR /copy.bin", "< 226")
		} else {
			mustHave(t, dtrace.String(), "> PASV", "> STOR /copy.bin", "< 226")
			mustHave(t, strace.String(), "> PORT 127,0,0,1,", "> RETR /big.bin", "< 226")
		}
		// The connections go back to the pools in a usable state.
		var buf bytes.Buffer
		if _, err := dc.Retrieve(testCtx(t), "/copy.bin", 0, &buf); err != nil || buf.Len() != len(content) {
			t.Fatalf("download after FXP: %d bytes, %v", buf.Len(), err)
		}
	}
}

// The destination listens on 127.0.0.2: the source, whose client is at
// 127.0.0.1, refuses PORT to a foreign address unless AllowFXP is set.
func TestFXPRefusedFallsBack(t *testing.T) {
	t.Parallel()
	content := pattern(1<<20 + 5)
	src, dst := fxpServer(t, "", false), fxpServer(t, "127.0.0.2:0", false)
	src.fs.WriteFile("/f.bin", content)
	strace := &syncBuffer{}
	sc, dc := fxpClient(t, src, "", strace), fxpClient(t, dst, "", &syncBuffer{})
	ctx := testCtx(t)

	err := ftpclient.FXP(ctx, sc, "/f.bin", dc, "/copy.bin", ftpclient.FXPOptions{})
	var te *ftpclient.TransferError
	if !errors.Is(err, ftpclient.ErrFXPRefused) || !errors.As(err, &te) || te.Side != ftpclient.Source || ftp.CodeOf(err) != 500 {
		t.Fatalf("FXP to a foreign address: %v, want a refusal by the source (500)", err)
	}
	if strings.Contains(strace.String(), "> EPRT") || strings.Contains(strace.String(), "> RETR") {
		t.Errorf("went on after the refused PORT:\n%s", strace)
	}
	if _, err := dst.fs.ReadFile("/copy.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("FXP refused but the copy exists: %v", err)
	}

	err = ftpclient.Transfer(ctx, sc, "/f.bin", dc, "/copy.bin", ftpclient.FXPOptions{NoFallback: true})
	if !errors.Is(err, ftpclient.ErrFXPRefused) {
		t.Fatalf("Transfer with NoFallback: %v", err)
	}

	var fallbacks []error
	opts := ftpclient.FXPOptions{OnFallback: func(err error) { fallbacks = append(fallbacks, err) }}
	if err := ftpclient.Transfer(ctx, sc, "/f.bin", dc, "/copy.bin", opts); err != nil {
		t.Fatal(err)
	}
	if len(fallbacks) != 1 || !errors.Is(fallbacks[0], ftpclient.ErrFXPRefused) {
		t.Errorf("OnFallback calls: %v", fallbacks)
	}
	sameFile(t, dst.fs, "/copy.bin", content)

	// Allowed: the same servers talk to each other.
	src2 := fxpServer(t, "", false, allowFXP)
	src2.fs.WriteFile("/f.bin", content)
	sc2 := fxpClient(t, src2, "", &syncBuffer{})
	if err := ftpclient.FXP(ctx, sc2, "/f.bin", dc, "/copy2.bin", ftpclient.FXPOptions{}); err != nil {
		t.Fatalf("FXP with AllowFXP: %v", err)
	}
	sameFile(t, dst.fs, "/copy2.bin", content)
}

// A refusal of the file itself is final: streaming would meet it too.
func TestFXPFileRefused(t *testing.T) {
	t.Parallel()
	src, dst := fxpServer(t, "", false), fxpServer(t, "", false)
	src.fs.WriteFile("/f.bin", []byte("data"))
	dst.fs.Mkdir(context.Background(), "/dir")
	sc, dc := fxpClient(t, src, "", &syncBuffer{}), fxpClient(t, dst, "", &syncBuffer{})
	ctx := testCtx(t)
	opts := ftpclient.FXPOptions{OnFallback: func(err error) { t.Errorf("fell back: %v", err) }}

	for _, tc := range []struct {
		from, to string
		side     ftpclient.Side
	}{
		{"/missing", "/copy", ftpclient.Source},
		{"/f.bin", "/dir", ftpclient.Destination}, // a directory is in the way
	} {
		err := ftpclient.Transfer(ctx, sc, tc.from, dc, tc.to, opts)
		var te *ftpclient.TransferError
		if !errors.As(err, &te) || te.Side != tc.side || te.Refused || errors.Is(err, ftpclient.ErrFXPRefused) || ftp.CodeOf(err) != 550 {
			t.Errorf("%s -> %s: %v (%+v), want a final 550 from the %s", tc.from, tc.to, err, te, tc.side)
		}
	}
	// Both clients still work: the aborted side's connection was replaced.
	if err := ftpclient.Transfer(ctx, sc, "/f.bin", dc, "/ok", opts); err != nil {
		t.Fatal(err)
	}
	sameFile(t, dst.fs, "/ok", []byte("data"))
}

// Over TLS one server takes the TLS client role: CPSV on the listening
// server (IPv4). The client is at 127.0.0.9, so each server sees the
// other as a foreign address (AllowFXP).
func TestFXPTLS(t *testing.T) {
	t.Parallel()
	content := pattern(2<<20 + 3)
	src, dst := fxpServer(t, "", true, allowFXP), fxpServer(t, "", true, allowFXP)
	src.fs.WriteFile("/big.bin", content)
	strace, dtrace := &syncBuffer{}, &syncBuffer{}
	sc, dc := fxpClient(t, src, "127.0.0.9", strace), fxpClient(t, dst, "127.0.0.9", dtrace)
	ctx := testCtx(t)
	opts := ftpclient.FXPOptions{OnFallback: func(err error) { t.Errorf("fell back: %v", err) }}
	if err := ftpclient.Transfer(ctx, sc, "/big.bin", dc, "/copy.bin", opts); err != nil {
		t.Fatal(err)
	}
	sameFile(t, dst.fs, "/copy.bin", content)
	mustHave(t, dtrace.String(), "> CPSV", "< 227 ", "> STOR /copy.bin")
	mustHave(t, strace.String(), "> PORT 127,0,0,1,", "> RETR /big.bin")

	// TLS on one side only: refused, and streamed instead.
	plain := fxpServer(t, "", false, allowFXP)
	pc := fxpClient(t, plain, "127.0.0.9", &syncBuffer{})
	err := ftpclient.FXP(ctx, sc, "/big.bin", pc, "/p.bin", ftpclient.FXPOptions{})
	var te *ftpclient.TransferError
	if !errors.Is(err, ftpclient.ErrFXPRefused) || !errors.As(err, &te) || te.Side != ftpclient.Destination {
		t.Fatalf("FXP from TLS to clear: %v", err)
	}
	if err := ftpclient.Transfer(ctx, sc, "/big.bin", pc, "/p.bin", ftpclient.FXPOptions{}); err != nil {
		t.Fatal(err)
	}
	sameFile(t, plain.fs, "/p.bin", content)
}

// On IPv6 there is no CPSV (it answers 227): the source gets SSCN ON,
// the destination EPSV, and SSCN OFF restores the source's connection for
// the client's own transfers. Both servers and the client share ::1, so
// the data connection between the servers cannot be told from the
// client's: reuse of TLS sessions must be relaxed for FXP there.
func TestFXPTLSSSCN(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	unresumed := func(s *ftpserver.Server) { s.TLS.AllowUnresumedData = true }
	content := pattern(1<<20 + 77)
	src, dst := fxpServer(t, "[::1]:0", true, unresumed), fxpServer(t, "[::1]:0", true, unresumed)
	src.fs.WriteFile("/big.bin", content)
	strace, dtrace := &syncBuffer{}, &syncBuffer{}
	sc, dc := fxpClient(t, src, "", strace), fxpClient(t, dst, "", dtrace)
	ctx := testCtx(t)
	if err := ftpclient.FXP(ctx, sc, "/big.bin", dc, "/copy.bin", ftpclient.FXPOptions{}); err != nil {
		t.Fatal(err)
	}
	sameFile(t, dst.fs, "/copy.bin", content)
	mustHave(t, strace.String(), "> SSCN ON", "< 200 SSCN:CLIENT METHOD", "> EPRT |2|::1|", "> SSCN OFF", "< 200 SSCN:SERVER METHOD")
	mustHave(t, dtrace.String(), "> EPSV", "> STOR /copy.bin")
	var buf bytes.Buffer
	if _, err := sc.Retrieve(ctx, "/big.bin", 0, &buf); err != nil || !bytes.Equal(buf.Bytes(), content) {
		t.Fatalf("the client's own PROT P download after FXP: %d bytes, %v", buf.Len(), err)
	}
}
