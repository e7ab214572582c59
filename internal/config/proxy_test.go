package config

import (
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestValidateProxyProtocol(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		table ProxyProtocol
		want  []string
	}{
		{"nobody trusted", ProxyProtocol{Enabled: true, HeaderTimeout: Duration{time.Second}},
			[]string{"proxy_protocol.trusted: is empty"}},
		{"bad entries", ProxyProtocol{Enabled: true, Trusted: []string{"10.0.0.0/33", "haproxy.local", "fe80::1%eth0", "::ffff:10.0.0.0/104"}, HeaderTimeout: Duration{time.Second}},
			[]string{`got "10.0.0.0/33"`, `got "haproxy.local"`, `got "fe80::1%eth0"`, `got "::ffff:10.0.0.0/104"`}},
		{"no timeout", ProxyProtocol{Enabled: true, Trusted: []string{"10.0.0.1"}},
			[]string{`proxy_protocol.header_timeout: must be positive, got "0s"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig(t)
			c.ProxyProtocol = tc.table
			err := c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("no %q in:\n%v", want, err)
				}
			}
		})
	}
	// Off, nothing in the table is looked at.
	c := validConfig(t)
	c.ProxyProtocol = ProxyProtocol{Trusted: []string{"junk"}}
	if err := c.Validate(); err != nil {
		t.Errorf("disabled table: %v", err)
	}
}

func TestBuildProxyProtocol(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		table ProxyProtocol
		want  *ftpserver.ProxyProtocol
	}{
		{"off", ProxyProtocol{Trusted: []string{"10.0.0.1"}, HeaderTimeout: Duration{time.Second}}, nil},
		{"on", ProxyProtocol{Enabled: true, Trusted: []string{"10.0.0.9/24", "2001:db8::5", "::ffff:192.0.2.1"}, HeaderTimeout: Duration{3 * time.Second}},
			&ftpserver.ProxyProtocol{
				Trusted: []netip.Prefix{
					netip.MustParsePrefix("10.0.0.0/24"),
					netip.MustParsePrefix("2001:db8::5/128"),
					netip.MustParsePrefix("192.0.2.1/32"),
				},
				HeaderTimeout: 3 * time.Second,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig(t)
			c.ProxyProtocol = tc.table
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			inst, err := c.Build(slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close()
			if got := inst.Server.ProxyProtocol; !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ProxyProtocol = %+v, want %+v", got, tc.want)
			}
		})
	}
}
