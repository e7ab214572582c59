package config

import (
	"net"
	"os"
)

// Admin is the [admin] table: the HTTP server for metrics, the JSON API
// and the dashboard.
type Admin struct {
	// Listen is the HTTP server's address; empty for none.
	Listen string `toml:"listen"`
	// TokenFile holds the bearer token the API requires.
	TokenFile string `toml:"token_file"`
	// MetricsAuth makes /metrics require the token too.
	MetricsAuth bool `toml:"metrics_auth"`
}

func (c *Config) validateAdmin(bad func(key, format string, args ...any)) {
	a := &c.Admin
	if a.Listen == "" {
		return
	}
	if err := checkListenAddr(a.Listen); err != nil {
		bad("admin.listen", "%v", err)
	} else if a.Listen == c.Listen || a.Listen == c.TLS.ImplicitListen {
		if _, port, _ := net.SplitHostPort(a.Listen); port != "0" {
			bad("admin.listen", "is the same address as an FTP listener (%q); the admin server needs a port of its own, such as \"127.0.0.1:8021\"", a.Listen)
		}
	}
	// The API can disconnect sessions and change accounts: it is never
	// served without a token.
	if a.TokenFile == "" {
		bad("admin.token_file", "is required with admin.listen: make one with \"ferry admin token --file FILE\"")
	} else if info, err := os.Stat(a.TokenFile); err != nil {
		bad("admin.token_file", "%v", err)
	} else if !info.Mode().IsRegular() {
		bad("admin.token_file", "%s is not a regular file", a.TokenFile)
	}
}
