package config

import (
	"math"
	"net"
	"net/netip"
	"net/textproto"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// defaultDefender is the [defender] table of default.toml.
var defaultDefender = Defender{
	Enabled:            true,
	Window:             Duration{10 * time.Minute},
	MaxFailures:        10,
	Ban:                Duration{15 * time.Minute},
	MaxBan:             Duration{24 * time.Hour},
	Allow:              []string{},
	LoginFailureWeight: 1,
	BadCommandWeight:   0.2,
	RefusedDataWeight:  1,
}

// The default table builds a server Defender with the library's
// defaults, under which a few typos never ban and a guesser is banned
// after ten failures.
func TestDefenderDefaultsBuild(t *testing.T) {
	t.Parallel()
	d := build(t, validConfig(t)).Defender
	want := &ftpserver.Defender{
		Window:             ftpserver.DefaultDefenderWindow,
		MaxFailures:        ftpserver.DefaultDefenderMaxFailures,
		Ban:                ftpserver.DefaultDefenderBan,
		MaxBan:             ftpserver.DefaultDefenderMaxBan,
		LoginFailureWeight: ftpserver.DefaultLoginFailureWeight,
		BadCommandWeight:   ftpserver.DefaultBadCommandWeight,
		RefusedDataWeight:  ftpserver.DefaultRefusedDataWeight,
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Defender %+v\nwant %+v", d, want)
	}
}

func TestDefenderKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ferry.toml")
	writeFile(t, path, `root = "."
[defender]
window = "1h"
max_failures = 5
ban = "1m"
max_ban = "1h"
allow = ["192.0.2.0/24", "2001:db8::7", "::ffff:198.51.100.1"]
login_failure_weight = 2
bad_command_weight = 0
refused_data_weight = 0.5
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Defender{
		Enabled:            true,
		Window:             Duration{time.Hour},
		MaxFailures:        5,
		Ban:                Duration{time.Minute},
		MaxBan:             Duration{time.Hour},
		Allow:              []string{"192.0.2.0/24", "2001:db8::7", "::ffff:198.51.100.1"},
		LoginFailureWeight: 2,
		RefusedDataWeight:  0.5,
	}
	if !reflect.DeepEqual(c.Defender, want) {
		t.Fatalf("[defender] = %+v\nwant %+v", c.Defender, want)
	}
	d := build(t, c).Defender
	wantD := &ftpserver.Defender{
		Window:             time.Hour,
		MaxFailures:        5,
		Ban:                time.Minute,
		MaxBan:             time.Hour,
		Allow:              []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::7/128"), netip.MustParsePrefix("198.51.100.1/32")},
		LoginFailureWeight: 2,
		BadCommandWeight:   -1, // 0 in the file: not counted
		RefusedDataWeight:  0.5,
	}
	if !reflect.DeepEqual(d, wantD) {
		t.Errorf("Defender %+v\nwant %+v", d, wantD)
	}
}

func TestDefenderDisabled(t *testing.T) {
	t.Parallel()
	c := validConfig(t)
	c.Defender.Enabled = false
	c.Defender.MaxFailures = -1 // not checked when off
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := build(t, c).Defender; d != nil {
		t.Errorf("Defender %+v with enabled = false, want nil", d)
	}
}

func TestValidateDefender(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Defender)
		want   string
	}{
		{"window", func(d *Defender) { d.Window.Duration = 0 }, `defender.window: must be positive, got "0s"`},
		{"max failures", func(d *Defender) { d.MaxFailures = 0 }, "defender.max_failures: must be at least 1, got 0"},
		{"ban", func(d *Defender) { d.Ban.Duration = -time.Minute }, `defender.ban: must be positive, got "-1m0s"`},
		{"max ban", func(d *Defender) { d.MaxBan.Duration = time.Minute }, `defender.max_ban: must be at least ban (15m0s), got "1m0s"`},
		{"allow", func(d *Defender) { d.Allow = []string{"10.0.0.0/33"} }, `defender.allow: want a CIDR such as "192.0.2.0/24" or an address, got "10.0.0.0/33"`},
		{"allow name", func(d *Defender) { d.Allow = []string{"office.example.com"} }, `defender.allow: want a CIDR`},
		{"weight", func(d *Defender) { d.BadCommandWeight = -0.5 }, "defender.bad_command_weight: must not be negative (0 means not counted), got -0.5"},
		{"weight infinite", func(d *Defender) { d.LoginFailureWeight = math.Inf(1) }, "defender.login_failure_weight: must be at most 1000"},
		{"no weights", func(d *Defender) { d.LoginFailureWeight, d.BadCommandWeight, d.RefusedDataWeight = 0, 0, 0 }, "defender: every weight is 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig(t)
			tc.change(&c.Defender)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDefenderWrongType(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ferry.toml")
	writeFile(t, path, "[defender]\nbad_command_weight = \"low\"\n")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "a number") {
		t.Errorf("Load = %v, want an error asking for a number", err)
	}
}

// A server built from the configuration bans a guesser: after
// max_failures failed logins its next failure gets 421, and so does its
// next connection.
func TestDefenderBuiltServerBans(t *testing.T) {
	t.Parallel()
	c := validConfig(t)
	c.LoginFailDelay.Duration = 0
	c.Defender.MaxFailures = 2
	inst := buildInstance(t, c)
	addr, _ := serve(t, inst, false)

	guesser := dialFTP(t, addr)
	for range 2 {
		guesser.cmd(331, "USER guesser")
		guesser.cmd(530, "PASS wrong")
	}
	guesser.cmd(331, "USER guesser")
	guesser.cmd(421, "PASS wrong")

	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if code, msg, err := textproto.NewConn(conn).ReadResponse(0); code != 421 {
		t.Fatalf("banned address connecting: %d %q (%v), want 421", code, msg, err)
	}
	if bans := inst.Server.Defender.Bans(); len(bans) != 1 || bans[0].Addr != netip.MustParsePrefix("127.0.0.1/32") {
		t.Errorf("bans %v, want 127.0.0.1", bans)
	}
}
