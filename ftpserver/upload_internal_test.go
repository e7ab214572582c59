package ftpserver

import "testing"

func TestQuitQueued(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"QUIT", false}, // no line end: not a command yet
		{"QUIT\r\n", true},
		{"quit\n", true},
		{"NOOP\r\nQUIT\r\n", true},
		{"NOOP\r\nSTAT\r\n", false},
		{"QUITX\r\n", false},
		{"\xff\xf4\xff\xf2QUIT\r\n", true}, // Telnet IP, DM before it
		{"STOR QUIT\r\n", false},
	} {
		if got := quitQueued([]byte(tc.in)); got != tc.want {
			t.Errorf("quitQueued(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzQuitQueued: unread control input is the client's to choose; reading
// it must never panic or hang, and must agree with appending garbage after
// a complete QUIT line.
func FuzzQuitQueued(f *testing.F) {
	for _, seed := range []string{"", "QUIT\r\n", "NOOP\r\nQUIT\r\n", "\xff\xf4\xff\xf2QUIT\r\n", "QU", "\xff\xfb\nQUIT\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got := quitQueued(in)
		if got && !quitQueued(append(in[:len(in):len(in)], "junk"...)) {
			t.Errorf("QUIT in %q lost when more input follows", in)
		}
	})
}
