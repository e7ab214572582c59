package config

import (
	"math"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Defender is the [defender] table: bans of addresses that guess
// passwords, flood the server with rejected commands or try to take
// other clients' data connections.
type Defender struct {
	Enabled     bool     `toml:"enabled"`
	Window      Duration `toml:"window"`
	MaxFailures int      `toml:"max_failures"`
	Ban         Duration `toml:"ban"`
	MaxBan      Duration `toml:"max_ban"`
	Allow       []string `toml:"allow"`

	LoginFailureWeight float64 `toml:"login_failure_weight"`
	BadCommandWeight   float64 `toml:"bad_command_weight"`
	RefusedDataWeight  float64 `toml:"refused_data_weight"`
}

// maxWeight bounds a weight: one offence past any sensible max_failures
// already bans.
const maxWeight = 1000

func (c *Config) validateDefender(bad func(key, format string, args ...any)) {
	d := &c.Defender
	if !d.Enabled {
		return
	}
	if d.Window.Duration <= 0 {
		bad("defender.window", "must be positive, got %q", d.Window.String())
	}
	if d.MaxFailures < 1 {
		bad("defender.max_failures", "must be at least 1, got %d", d.MaxFailures)
	}
	if d.Ban.Duration <= 0 {
		bad("defender.ban", "must be positive, got %q", d.Ban.String())
	} else if d.MaxBan.Duration < d.Ban.Duration {
		bad("defender.max_ban", "must be at least ban (%s), got %q", d.Ban.String(), d.MaxBan.String())
	}
	for _, s := range d.Allow {
		if _, err := parseTrusted(s); err != nil {
			bad("defender.allow", "want a CIDR such as \"192.0.2.0/24\" or an address, got %q: %v", s, err)
		}
	}
	weights := []struct {
		key   string
		value float64
	}{
		{"defender.login_failure_weight", d.LoginFailureWeight},
		{"defender.bad_command_weight", d.BadCommandWeight},
		{"defender.refused_data_weight", d.RefusedDataWeight},
	}
	counted := false
	for _, w := range weights {
		switch {
		case w.value < 0 || math.IsNaN(w.value):
			bad(w.key, "must not be negative (0 means not counted), got %v", w.value)
		case w.value > maxWeight:
			bad(w.key, "must be at most %d (one offence past max_failures bans at once), got %v", maxWeight, w.value)
		case w.value > 0:
			counted = true
		}
	}
	if !counted {
		bad("defender", "every weight is 0, so nothing would ever be banned: set enabled = false instead")
	}
}

// defender is the server's Defender; nil when off. The table has been
// validated.
func (c *Config) defender() *ftpserver.Defender {
	d := &c.Defender
	if !d.Enabled {
		return nil
	}
	// A weight of 0 in the file means "not counted"; the library's zero
	// value means its default.
	weight := func(w float64) float64 {
		if w == 0 {
			return -1
		}
		return w
	}
	def := &ftpserver.Defender{
		Window:             d.Window.Duration,
		MaxFailures:        d.MaxFailures,
		Ban:                d.Ban.Duration,
		MaxBan:             d.MaxBan.Duration,
		LoginFailureWeight: weight(d.LoginFailureWeight),
		BadCommandWeight:   weight(d.BadCommandWeight),
		RefusedDataWeight:  weight(d.RefusedDataWeight),
	}
	for _, s := range d.Allow {
		if prefix, err := parseTrusted(s); err == nil {
			def.Allow = append(def.Allow, prefix)
		}
	}
	return def
}
