package ftp

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParsePORT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arg  string
		want string // "" for an error
	}{
		{"192,168,1,2,19,137", "192.168.1.2:5001"},
		{"  10,0,0,1,0,21 ", "10.0.0.1:21"},
		{"127,0,0,1,255,255", "127.0.0.1:65535"},
		{"0,0,0,0,4,1", "0.0.0.0:1025"},
		{"010,000,000,001,004,001", "10.0.0.1:1025"},
		{"192,168,1,2,0,0", ""}, // port 0
		{"192,168,1,256,19,137", ""},
		{"192,168,1,2,19", ""},
		{"192,168,1,2,19,137,1", ""},
		{"192,168,1,2,19,", ""},
		{"192, 168,1,2,19,137", ""},
		{"192,168,1,2,19,+13", ""},
		{"192,168,1,2,19,-1", ""},
		{"192.168.1.2,19,137", ""},
		{"0x7f,0,0,1,19,137", ""},
		{"1000,0,0,1,19,137", ""},
		{"", ""},
		{"|1|1.2.3.4|5|", ""},
		{"192,168,1,2,19,137\r", ""},
	}
	for _, tt := range tests {
		got, err := ParsePORT(tt.arg)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParsePORT(%q) = %v, want error", tt.arg, got)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParsePORT(%q) = %v, %v; want %s", tt.arg, got, err, tt.want)
		}
	}
}

func TestFormatPORT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ap   string
		want string
	}{
		{"192.168.1.2:5001", "192,168,1,2,19,137"},
		{"10.0.0.1:21", "10,0,0,1,0,21"},
		{"[::ffff:10.0.0.1]:65535", "10,0,0,1,255,255"},
		{"[2001:db8::1]:21", ""},
	}
	for _, tt := range tests {
		if got := FormatPORT(netip.MustParseAddrPort(tt.ap)); got != tt.want {
			t.Errorf("FormatPORT(%s) = %q, want %q", tt.ap, got, tt.want)
		}
	}
	if got := FormatPORT(netip.AddrPort{}); got != "" {
		t.Errorf("FormatPORT(zero) = %q, want \"\"", got)
	}
}

func TestPORTRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"1.2.3.4:1", "255.255.255.255:65535", "0.0.0.0:256", "[::ffff:8.8.8.8]:53"} {
		ap := netip.MustParseAddrPort(s)
		got, err := ParsePORT(FormatPORT(ap))
		want := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if err != nil || got != want {
			t.Errorf("round trip of %s: %v, %v", s, got, err)
		}
	}
}

func TestParsePASVReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  string
		want string // "" for an error
	}{
		// vsftpd, ProFTPD, Pure-FTPd, FileZilla Server, IIS.
		{"Entering Passive Mode (192,168,1,2,19,137).", "192.168.1.2:5001"},
		{"Entering Passive Mode (10,0,0,5,195,80)", "10.0.0.5:50000"},
		{"Entering Passive Mode (127,0,0,1,117,49)", "127.0.0.1:30001"},
		{"Entering passive mode (10,1,2,3,200,10)", "10.1.2.3:51210"},
		// With the code, without parentheses, with odd text around.
		{"227 Entering Passive Mode (192,168,1,2,19,137)", "192.168.1.2:5001"},
		{"Entering Passive Mode 192,168,1,2,19,137", "192.168.1.2:5001"},
		{"=192,168,1,2,19,137", "192.168.1.2:5001"},
		{"Passive mode on 2 interfaces: 192,168,1,2,19,137", "192.168.1.2:5001"},
		{"Entering Passive Mode (192, 168, 1, 2, 19, 137)", "192.168.1.2:5001"},
		// A first run that is not six numbers is skipped.
		{"Mode 1,2,3 then (4,5,6,7,8,9)", "4.5.6.7:2057"},
		{"(1000,1,2,3,4,5,6)", "1.2.3.4:1286"},
		{"Entering Passive Mode (192,168,1,2,0,0)", ""},
		{"Entering Passive Mode (192,168,1,256,19,137)", ""},
		{"Entering Passive Mode (192,168,1,2,19)", ""},
		{"Entering Passive Mode", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := ParsePASVReply(tt.msg)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParsePASVReply(%q) = %v, want error", tt.msg, got)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParsePASVReply(%q) = %v, %v; want %s", tt.msg, got, err, tt.want)
		}
	}
}

func TestParseEPRT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arg         string
		want        string // "" for an error
		unsupported bool
	}{
		// The examples of RFC 2428 §2.
		{arg: "|1|132.235.1.2|6275|", want: "132.235.1.2:6275"},
		{arg: "|2|1080::8:800:200C:417A|5282|", want: "[1080::8:800:200c:417a]:5282"},
		{arg: " |1|10.0.0.1|21| ", want: "10.0.0.1:21"},
		{arg: "!1!10.0.0.1!21!", want: "10.0.0.1:21"},
		{arg: "~2~::1~65535~", want: "[::1]:65535"},
		{arg: "|2|::ffff:192.0.2.1|1234|", want: "192.0.2.1:1234"},
		{arg: "|3|10.0.0.1|21|", unsupported: true},
		{arg: "|99|whatever|21|", unsupported: true},
		{arg: "|1|::1|21|"},
		{arg: "|2|10.0.0.1|21|"},
		{arg: "|2|fe80::1%eth0|21|"},
		{arg: "|1|10.0.0.1|0|"},
		{arg: "|1|10.0.0.1|65536|"},
		{arg: "|1|10.0.0.1|+21|"},
		{arg: "|1|010.0.0.1|21|"},
		{arg: "|1|10.0.0.1|21"},
		{arg: "|1|10.0.0.1|21||"},
		{arg: "|1|10.0.0.1|21|x"},
		{arg: "||10.0.0.1|21|"},
		{arg: "|x|10.0.0.1|21|"},
		{arg: " 1 10.0.0.1 21 "},
		{arg: "\x7f1\x7f10.0.0.1\x7f21\x7f"},
		{arg: "|1||21|"},
		{arg: "|"},
		{arg: ""},
	}
	for _, tt := range tests {
		got, err := ParseEPRT(tt.arg)
		switch {
		case tt.unsupported:
			if !errors.Is(err, ErrUnsupportedFamily) {
				t.Errorf("ParseEPRT(%q) = %v, %v; want ErrUnsupportedFamily", tt.arg, got, err)
			}
		case tt.want == "":
			if err == nil || errors.Is(err, ErrUnsupportedFamily) {
				t.Errorf("ParseEPRT(%q) = %v, %v; want a syntax error", tt.arg, got, err)
			}
		case err != nil || got.String() != tt.want:
			t.Errorf("ParseEPRT(%q) = %v, %v; want %s", tt.arg, got, err, tt.want)
		}
	}
}

func TestFormatEPRT(t *testing.T) {
	t.Parallel()
	tests := []struct{ ap, want string }{
		{"132.235.1.2:6275", "|1|132.235.1.2|6275|"},
		{"[1080::8:800:200C:417A]:5282", "|2|1080::8:800:200c:417a|5282|"},
		{"[::ffff:192.0.2.1]:1234", "|1|192.0.2.1|1234|"},
		{"[fe80::1%eth0]:21", "|2|fe80::1|21|"},
	}
	for _, tt := range tests {
		ap := netip.MustParseAddrPort(tt.ap)
		got := FormatEPRT(ap)
		if got != tt.want {
			t.Errorf("FormatEPRT(%s) = %q, want %q", tt.ap, got, tt.want)
		}
		back, err := ParseEPRT(got)
		if want := netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()); err != nil || back != want {
			t.Errorf("ParseEPRT(FormatEPRT(%s)) = %v, %v", tt.ap, back, err)
		}
	}
}

func TestParseEPSVArg(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arg         string
		family      int
		all         bool
		bad         bool
		unsupported bool
	}{
		{arg: ""},
		{arg: " "},
		{arg: "1", family: 1},
		{arg: "2", family: 2},
		{arg: "ALL", all: true},
		{arg: "all", all: true},
		{arg: "All ", all: true},
		{arg: "3", unsupported: true},
		{arg: "0", unsupported: true},
		{arg: "999", unsupported: true},
		{arg: "1000", bad: true},
		{arg: "-1", bad: true},
		{arg: "+1", bad: true},
		{arg: "ALLX", bad: true},
		{arg: "1 2", bad: true},
		{arg: "|1|", bad: true},
	}
	for _, tt := range tests {
		family, all, err := ParseEPSVArg(tt.arg)
		switch {
		case tt.unsupported:
			if !errors.Is(err, ErrUnsupportedFamily) {
				t.Errorf("ParseEPSVArg(%q) = %d, %v, %v; want ErrUnsupportedFamily", tt.arg, family, all, err)
			}
		case tt.bad:
			if err == nil || errors.Is(err, ErrUnsupportedFamily) {
				t.Errorf("ParseEPSVArg(%q) = %d, %v, %v; want a syntax error", tt.arg, family, all, err)
			}
		case err != nil || family != tt.family || all != tt.all:
			t.Errorf("ParseEPSVArg(%q) = %d, %v, %v; want %d, %v", tt.arg, family, all, err, tt.family, tt.all)
		}
	}
}

func TestParseEPSVReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  string
		want int // 0 for an error
	}{
		{"Entering Extended Passive Mode (|||6446|)", 6446},
		{"Entering Extended Passive Mode (|||6446|).", 6446},
		{"229 Entering Extended Passive Mode (|||50001|)", 50001},
		{"Entering extended passive mode (!!!1!)", 1},
		{"EPSV ok (~~~65535~)", 65535},
		{"Extended Passive (a) then (|||21|)", 21},
		{"Entering Extended Passive Mode (|||0|)", 0},
		{"Entering Extended Passive Mode (|||65536|)", 0},
		{"Entering Extended Passive Mode (|||6446)", 0},
		{"Entering Extended Passive Mode (||6446|)", 0},
		{"Entering Extended Passive Mode (|!|6446|)", 0},
		{"Entering Extended Passive Mode (|||6446!)", 0},
		{"Entering Extended Passive Mode (111123451)", 0},
		{"Entering Extended Passive Mode (|||-1|)", 0},
		{"Entering Extended Passive Mode", 0},
		{"(|||", 0},
		{"", 0},
	}
	for _, tt := range tests {
		got, err := ParseEPSVReply(tt.msg)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("ParseEPSVReply(%q) = %d, want error", tt.msg, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseEPSVReply(%q) = %d, %v; want %d", tt.msg, got, err, tt.want)
		}
	}
}

func TestFormatEPSVReply(t *testing.T) {
	t.Parallel()
	if got, want := FormatEPSVReply(6446), "Entering Extended Passive Mode (|||6446|)"; got != want {
		t.Errorf("FormatEPSVReply(6446) = %q, want %q", got, want)
	}
	for _, port := range []int{1, 21, 6446, 65535} {
		if got, err := ParseEPSVReply(FormatEPSVReply(port)); err != nil || got != port {
			t.Errorf("ParseEPSVReply(FormatEPSVReply(%d)) = %d, %v", port, got, err)
		}
	}
}

func FuzzParsePORT(f *testing.F) {
	for _, s := range []string{"192,168,1,2,19,137", " 10,0,0,1,0,21 ", "1,2,3,4,0,0", "256,1,1,1,1,1", "1,2,3,4,5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		ap, err := ParsePORT(arg)
		if err != nil {
			return
		}
		if !ap.Addr().Is4() || ap.Port() == 0 {
			t.Fatalf("ParsePORT(%q) = %v: not an IPv4 address with a port", arg, ap)
		}
		back, err := ParsePORT(FormatPORT(ap))
		if err != nil || back != ap {
			t.Fatalf("ParsePORT(%q) = %v, which formats as %q and parses back as %v, %v", arg, ap, FormatPORT(ap), back, err)
		}
	})
}

func FuzzParseEPRT(f *testing.F) {
	for _, s := range []string{"|1|132.235.1.2|6275|", "|2|1080::8:800:200C:417A|5282|", "!2!::ffff:1.2.3.4!1!", "|3|x|1|", "|1|1.2.3.4|0|", "||||"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		ap, err := ParseEPRT(arg)
		if err != nil {
			return
		}
		if !ap.IsValid() || ap.Port() == 0 || ap.Addr().Is4In6() || ap.Addr().Zone() != "" {
			t.Fatalf("ParseEPRT(%q) = %v", arg, ap)
		}
		back, err := ParseEPRT(FormatEPRT(ap))
		if err != nil || back != ap {
			t.Fatalf("ParseEPRT(%q) = %v, which formats as %q and parses back as %v, %v", arg, ap, FormatEPRT(ap), back, err)
		}
	})
}

func FuzzParseEPSVArg(f *testing.F) {
	for _, s := range []string{"", "1", "2", "ALL", "all", "3", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		family, all, err := ParseEPSVArg(arg)
		if err != nil {
			if family != 0 || all {
				t.Fatalf("ParseEPSVArg(%q) = %d, %v with error %v", arg, family, all, err)
			}
			return
		}
		if family < 0 || family > 2 || all && family != 0 {
			t.Fatalf("ParseEPSVArg(%q) = %d, %v", arg, family, all)
		}
	})
}

func FuzzParsePASVReply(f *testing.F) {
	for _, s := range []string{
		"Entering Passive Mode (192,168,1,2,19,137).",
		"227 Entering Passive Mode 10,0,0,1,0,21",
		"Entering Passive Mode (192, 168, 1, 2, 19, 137)",
		"1,2,3 (4,5,6,7,8,9)",
		"(1000,1,2,3,4,5,6)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		ap, err := ParsePASVReply(msg)
		if err != nil {
			return
		}
		if !ap.Addr().Is4() || ap.Port() == 0 {
			t.Fatalf("ParsePASVReply(%q) = %v", msg, ap)
		}
		back, err := ParsePASVReply("Entering Passive Mode (" + FormatPORT(ap) + ").")
		if err != nil || back != ap {
			t.Fatalf("ParsePASVReply(%q) = %v, which does not round-trip: %v, %v", msg, ap, back, err)
		}
	})
}

func FuzzParseEPSVReply(f *testing.F) {
	for _, s := range []string{"Entering Extended Passive Mode (|||6446|)", "(!!!1!)", "(|||0|)", "(|||"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		port, err := ParseEPSVReply(msg)
		if err != nil {
			return
		}
		if port < 1 || port > 65535 {
			t.Fatalf("ParseEPSVReply(%q) = %d", msg, port)
		}
		if back, err := ParseEPSVReply(FormatEPSVReply(port)); err != nil || back != port {
			t.Fatalf("ParseEPSVReply(%q) = %d, which does not round-trip: %d, %v", msg, port, back, err)
		}
	})
}
