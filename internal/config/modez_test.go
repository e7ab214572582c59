package config

import (
	"path/filepath"
	"testing"
)

// TestModeZKey: MODE Z is offered by default; mode_z = false turns it off.
func TestModeZKey(t *testing.T) {
	t.Parallel()
	if build(t, validConfig(t)).DisableModeZ {
		t.Error("the default configuration turns MODE Z off")
	}
	path := filepath.Join(t.TempDir(), "ferry.toml")
	writeFile(t, path, "root = \".\"\nmode_z = false\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !build(t, c).DisableModeZ {
		t.Error("mode_z = false leaves MODE Z on")
	}
}
