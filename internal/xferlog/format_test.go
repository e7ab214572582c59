package xferlog

import (
	"bufio"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// vsftpdLines returns the lines vsftpd wrote, from testdata.
func vsftpdLines(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/vsftpd.xferlog")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "#") {
			lines = append(lines, sc.Text())
		}
	}
	if len(lines) == 0 {
		t.Fatal("no lines in testdata/vsftpd.xferlog")
	}
	return lines
}

// Each record is a transfer vsftpd logged in testdata/vsftpd.xferlog; ferry
// writes the same line for it.
func TestEntryOfWritesWhatVsftpdWrote(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	anon := func(rec ftpserver.TransferRecord, id string) ftpserver.TransferRecord {
		rec.User, rec.Anonymous, rec.AnonymousID = "anonymous", true, id
		return rec
	}
	client := netip.MustParseAddrPort("127.0.0.1:40000")
	base := ftpserver.TransferRecord{Remote: client, Verb: "RETR", Direction: ftpserver.Download, Result: ftpserver.TransferOK}
	with := func(change func(*ftpserver.TransferRecord)) ftpserver.TransferRecord {
		r := base
		change(&r)
		return r
	}
	for _, tc := range []struct {
		name string
		rec  ftpserver.TransferRecord
		want string
	}{
		{"space in the name", anon(with(func(r *ftpserver.TransferRecord) {
			r.Path, r.Bytes = "/pub/my file.txt", 12
			r.Started, r.Duration = at("2026-12-02T07:00:20.990Z"), 20*time.Millisecond
		}), "ftp@example.com"),
			"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/my_file.txt b _ o a ftp@example.com ftp 0 * c"},
		{"TYPE A", anon(with(func(r *ftpserver.TransferRecord) {
			r.Path, r.Bytes, r.ASCII = "/pub/my file.txt", 12, true
			r.Started, r.Duration = at("2026-12-02T07:00:21.100Z"), 5*time.Millisecond
		}), "ftp@example.com"),
			"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/my_file.txt a _ o a ftp@example.com ftp 0 * c"},
		{"UTF-8 name", anon(with(func(r *ftpserver.TransferRecord) {
			r.Path, r.Bytes = "/pub/café.txt", 4
			r.Started, r.Duration = at("2026-12-02T07:00:21.200Z"), time.Millisecond
		}), "ftp@example.com"),
			"Wed Dec  2 07:00:21 2026 1 127.0.0.1 4 /pub/caf??.txt b _ o a ftp@example.com ftp 0 * c"},
		{"REST: the bytes moved, not the file's size", anon(with(func(r *ftpserver.TransferRecord) {
			r.Path, r.Bytes, r.Offset = "/pub/big.bin", 99990, 10
			r.Started, r.Duration = at("2026-12-02T07:00:21.300Z"), time.Millisecond
		}), "ftp@example.com"),
			"Wed Dec  2 07:00:21 2026 1 127.0.0.1 99990 /pub/big.bin b _ o a ftp@example.com ftp 0 * c"},
		{"empty anonymous ID", anon(with(func(r *ftpserver.TransferRecord) {
			r.Path, r.Bytes = "/pub/big.bin", 100000
			r.Started, r.Duration = at("2026-12-02T07:00:28.400Z"), time.Millisecond
		}), ""),
			"Wed Dec  2 07:00:28 2026 1 127.0.0.1 100000 /pub/big.bin b _ o a ? ftp 0 * c"},
		{"aborted download", anon(with(func(r *ftpserver.TransferRecord) {
			r.Path, r.Bytes, r.Result = "/pub/huge.bin", 4160512, ftpserver.TransferAborted
			r.Started, r.Duration = at("2026-12-02T07:00:28.100Z"), 50*time.Millisecond
		}), "ftp@example.com"),
			"Wed Dec  2 07:00:28 2026 1 127.0.0.1 4160512 /pub/huge.bin b _ o a ftp@example.com ftp 0 * i"},
		{"upload", anon(with(func(r *ftpserver.TransferRecord) {
			r.Verb, r.Direction, r.Path, r.Bytes = "STOR", ftpserver.Upload, "/incoming/up load.txt", 12
			r.Started, r.Duration = at("2026-12-02T07:00:28.200Z"), time.Millisecond
		}), "ftp@example.com"),
			"Wed Dec  2 07:00:28 2026 1 127.0.0.1 12 /incoming/up_load.txt b _ i a ftp@example.com ftp 0 * c"},
		{"seconds of the clock: 2.5 s from :29.1 counts 2", anon(with(func(r *ftpserver.TransferRecord) {
			r.Path, r.Bytes = "/pub/huge.bin", 30000000
			r.Started, r.Duration = at("2026-12-02T07:00:29.100Z"), 2500*time.Millisecond
		}), "ftp@example.com"),
			"Wed Dec  2 07:00:31 2026 2 127.0.0.1 30000000 /pub/huge.bin b _ o a ftp@example.com ftp 0 * c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := EntryOf(tc.rec, time.UTC)
			if got := e.String(); got != tc.want {
				t.Errorf("line\n got %q\nwant %q", got, tc.want)
			}
		})
	}
	// Every line of the table is one vsftpd wrote.
	written := strings.Join(vsftpdLines(t), "\n")
	for _, want := range []string{
		"Wed Dec  2 07:00:28 2026 1 127.0.0.1 4160512 /pub/huge.bin b _ o a ftp@example.com ftp 0 * i",
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 4 /pub/caf??.txt b _ o a ftp@example.com ftp 0 * c",
	} {
		if !strings.Contains(written, want) {
			t.Errorf("testdata lacks %q", want)
		}
	}
}

func TestEntryOfFields(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	for _, tc := range []struct {
		name string
		rec  ftpserver.TransferRecord
		want string
	}{
		{"real account, two-digit day, IPv6", ftpserver.TransferRecord{
			Remote: netip.MustParseAddrPort("[2001:db8::7]:5000"), User: "joe", Direction: ftpserver.Upload,
			Path: "/a/b", Started: start, Duration: 12*time.Second + 300*time.Millisecond, Bytes: 7, Result: ftpserver.TransferFailed,
		}, "Sat Mar 14 09:27:05 2026 12 2001:db8::7 7 /a/b b _ i r joe ftp 0 * i"},
		{"IPv4-mapped address written as IPv4", ftpserver.TransferRecord{
			Remote: netip.MustParseAddrPort("[::ffff:10.0.0.1]:21"), User: "joe", Direction: ftpserver.Download,
			Path: "/x", Started: start, Result: ftpserver.TransferOK,
		}, "Sat Mar 14 09:26:53 2026 1 10.0.0.1 0 /x b _ o r joe ftp 0 * c"},
		{"control bytes in the name and user", ftpserver.TransferRecord{
			Remote: netip.MustParseAddrPort("127.0.0.1:1"), User: "j o\te", Direction: ftpserver.Download,
			Path: "/a\x7fb\x01 c", Started: start, Result: ftpserver.TransferOK,
		}, "Sat Mar 14 09:26:53 2026 1 127.0.0.1 0 /a?b?_c b _ o r j_o?e ftp 0 * c"},
		{"SFTP names its service", ftpserver.TransferRecord{
			Remote: netip.MustParseAddrPort("127.0.0.1:1"), User: "joe", Direction: ftpserver.Upload,
			Path: "/up", Started: start, Bytes: 3, Result: ftpserver.TransferOK, Protocol: "sftp",
		}, "Sat Mar 14 09:26:53 2026 1 127.0.0.1 3 /up b _ i r joe sftp 0 * c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := EntryOf(tc.rec, time.UTC)
			got := e.String()
			if got != tc.want {
				t.Errorf("line\n got %q\nwant %q", got, tc.want)
			}
			back, err := ParseLineIn(got, time.UTC)
			if err != nil {
				t.Fatalf("ParseLine(%q): %v", got, err)
			}
			if back != e {
				t.Errorf("ParseLine(%q) = %+v, want %+v", got, back, e)
			}
		})
	}
}

// A day of the month below 10 is padded with a space, as ctime writes it,
// in the zone asked for.
func TestEntryOfDateInZone(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("X", -5*3600)
	rec := ftpserver.TransferRecord{
		Remote: netip.MustParseAddrPort("127.0.0.1:1"), User: "u", Direction: ftpserver.Download, Path: "/f",
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Result: ftpserver.TransferOK,
	}
	e := EntryOf(rec, zone)
	if got, want := e.String()[:24], "Thu Jan  1 22:04:05 2026"; got != want {
		t.Errorf("date %q, want %q", got, want)
	}
}

func TestParseLineVsftpd(t *testing.T) {
	t.Parallel()
	lines := vsftpdLines(t)
	for _, line := range lines {
		e, err := ParseLineIn(line, time.UTC)
		if err != nil {
			t.Errorf("ParseLine(%q): %v", line, err)
			continue
		}
		if got := e.String(); got != line {
			t.Errorf("round trip\n got %q\nwant %q", got, line)
		}
	}
	e, _ := ParseLineIn(lines[7], time.UTC)
	want := Entry{
		Time: time.Date(2026, 12, 2, 7, 0, 28, 0, time.UTC), Seconds: 1, RemoteHost: "127.0.0.1", Bytes: 4160512,
		Filename: "/pub/huge.bin", Type: "b", SpecialAction: "_", Direction: "o", AccessMode: "a",
		Username: "ftp@example.com", Service: "ftp", AuthMethod: "0", AuthUserID: "*", Complete: false,
	}
	if e != want {
		t.Errorf("ParseLine(%q)\n = %+v\nwant %+v", lines[7], e, want)
	}
}

func TestParseLineErrors(t *testing.T) {
	t.Parallel()
	good := "Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/f b _ o a ftp@example.com ftp 0 * c"
	for _, line := range []string{
		"",
		"Wed Dec  2 07:00:21 2026",
		"Wed Dec 2 07:00:21 2026 1 127.0.0.1 12 /pub/f b _ o a ftp@example.com ftp 0 * c",   // day not padded
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/f b _ o a ftp@example.com ftp 0 *",    // 13 fields
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/f b _ o a ftp@example.com ftp 0 * c ", // trailing space
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/my file b _ o a x ftp 0 * c",          // space in a name
		"Wed Dec  2 07:00:21 2026 -1 127.0.0.1 12 /pub/f b _ o a x ftp 0 * c",
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 +12 /pub/f b _ o a x ftp 0 * c",
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 99999999999999999999 /pub/f b _ o a x ftp 0 * c",
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/f x _ o a x ftp 0 * c",
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/f b - o a x ftp 0 * c",
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/f b _ x a x ftp 0 * c",
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/f b _ o x x ftp 0 * c",
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/f b _ o a x ftp 2 * c",
		"Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/f b _ o a x ftp 0 * x",
		"Wed Dec 32 07:00:21 2026 1 127.0.0.1 12 /pub/f b _ o a x ftp 0 * c",
		good + "\n",
	} {
		if e, err := ParseLine(line); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseLine(%q) = %+v, %v; want ErrSyntax", line, e, err)
		}
	}
	if _, err := ParseLine(good); err != nil {
		t.Errorf("ParseLine(%q): %v", good, err)
	}
}

// FuzzParseLine: ParseLine never panics, and what it accepts it writes
// back as a line it parses to the same entry.
func FuzzParseLine(f *testing.F) {
	for _, line := range vsftpdLines(f) {
		f.Add(line)
	}
	f.Add("Mon Oct  2 14:51:13 2000 1 192.168.0.1 1024 /home/user/file.txt b _ o r user ftp 0 * c")
	f.Add("Fri Jan 10 00:00:00 2025 3600 2001:db8::1 0 /x a CUT d g guest ftp 1 ident i")
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseLineIn(line, time.UTC)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseLine(%q): error %v does not wrap ErrSyntax", line, err)
			}
			return
		}
		out := e.String()
		again, err := ParseLineIn(out, time.UTC)
		if err != nil {
			t.Fatalf("ParseLine(%q) accepted, but not its own rendering %q: %v", line, out, err)
		}
		if !again.Time.Equal(e.Time) {
			t.Fatalf("time %v became %v", e.Time, again.Time)
		}
		again.Time = e.Time
		if again != e {
			t.Fatalf("ParseLine(%q) = %+v; its rendering %q parses to %+v", line, e, out, again)
		}
	})
}
