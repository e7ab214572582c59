package ftpclient_test

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

func TestIPv6(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	for _, active := range []bool{false, true} {
		mfs := memfs.New()
		ts := (&testServer{fs: mfs, listenAddr: "[::1]:0"}).start(t, aliceOnly(mfs))
		trace := &syncBuffer{}
		c := dial(t, ts.addr, ftpclient.WithActive(active), ftpclient.WithDebug(trace))
		ctx := testCtx(t)
		data := pattern(70000)
		if _, err := c.Store(ctx, "/six", bytes.NewReader(data), 0); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := c.Retrieve(ctx, "/six", 0, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("active=%v: Retrieve: %v", active, err)
		}
		want := "> EPSV"
		if active {
			want = "> EPRT |2|::1|"
		}
		if !strings.Contains(trace.String(), want) {
			t.Fatalf("active=%v: no %q in the trace:\n%s", active, want, trace)
		}
	}
}
