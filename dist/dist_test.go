package dist

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/config"
)

// unit is a systemd unit file: section → key → values, in order (a key
// may be given more than once).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			key = strings.TrimSpace(key)
			u[section][key] = append(u[section][key], strings.TrimSpace(value))
		}
	}
	return u
}

// words returns the space-separated words of every value of key.
func (u unit) words(section, key string) []string {
	var out []string
	for _, v := range u[section][key] {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

func TestServiceUnitHardening(t *testing.T) {
	t.Parallel()
	u := parseUnit(t, "ferry.service")
	svc := u["Service"]
	if svc == nil {
		t.Fatal("no [Service] section")
	}
	one := func(key string) string {
		t.Helper()
		if len(svc[key]) != 1 {
			t.Errorf("%s: want one value, got %q", key, svc[key])
			return ""
		}
		return svc[key][0]
	}
	if got, want := one("ExecStart"), "/usr/local/bin/ferry serve --config /etc/ferry/ferry.toml"; got != want {
		t.Errorf("ExecStart=%s, want %s", got, want)
	}
	if got := strings.Fields(one("ExecReload")); !slices.Equal(got, []string{"/bin/kill", "-HUP", "$MAINPID"}) {
		t.Errorf("ExecReload=%s: want SIGHUP to the main process", strings.Join(got, " "))
	}
	if one("User") != "ferry" && one("DynamicUser") != "yes" {
		t.Errorf("neither a dedicated user nor DynamicUser")
	}
	for key, want := range map[string]string{
		"ProtectSystem":   "strict",
		"ProtectHome":     "yes",
		"PrivateTmp":      "yes",
		"NoNewPrivileges": "yes",
		"LimitNOFILE":     "65536",
	} {
		if got := one(key); got != want {
			t.Errorf("%s=%s, want %s", key, got, want)
		}
	}
	for _, key := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		if got := u.words("Service", key); !slices.Equal(got, []string{"CAP_NET_BIND_SERVICE"}) {
			t.Errorf("%s=%q, want CAP_NET_BIND_SERVICE alone", key, got)
		}
	}
	rw := u.words("Service", "ReadWritePaths")
	for _, p := range []string{"/srv/ftp", "/var/log/ferry"} {
		if !slices.Contains(rw, p) {
			t.Errorf("ReadWritePaths=%q lacks %s", rw, p)
		}
	}
	families := u.words("Service", "RestrictAddressFamilies")
	slices.Sort(families)
	if !slices.Equal(families, []string{"AF_INET", "AF_INET6", "AF_UNIX"}) {
		t.Errorf("RestrictAddressFamilies=%q", families)
	}
	if got := u.words("Service", "SystemCallFilter"); !slices.Contains(got, "@system-service") {
		t.Errorf("SystemCallFilter=%q lacks @system-service", got)
	}
	if got := u["Install"]["WantedBy"]; !slices.Equal(got, []string{"multi-user.target"}) {
		t.Errorf("WantedBy=%q", got)
	}
}

// systemd-analyze verify, when installed, reads the unit as systemd does:
// an unknown key or a bad value is a warning on its output.
func TestServiceUnitVerify(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	data, err := os.ReadFile("ferry.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify wants ExecStart's program to exist: any executable stands
	// in for /usr/local/bin/ferry.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ferry.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(data), "/usr/local/bin/ferry", self)), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The example configuration has only known keys, validates once its
// directories exist, and writes the xferlog logrotate rotates, in the
// directory the unit lets it write.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	c, err := config.Load("ferry.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != "/srv/ftp" || c.Listen != ":21" || c.XferlogFile != "/var/log/ferry/xferlog" {
		t.Errorf("root %q, listen %q, xferlog_file %q", c.Root, c.Listen, c.XferlogFile)
	}
	abs, _ := filepath.Abs("users.toml")
	if c.UsersFile != abs {
		t.Errorf("users_file %q, want %q (beside the configuration)", c.UsersFile, abs)
	}
	dir := t.TempDir()
	c.Root, c.UsersFile, c.XferlogFile = dir, filepath.Join(dir, "users.toml"), filepath.Join(dir, "xferlog")
	os.WriteFile(c.UsersFile, nil, 0o600)
	if err := c.Validate(); err != nil {
		t.Errorf("the example does not validate: %v", err)
	}

	rotate, err := os.ReadFile("ferry.logrotate")
	if err != nil {
		t.Fatal(err)
	}
	text := string(rotate)
	if !strings.Contains(text, "\n/var/log/ferry/xferlog {") {
		t.Errorf("ferry.logrotate does not rotate /var/log/ferry/xferlog:\n%s", text)
	}
	if !strings.Contains(text, "create 0600 ferry ferry") {
		t.Errorf("ferry.logrotate does not recreate the file as the unit's user, mode 0600")
	}
	post := text[strings.Index(text, "postrotate"):strings.Index(text, "endscript")]
	if !strings.Contains(post, "--signal=HUP") || !strings.Contains(post, "ferry.service") {
		t.Errorf("postrotate does not send SIGHUP to ferry: %s", post)
	}
}
