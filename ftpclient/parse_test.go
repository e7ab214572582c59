package ftpclient

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

var testNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func TestReadReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		code int
		msg  string
		err  error
	}{
		{"220 ready\r\n", 220, "ready", nil},
		{"200\r\n", 200, "", nil},
		{"230 bare LF\n", 230, "bare LF", nil},
		{"211-Features:\r\n MDTM\r\n SIZE\r\n211 End\r\n", 211, "Features:\n MDTM\n SIZE\nEnd", nil},
		{"250-first\r\n250-second\r\nthird\r\n250 last\r\n", 250, "first\nsecond\nthird\nlast", nil},
		// Another code inside a multi-line reply is text.
		{"214-help\r\n200 not the end\r\n214 end\r\n", 214, "help\n200 not the end\nend", nil},
		{"hello\r\n", 0, "", ErrProtocol},
		{"600 bad class\r\n", 0, "", ErrProtocol},
		{"20x bad\r\n", 0, "", ErrProtocol},
		{"200xno separator\r\n", 0, "", ErrProtocol},
		{"", 0, "", io.EOF},
		{"220 no line end", 0, "", io.ErrUnexpectedEOF},
		{"211-open\r\n", 0, "", io.ErrUnexpectedEOF},
		{"220 " + strings.Repeat("x", maxReplyLine) + "\r\n", 0, "", ErrProtocol},
	}
	for _, tt := range tests {
		r, err := readReply(bufio.NewReaderSize(strings.NewReader(tt.in), 16))
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("readReply(%q): %v, want %v", clip(tt.in), err, tt.err)
			}
			continue
		}
		if err != nil || r.code != tt.code || r.msg != tt.msg {
			t.Errorf("readReply(%q) = %d %q, %v; want %d %q", tt.in, r.code, r.msg, err, tt.code, tt.msg)
		}
	}
}

func TestReadReplySequence(t *testing.T) {
	t.Parallel()
	br := bufio.NewReader(strings.NewReader("150 go\r\n226 done\r\n200 NOOP\r\n"))
	var codes []int
	for {
		r, err := readReply(br)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		codes = append(codes, r.code)
	}
	if !slices.Equal(codes, []int{150, 226, 200}) {
		t.Fatalf("codes %v", codes)
	}
}

func TestParseFeatures(t *testing.T) {
	t.Parallel()
	f := parseFeatures("Extensions supported:\n MLST type*;size*;modify*;\n REST STREAM\n utf8\n AUTH TLS\n\nEnd")
	for name, param := range map[string]string{"MLST": "type*;size*;modify*;", "REST": "STREAM", "UTF8": "", "AUTH": "TLS"} {
		if p, ok := f.Param(name); !ok || p != param {
			t.Errorf("%s: %q, %v", name, p, ok)
		}
	}
	if f.Has("End") || f.Has("Extensions") || !f.Has("mlst") {
		t.Errorf("features %v", f.Names())
	}
	modes := parseFeatures("Features:\n MODE Z\n MODE B\n REST STREAM\nEnd")
	if !modes.Has("MODE Z") || !modes.Has("mode b") || !modes.Has("REST STREAM") || modes.Has("MODE C") || !modes.Has("REST") {
		t.Errorf("features announced per variant: %v", modes.Names())
	}
	if f := parseFeatures("no features"); len(f.Names()) != 0 {
		t.Errorf("single-line FEAT reply: %v", f.Names())
	}
	names, selected := factList("SHA-256*;SHA-1;md5;;")
	if !slices.Equal(names, []string{"sha-256", "sha-1", "md5"}) || !selected["sha-256"] || selected["md5"] {
		t.Errorf("factList: %v %v", names, selected)
	}
}

func TestParsePWD(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`"/" is the current directory`: "/",
		`"/a ""quoted"" dir" is cwd`:   `/a "quoted" dir`,
		`/plain is cwd`:                "/plain",
		`"unterminated`:                "",
		`MVS "'USER.'" is working`:     "'USER.'",
		``:                             "",
	} {
		if got := parsePWD(in); got != want {
			t.Errorf("parsePWD(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseHashReplies(t *testing.T) {
	t.Parallel()
	sum, err := parseHashReply("SHA-256 0-3 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 a file", "SHA-256")
	if err != nil || len(sum) != 32 {
		t.Errorf("parseHashReply: %x, %v", sum, err)
	}
	if _, err := parseHashReply("MD5 0-3 00", "SHA-256"); err == nil {
		t.Error("parseHashReply accepted another algorithm")
	}
	for _, tt := range []struct {
		msg  string
		size int
		want string
	}{
		{"d41d8cd98f00b204e9800998ecf8427e", 16, "d41d8cd98f00b204e9800998ecf8427e"},
		{"file.txt D41D8CD98F00B204E9800998ECF8427E", 16, "d41d8cd98f00b204e9800998ecf8427e"},
		{"ff", 4, "000000ff"},
		{"CRC32 of x is 1234abcd", 4, "1234abcd"},
	} {
		sum, err := parseXHashReply(tt.msg, tt.size)
		if err != nil || hexString(sum) != tt.want {
			t.Errorf("parseXHashReply(%q) = %x, %v; want %s", tt.msg, sum, err, tt.want)
		}
	}
	if _, err := parseXHashReply("no digest here", 32); !errors.Is(err, ErrProtocol) {
		t.Errorf("parseXHashReply without a digest: %v", err)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var s []byte
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

func TestPASVTarget(t *testing.T) {
	t.Parallel()
	mk := func(trust bool) *Client {
		c := &Client{cfg: defaultConfig()}
		c.cfg.trustPASV = trust
		c.log = discardLogger()
		return c
	}
	public := netip.MustParseAddr("203.0.113.5")
	private := netip.MustParseAddr("192.168.1.10")
	tests := []struct {
		trust     bool
		announced string
		peer      netip.Addr
		want      string
	}{
		{false, "10.1.2.3", public, "203.0.113.5"},
		{false, "198.51.100.7", public, "203.0.113.5"}, // FXP not allowed
		{false, "0.0.0.0", public, "203.0.113.5"},
		{true, "198.51.100.7", public, "198.51.100.7"},
		{true, "0.0.0.0", public, "203.0.113.5"},
		{true, "10.1.2.3", public, "203.0.113.5"},
		{true, "127.0.0.1", public, "203.0.113.5"},
		{true, "10.1.2.3", private, "10.1.2.3"},
		{true, "169.254.1.1", public, "203.0.113.5"},
	}
	for _, tt := range tests {
		got := mk(tt.trust).pasvTarget(netip.AddrPortFrom(netip.MustParseAddr(tt.announced), 5000), tt.peer, 1)
		if got != netip.AddrPortFrom(netip.MustParseAddr(tt.want), 5000) {
			t.Errorf("trust=%v %s from %s: %s, want %s", tt.trust, tt.announced, tt.peer, got, tt.want)
		}
	}
}

func TestReadListing(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("y", maxListLine+10)
	lines, longLines, err := readListing(strings.NewReader("a\r\nb\n" + long + "\r\nc"))
	if err != nil || !slices.Equal(lines, []string{"a", "b", "c"}) || len(longLines) != 1 || len(longLines[0]) != maxListLine {
		t.Fatalf("readListing: %q, %d long, %v", lines, len(longLines), err)
	}
}

func TestReplyErrorMeaning(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code     int
		msg      string
		notExist bool
		perm     bool
	}{
		{550, "No such file or directory.", true, false},
		{550, "Failed to open file.", true, false}, // vsftpd says no more
		{550, "Permission denied.", false, true},
		{550, "File exists.", false, false},
		{550, "Directory not empty.", false, false},
		{550, "Is a directory.", false, false},
		{553, "Access denied.", false, true},
		{530, "Not logged in.", false, true},
		{450, "File busy.", false, false},
		{450, "No such file.", true, false},
		{500, "Unknown command.", false, false},
	}
	for _, tt := range tests {
		err := opError("op", "/p", negative(tt.code, tt.msg))
		if IsNotExist(err) != tt.notExist || IsPermission(err) != tt.perm {
			t.Errorf("%d %s: IsNotExist %v, IsPermission %v", tt.code, tt.msg, IsNotExist(err), IsPermission(err))
		}
		var fe *ftp.Error
		if !errors.As(err, &fe) || fe.Code != tt.code {
			t.Errorf("%d %s: errors.As finds %v", tt.code, tt.msg, fe)
		}
		if errors.Is(err, fs.ErrNotExist) != tt.notExist {
			t.Errorf("%d %s: errors.Is(fs.ErrNotExist) disagrees", tt.code, tt.msg)
		}
	}
}

func TestMaskSecret(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"PASS hunter2": "PASS ****",
		"pass x y":     "pass ****",
		"ACCT acc":     "ACCT ****",
		"USER alice":   "USER alice",
		"PASS":         "PASS",
	} {
		if got := maskSecret(in); got != want {
			t.Errorf("maskSecret(%q) = %q", in, got)
		}
	}
}

// Fuzz targets for every parser of peer input the package adds.

func FuzzReadReply(f *testing.F) {
	f.Add([]byte("220 ready\r\n"))
	f.Add([]byte("211-Features:\r\n MDTM\r\n211 End\r\n"))
	f.Add([]byte("250-a\r\n250-b\r\nc\r\n250 d\r\n226 next\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(data)), 16)
		for range 100 {
			r, err := readReply(br)
			if err != nil {
				return
			}
			if r.code < 100 || r.code > 599 {
				t.Fatalf("code %d", r.code)
			}
			if len(r.msg) > maxReplyBytes {
				t.Fatalf("reply of %d bytes", len(r.msg))
			}
		}
	})
}

func FuzzParseFeatures(f *testing.F) {
	f.Add("Features:\n MLST type*;size*;\n REST STREAM\n UTF8\nEnd")
	f.Add("Extensions supported\n HASH SHA-256*;MD5\nEnd")
	f.Fuzz(func(t *testing.T, msg string) {
		feats := parseFeatures(msg)
		for _, n := range feats.Names() {
			if n != strings.ToUpper(n) || n == "" {
				t.Fatalf("feature name %q", n)
			}
			if !feats.Has(n) {
				t.Fatalf("Has(%q) false", n)
			}
			p, _ := feats.Param(n)
			factList(p)
		}
	})
}

func FuzzParsePWD(f *testing.F) {
	f.Add(`"/home/user" is current directory`)
	f.Add(`"a ""b"" c"`)
	f.Add(`/plain`)
	f.Fuzz(func(t *testing.T, msg string) {
		if dir := parsePWD(msg); len(dir) > len(msg) {
			t.Fatalf("parsePWD(%q) = %q, longer than its input", msg, dir)
		}
	})
}

func FuzzParseHashReplies(f *testing.F) {
	f.Add("SHA-256 0-3 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 name", 32)
	f.Add("1a2b", 4)
	f.Fuzz(func(t *testing.T, msg string, size int) {
		if sum, err := parseHashReply(msg, "SHA-256"); err == nil && len(sum) == 0 {
			t.Fatal("empty HASH digest accepted")
		}
		if size < 1 || size > 64 {
			return
		}
		if sum, err := parseXHashReply(msg, size); err == nil && len(sum) != size {
			t.Fatalf("digest of %d bytes, want %d", len(sum), size)
		}
	})
}

func FuzzReadListing(f *testing.F) {
	f.Add([]byte("-rw-r--r-- 1 a b 1 Jan 1 2020 x\r\ntype=file; y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, long, err := readListing(strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, l := range append(lines, long...) {
			if strings.ContainsAny(l, "\n") || len(l) > maxListLine {
				t.Fatalf("line %q", clip(l))
			}
			total += len(l)
		}
		if total > len(data) {
			t.Fatalf("%d bytes of lines from %d of input", total, len(data))
		}
		parseLIST(lines, testNow)
		parseMLSD(lines)
	})
}
