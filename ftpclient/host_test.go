package ftpclient_test

import (
	"context"
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
	"github.com/ferry-ftp/ferry/storage/memfs"
)

// startHostServer is startTLSServer with a virtual host b.example: its
// own tree, its own account carol/pb and its own certificate.
func startHostServer(t *testing.T) (*testServer, *testcert.Pair) {
	t.Helper()
	fsB := memfs.New()
	fsB.WriteFile("/b-only.txt", []byte("on B"))
	bPair := testcert.NewFor(t, "b.example")
	b := &ftpserver.VirtualHost{
		Name: "b.example",
		Auth: ftpserver.AuthFunc(func(ctx context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "carol" && pass == "pb" {
				return &ftpserver.Account{User: "carol", FS: fsB}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &bPair.Cert, nil },
	}
	ts := startTLSServer(t, func(s *ftpserver.Server) {
		s.Hosts = func(name string) (*ftpserver.VirtualHost, bool) { return b, name == "b.example" }
	})
	return ts, bPair
}

func TestWithHost(t *testing.T) {
	t.Parallel()
	ts, bPair := startHostServer(t)
	ctx := context.Background()

	trace := &syncBuffer{}
	c := dial(t, ts.addr, ftpclient.WithHost("b.example"), ftpclient.WithLogin("carol", "pb"), ftpclient.WithDebug(trace))
	names, err := c.NameList(ctx, "/")
	if err != nil || !slices.Equal(names, []string{"b-only.txt"}) {
		t.Fatalf("NameList on b.example = %q, %v", names, err)
	}
	out := trace.String()
	if h, u := strings.Index(out, "> HOST b.example"), strings.Index(out, "> USER carol"); h < 0 || u < h {
		t.Errorf("HOST not sent before USER:\n%s", out)
	}

	// Over TLS, HOST goes first, so the server presents b.example's
	// certificate, which the client checks against b.example without
	// being told the name.
	c = dial(t, ts.addr, ftpclient.WithHost("b.example"), ftpclient.WithLogin("carol", "pb"),
		ftpclient.WithTLS(&tls.Config{RootCAs: bPair.Roots}))
	var got strings.Builder
	if _, err := c.Retrieve(ctx, "/b-only.txt", 0, &got); err != nil || got.String() != "on B" {
		t.Fatalf("PROT P RETR on b.example = %q, %v", got.String(), err)
	}

	for _, opt := range []ftpclient.Option{ftpclient.WithHost("nosuch.example"), ftpclient.WithHost("b.example\r\nDELE x")} {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := ftpclient.Dial(dctx, ts.addr, opt, ftpclient.WithLogin("carol", "pb"))
		cancel()
		if err == nil {
			c.Close()
			t.Error("Dial with a bad virtual host succeeded")
		} else if !strings.Contains(err.Error(), "HOST") {
			t.Errorf("Dial with a bad virtual host: %v", err)
		}
	}
}
