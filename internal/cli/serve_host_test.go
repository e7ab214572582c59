package cli

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/internal/testcert"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// hostsServe is a real "ferry serve" process with two [[host]] tables:
// a.example (anonymous, its own root and banner) and b.example (its own
// users file with carol, its own certificate), beside a top-level root
// and certificate.
type hostsServe struct {
	addr                string
	dir                 string
	bCertFile, bKeyFile string
	topCertFile         string
	signal              func(os.Signal)
	logs                *syncBuffer
	aRoot, bRoot, cHome string
}

func startHostsServe(t *testing.T) *hostsServe {
	t.Helper()
	bin := buildFerry(t)
	dir := t.TempDir()
	h := &hostsServe{dir: dir}
	top := filepath.Join(dir, "top")
	h.aRoot, h.bRoot, h.cHome = filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "carol")
	for name, root := range map[string]string{"top.txt": top, "a.txt": h.aRoot, "b.txt": h.bRoot, "carol.txt": h.cHome} {
		os.MkdirAll(root, 0o755)
		if err := os.WriteFile(filepath.Join(root, name), []byte("this is "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	users, err := auth.LoadOrCreateUsers(filepath.Join(dir, "b-users.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Add("carol", "carol-pw", h.cHome, true); err != nil {
		t.Fatal(err)
	}
	if err := users.Save(); err != nil {
		t.Fatal(err)
	}
	h.topCertFile, _ = makeCert(t, dir)
	h.bCertFile, h.bKeyFile = testcert.NewFor(t, "b.example").WriteFiles(t, t.TempDir())
	cfg := filepath.Join(dir, "ferry.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, `root = "top"
passive_ports = ""
log_format = "json"

[anonymous]
enabled = true

[tls]
cert_file = "cert.pem"
key_file = "key.pem"

[[host]]
name = "a.example"
root = "a"
banner = "Welcome to A."

[[host]]
name = "b.example"
root = "b"
users_file = "b-users.toml"
cert_file = %q
key_file = %q
`, h.bCertFile, h.bKeyFile), 0o644)
	cmd, addr, logs := startBinaryLogged(t, bin, "--config", cfg)
	h.addr, h.logs = addr, logs
	h.signal = func(sig os.Signal) {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestServeVirtualHosts(t *testing.T) {
	t.Parallel()
	h := startHostsServe(t)

	// Raw commands: each host's banner, accounts and tree.
	c := ftpDial(t, h.addr)
	if msg := ftpCmd(t, c, 220, "HOST A.EXAMPLE"); msg != "Welcome to A." {
		t.Errorf("HOST a.example: %q", msg)
	}
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 230, "PASS x")
	ftpCmd(t, c, 503, "HOST b.example")
	c = ftpDial(t, h.addr)
	ftpCmd(t, c, 504, "HOST c.example")
	ftpCmd(t, c, 220, "HOST b.example")
	ftpCmd(t, c, 331, "USER anonymous")
	ftpCmd(t, c, 530, "PASS x") // b.example has accounts of its own: no anonymous
	ftpCmd(t, c, 331, "USER carol")
	ftpCmd(t, c, 230, "PASS carol-pw")

	// ferry's own client: --vhost sends HOST before login.
	base := "ftp://carol:carol-pw@" + h.addr + "/"
	if out, _ := mustFerry(t, "ls", "--vhost", "b.example", base); !strings.Contains(out, "carol.txt") {
		t.Errorf("ls --vhost b.example printed %q", out)
	}
	if _, _, err := ferry(t, "ls", "--retry-wait", "1ms", base); err == nil {
		t.Error("carol logged in without HOST b.example")
	}
	if out, _ := mustFerry(t, "ls", "--vhost", "a.example", "ftp://anonymous:x@"+h.addr+"/"); !strings.Contains(out, "a.txt") {
		t.Errorf("ls --vhost a.example printed %q", out)
	}
	// Over TLS the client checks b.example's own certificate against
	// the name b.example.
	got := filepath.Join(t.TempDir(), "carol.txt")
	mustFerry(t, "get", "--vhost", "b.example", "--ca", h.bCertFile, "ftpes://carol:carol-pw@"+h.addr+"/carol.txt", got)
	if data, err := os.ReadFile(got); err != nil || string(data) != "this is carol.txt" {
		t.Errorf("get over TLS from b.example: %q, %v", data, err)
	}

	// SNI before HOST: a Go TLS client naming b.example is answered with
	// b.example's certificate (verified against it), others with the
	// server's own.
	c, raw := dialRaw(t, h.addr)
	bConf := trust(t, h.bCertFile)
	bConf.ServerName = "b.example"
	c, tc := authTLS(t, c, raw, bConf)
	if name := tc.ConnectionState().PeerCertificates[0].DNSNames[0]; name != "b.example" {
		t.Errorf("SNI b.example answered with a certificate for %q", name)
	}
	ftpCmd(t, c, 504, "HOST a.example")
	ftpCmd(t, c, 220, "HOST b.example")
	ftpCmd(t, c, 331, "USER carol")
	ftpCmd(t, c, 230, "PASS carol-pw")
	c, raw = dialRaw(t, h.addr)
	_, tc = authTLS(t, c, raw, trust(t, h.topCertFile))
	if names := tc.ConnectionState().PeerCertificates[0].DNSNames; slices.Contains(names, "b.example") {
		t.Errorf("a client naming no host got b.example's certificate")
	}

	// The log says which host a session chose.
	testwait.For(t, "the log to name the virtual host", func() bool {
		log := h.logs.String()
		return strings.HasSuffix(log, "\n") &&
			findLog(jsonLogLines(t, log), "logged in", map[string]any{"host": "b.example", "user": "carol"}) != nil
	})
}

// SIGHUP reloads a host's certificate and users file.
func TestServeVirtualHostsReload(t *testing.T) {
	t.Parallel()
	h := startHostsServe(t)
	leaf := func() []byte {
		t.Helper()
		c, raw := dialRaw(t, h.addr)
		conf := &tls.Config{InsecureSkipVerify: true, ServerName: "b.example"}
		_, tc := authTLS(t, c, raw, conf)
		return tc.ConnectionState().PeerCertificates[0].Raw
	}
	first := leaf()
	h.bCertFile, h.bKeyFile = testcert.NewFor(t, "b.example").WriteFiles(t, filepath.Dir(h.bCertFile))
	users, err := auth.LoadUsers(filepath.Join(h.dir, "b-users.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Add("dan", "dan-pw", h.cHome, false); err != nil {
		t.Fatal(err)
	}
	if err := users.Save(); err != nil {
		t.Fatal(err)
	}
	h.signal(syscall.SIGHUP)
	var reloaded map[string]any
	testwait.For(t, "the log to say what SIGHUP reloaded", func() bool {
		log := h.logs.String()
		if !strings.HasSuffix(log, "\n") {
			return false
		}
		reloaded = findLog(jsonLogLines(t, log), "SIGHUP: reloaded", nil)
		return reloaded != nil
	})
	what, _ := reloaded["what"].([]any)
	for _, want := range []string{"certificate", "certificate of host b.example", "users file of host b.example"} {
		if !slices.Contains(what, any(want)) {
			t.Errorf("SIGHUP reloaded %v, want %q among them", what, want)
		}
	}
	if slices.Equal(leaf(), first) {
		t.Error("b.example's certificate is the old one after SIGHUP")
	}
	c := ftpDial(t, h.addr)
	ftpCmd(t, c, 220, "HOST b.example")
	ftpCmd(t, c, 331, "USER dan")
	ftpCmd(t, c, 230, "PASS dan-pw")
}
