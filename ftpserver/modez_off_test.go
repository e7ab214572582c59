package ftpserver_test

import (
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// TestModeZDisabled: with DisableModeZ, FEAT does not offer MODE Z (so
// lftp, which uses it whenever offered, does not) and MODE Z and its OPTS
// are refused; transfers go on in stream mode.
func TestModeZDisabled(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) { s.DisableModeZ = true })
	c := ts.login(t)
	if feat := c.cmd(211, "FEAT"); strings.Contains(feat, "MODE Z") {
		t.Errorf("FEAT lists MODE Z although it is off:\n%s", feat)
	}
	c.cmd(504, "MODE Z")
	c.cmd(504, "OPTS MODE Z LEVEL 1")
	if stat := c.cmd(211, "STAT"); !strings.Contains(stat, "MODE: Stream") {
		t.Errorf("STAT after a refused MODE Z: %q", stat)
	}
	c.cmd(200, "MODE B")
	c.cmd(200, "MODE S")
}
