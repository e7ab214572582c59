package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestIsTemporary(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&ftp.Error{Code: 421, Msg: "Too many users"}, true},
		{fmt.Errorf("retrieve: %w", &ftp.Error{Code: 451, Msg: "local error"}), true},
		{&ftp.Error{Code: 425, Msg: "Can't open data connection"}, true},
		{&ftp.Error{Code: 550, Msg: "No such file"}, false},
		{&ftp.Error{Code: 530, Msg: "Login incorrect"}, false},
		{&fs.PathError{Op: "retrieve", Path: "/x", Err: syscall.ECONNRESET}, true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{io.ErrUnexpectedEOF, true},
		{context.Canceled, false},
		{fmt.Errorf("x: %w", ftpclient.ErrUnsupported), false},
		{permanent(syscall.ENOSPC), false},
		{permanent(&fs.PathError{Op: "write", Path: "f", Err: syscall.EIO}), false},
		{&net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}, false},
		{errors.New("something else"), false},
	}
	for _, c := range cases {
		if got := isTemporary(c.err); got != c.want {
			t.Errorf("isTemporary(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestRetrierBacksOff(t *testing.T) {
	t.Parallel()
	var notes strings.Builder
	r := &retrier{retries: 3, wait: 20 * time.Millisecond, notify: &notes}
	var times []time.Time
	err := r.do(context.Background(), "op", func(attempt int) error {
		times = append(times, time.Now())
		if attempt < 3 {
			return &ftp.Error{Code: 421, Msg: "busy"}
		}
		return nil
	})
	if err != nil || len(times) != 3 {
		t.Fatalf("do: %v after %d attempts", err, len(times))
	}
	// Waits of [10,20] ms, then [20,40] ms: the second is not shorter
	// than the first's lower bound doubled.
	if d := times[2].Sub(times[1]); d < 20*time.Millisecond {
		t.Errorf("second wait %v, want at least 20ms", d)
	}
	if c := strings.Count(notes.String(), "retrying"); c != 2 {
		t.Errorf("%d retry notices:\n%s", c, notes.String())
	}

	// A permanent error is not retried; retries run out.
	attempts := 0
	err = r.do(context.Background(), "op", func(int) error { attempts++; return &ftp.Error{Code: 550, Msg: "no"} })
	if err == nil || attempts != 1 {
		t.Errorf("permanent error: %v after %d attempts", err, attempts)
	}
	attempts = 0
	err = r.do(context.Background(), "op", func(int) error { attempts++; return io.ErrUnexpectedEOF })
	if err == nil || attempts != 4 {
		t.Errorf("temporary error: %v after %d attempts, want 4", err, attempts)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"1000", 1000, false},
		{"500K", 500 << 10, false},
		{"500k", 500 << 10, false},
		{"8M", 8 << 20, false},
		{"8MB", 8 << 20, false},
		{"8MiB/s", 8 << 20, false},
		{"1.5G", 3 << 29, false},
		{"0.5K", 512, false},
		{"fast", 0, true},
		{"-1K", 0, true},
		{"K", 0, true},
		{"1T", 0, true},
	}
	for _, c := range cases {
		got, err := parseRate(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseRate(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestRateLimitWriter(t *testing.T) {
	t.Parallel()
	l := newRateLimit(100 << 10)
	start := time.Now()
	n, err := io.Copy(l.writer(context.Background(), io.Discard), strings.NewReader(strings.Repeat("x", 60<<10)))
	if err != nil || n != 60<<10 {
		t.Fatalf("copy: %d, %v", n, err)
	}
	// 60 KiB at 100 KiB/s with a 10 KiB burst: about half a second.
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("60 KiB at 100K took only %v", d)
	}
	if newRateLimit(0).writer(context.Background(), io.Discard) != io.Discard {
		t.Error("no limit still wraps the writer")
	}
}

// A server that is full answers 421; the command waits and tries again.
func TestConnectRetriesBusyServer(t *testing.T) {
	t.Parallel()
	ts := startFTP(t, withServer(func(s *ftpserver.Server) { s.MaxSessions = 1 }))
	ts.put(t, "f.txt", []byte("patience"))
	hog, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	hogGreeting := make([]byte, 3)
	io.ReadFull(hog, hogGreeting)
	if string(hogGreeting) != "220" {
		t.Fatalf("the first session got %q", hogGreeting)
	}
	time.AfterFunc(400*time.Millisecond, func() { hog.Close() })

	out, stderr := mustFerry(t, "cat", "--retry-wait", "100ms", ts.url("f.txt"))
	if out != "patience" {
		t.Errorf("cat printed %q", out)
	}
	if !strings.Contains(stderr, "421") || !strings.Contains(stderr, "retrying") {
		t.Errorf("no retry after 421 in the output:\n%s", stderr)
	}
}
