package config

import (
	"strings"
	"testing"
)

// A configuration file is written by hand: whatever it holds, decoding
// and validating it must end in a Config or an error that names the file,
// never a panic (decodeError digs line and key out of the text).
func FuzzDecodeConfig(f *testing.F) {
	f.Add(DefaultTOML())
	for _, seed := range []string{
		"listen = \":2121\"\nroot = \"/srv/ftp\"\n",
		"passive_ports = \"50000-50100\"\nidle_timeout = \"5m\"\n",
		"[anonymous]\nenabled = true\nupload_dir = \"/incoming\"\n",
		"[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\nrequired = true\n",
		"[s3]\nendpoint = \"127.0.0.1:9000\"\npart_size = \"16MiB\"\n",
		"[proxy_protocol]\ntrusted = [\"10.0.0.0/8\"]\n",
		"max_sessions = 99999999999999999999\n",
		"idle_timeout = \"-5x\"\n",
		"unknown_key = 1\n",
		"[anonymous\nenabled = tru\n",
		"listen = \"\u00e9\u00e9\"\n\n\n[[x]]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Default()
		if err := decode("ferry.toml", data, c); err != nil {
			if !strings.Contains(err.Error(), "ferry.toml") {
				t.Fatalf("decoding error does not name the file: %v", err)
			}
			return
		}
		c.Validate() // must not panic; any error is fine
	})
}
