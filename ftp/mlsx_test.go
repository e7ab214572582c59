package ftp

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

func TestFeatMLST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		supported, selected Facts
		want                string
	}{
		{AllFacts, AllFacts, "type*;size*;modify*;perm*;unix.mode*;unique*;"},
		{AllFacts, FactType | FactSize | FactModify, "type*;size*;modify*;perm;unix.mode;unique;"},
		{FactType | FactSize, AllFacts, "type*;size*;"},
		{FactType | FactModify, 0, "type;modify;"},
		{0, AllFacts, ""},
	}
	for _, tt := range tests {
		if got := FeatMLST(tt.supported, tt.selected); got != tt.want {
			t.Errorf("FeatMLST(%b, %b) = %q, want %q", tt.supported, tt.selected, got, tt.want)
		}
	}
}

func TestParseOptsMLST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arg  string
		want Facts
	}{
		{"type;size;", FactType | FactSize},
		{"type;size", FactType | FactSize},
		{"TYPE;Size;Modify;UNIX.mode;", FactType | FactSize | FactModify | FactUnixMode},
		{"type;size;modify;perm;unix.mode;unique;", AllFacts},
		{"type;charset;media-type;unix.owner;size;", FactType | FactSize},
		{"unique", FactUnique},
		{"", 0},
		{";", 0},
		{" ", 0},
		{" type ; size ", FactType | FactSize},
	}
	for _, tt := range tests {
		if got := ParseOptsMLST(tt.arg); got != tt.want {
			t.Errorf("ParseOptsMLST(%q) = %b, want %b", tt.arg, got, tt.want)
		}
	}
	// The 200 reply to OPTS MLST lists what was selected.
	if got := FeatMLST(AllFacts&ParseOptsMLST("size;TYPE;bogus;"), 0); got != "type;size;" {
		t.Errorf("OPTS MLST reply = %q", got)
	}
}

var testTime = time.Date(2026, 11, 21, 9, 15, 0, 0, time.UTC)

func TestAppendFacts(t *testing.T) {
	t.Parallel()
	full := Entry{
		Name: "name", Type: "file", Size: 12, ModTime: testTime,
		Perm: "adfrw", Mode: 0o644, HasMode: true, Unique: "XYZ",
	}
	tests := []struct {
		name string
		e    Entry
		sel  Facts
		want string
	}{
		{"all facts", full, AllFacts,
			"type=file;size=12;modify=20261121091500;perm=adfrw;unix.mode=0644;unique=XYZ; name"},
		{"selection", full, FactType | FactModify,
			"type=file;modify=20261121091500; name"},
		{"no facts", full, 0, " name"},
		{"directory has no size", Entry{Name: "d", Type: "dir", Size: 4096, ModTime: testTime, Perm: "elcmpf"}, AllFacts,
			"type=dir;modify=20261121091500;perm=elcmpf; d"},
		{"cdir", Entry{Name: "/pub", Type: "cdir"}, AllFacts, "type=cdir; /pub"},
		{"unknown facts left out", Entry{Name: "x", Type: "file"}, AllFacts, "type=file;size=0; x"},
		{"milliseconds", Entry{Name: "x", ModTime: testTime.Add(123456789 * time.Nanosecond)}, FactModify,
			"modify=20261121091500.123; x"},
		{"below a millisecond", Entry{Name: "x", ModTime: testTime.Add(999 * time.Microsecond)}, FactModify,
			"modify=20261121091500; x"},
		{"UTC", Entry{Name: "x", ModTime: time.Date(2026, 11, 21, 10, 15, 0, 0, time.FixedZone("CET", 3600))}, FactModify,
			"modify=20261121091500; x"},
		{"special bits", Entry{Name: "x", Mode: 0o755 | fs.ModeSetuid | fs.ModeSticky | fs.ModeDir, HasMode: true}, FactUnixMode,
			"unix.mode=5755; x"},
		{"symlink", Entry{Name: "l", Type: "OS.unix=symlink", Size: 3}, FactType | FactSize,
			"type=OS.unix=symlink;size=3; l"},
		{"name with spaces", Entry{Name: " a b ", Type: "file"}, FactType, "type=file;  a b "},
		{"CR LF in name", Entry{Name: "a\r\nb", Type: "file"}, FactType, "type=file; a??b"},
		{"bad fact values", Entry{Name: "x", Unique: "a;b", Perm: "r w", Type: "fi\nle"}, AllFacts, "size=0; x"},
	}
	for _, tt := range tests {
		got := string(AppendFacts(nil, &tt.e, tt.sel))
		if got != tt.want {
			t.Errorf("%s: AppendFacts = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseMLSxLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want Entry
	}{
		// RFC 3659 §7.7.4.
		{"Type=cdir;Modify=19981107085215;Perm=el; tmp", Entry{
			Name: "tmp", Type: "cdir", ModTime: time.Date(1998, 11, 7, 8, 52, 15, 0, time.UTC), Perm: "el", Mode: fs.ModeDir}},
		{"Type=file;Size=25730;Modify=19940728095854;Perm=; capmux.tar.z", Entry{
			Name: "capmux.tar.z", Type: "file", Size: 25730, ModTime: time.Date(1994, 7, 28, 9, 58, 54, 0, time.UTC)}},
		// ProFTPD.
		{"modify=20261121091500;perm=adfr;size=1234;type=file;unique=FD00U1234;UNIX.group=1000;UNIX.groupname=ftp;UNIX.mode=0644;UNIX.owner=1000;UNIX.ownername=ftp; file.txt", Entry{
			Name: "file.txt", Type: "file", Size: 1234, ModTime: testTime, Perm: "adfr", Mode: 0o644, HasMode: true, Unique: "FD00U1234"}},
		{"modify=20261121091500;perm=flcdmpe;type=pdir;unique=FD00U2;UNIX.mode=0755; ..", Entry{
			Name: "..", Type: "pdir", ModTime: testTime, Perm: "flcdmpe", Mode: 0o755 | fs.ModeDir, HasMode: true, Unique: "FD00U2"}},
		{"modify=20261121091500;perm=adfr;size=8;type=OS.unix=symlink;unique=FD00U3;UNIX.mode=0777; link", Entry{
			Name: "link", Type: "OS.unix=symlink", Size: 8, ModTime: testTime, Perm: "adfr", Mode: 0o777 | fs.ModeSymlink, HasMode: true, Unique: "FD00U3"}},
		// Pure-FTPd.
		{"type=file;size=1234;modify=20261121091500;UNIX.mode=0644;UNIX.uid=1000;UNIX.gid=1000;unique=803g2d1; my file.txt", Entry{
			Name: "my file.txt", Type: "file", Size: 1234, ModTime: testTime, Mode: 0o644, HasMode: true, Unique: "803g2d1"}},
		{"type=OS.unix=slink:/etc/passwd;size=11;modify=20261121091500; pw", Entry{
			Name: "pw", Type: "OS.unix=symlink", Target: "/etc/passwd", Size: 11, ModTime: testTime, Mode: fs.ModeSymlink}},
		// FileZilla Server and IIS: fractions, capitalized names.
		{"type=file;size=5;modify=20261121091500.123;perm=awrfd; a", Entry{
			Name: "a", Type: "file", Size: 5, ModTime: testTime.Add(123 * time.Millisecond), Perm: "awrfd"}},
		{"Type=DIR;Modify=20261121091500.957; sub dir", Entry{
			Name: "sub dir", Type: "dir", ModTime: testTime.Add(957 * time.Millisecond), Mode: fs.ModeDir}},
		// Everything after the first space is the name.
		{"type=file;  two  spaces ", Entry{Name: " two  spaces ", Type: "file"}},
		{"type=file; semi;colon=x", Entry{Name: "semi;colon=x", Type: "file"}},
		{" no facts", Entry{Name: "no facts"}},
		{"type=file;size=1 a\r\n", Entry{Name: "a", Type: "file", Size: 1}},
		{"type=file;;size=1; a", Entry{Name: "a", Type: "file", Size: 1}},
		{"type=OS.z/OS=dataset; DS", Entry{Name: "DS", Type: "OS.z/OS=dataset"}},
		{"unix.mode=4755; suid", Entry{Name: "suid", Mode: 0o755 | fs.ModeSetuid, HasMode: true}},
		{"x.unknown=1;lang=en; a", Entry{Name: "a"}},
	}
	for _, tt := range tests {
		got, err := ParseMLSxLine(tt.line)
		if err != nil || !entriesEqual(got, tt.want) {
			t.Errorf("ParseMLSxLine(%q) =\n\t%+v, %v\nwant\t%+v", tt.line, got, err, tt.want)
		}
	}

	for _, line := range []string{
		"",
		"type=file;",
		"type=file; ",
		"type=file;size=12;name",
		"size=abc; x",
		"size=-1; x",
		"size=+1; x",
		"size=99999999999999999999; x",
		"modify=2026; x",
		"modify=20261321091500; x",
		"unix.mode=0999; x",
		"unix.mode=77777; x",
		"badfact; x",
		"=1; x",
	} {
		if e, err := ParseMLSxLine(line); !errors.Is(err, ErrBadMLSxLine) {
			t.Errorf("ParseMLSxLine(%q) = %+v, %v; want ErrBadMLSxLine", line, e, err)
		}
	}
}

func entriesEqual(a, b Entry) bool {
	return a.Name == b.Name && a.Type == b.Type && a.Size == b.Size && a.ModTime.Equal(b.ModTime) &&
		a.Perm == b.Perm && a.Mode == b.Mode && a.HasMode == b.HasMode && a.Unique == b.Unique && a.Target == b.Target
}

func TestMLSxRoundTrip(t *testing.T) {
	t.Parallel()
	for _, e := range []Entry{
		{Name: "file.txt", Type: "file", Size: 1 << 40, ModTime: testTime, Perm: "adfrw", Mode: 0o640, HasMode: true, Unique: "803g2d1"},
		{Name: "a dir", Type: "dir", ModTime: testTime.Add(5 * time.Millisecond), Perm: "elcmpf", Mode: fs.ModeDir | 0o755 | fs.ModeSetgid, HasMode: true},
		{Name: ".", Type: "cdir", Mode: fs.ModeDir},
		{Name: "l", Type: "OS.unix=symlink", Mode: fs.ModeSymlink},
		{Name: "=;", Type: "file"},
	} {
		line := string(AppendFacts(nil, &e, AllFacts))
		got, err := ParseMLSxLine(line)
		if err != nil || !entriesEqual(got, e) {
			t.Errorf("round trip of %+v through %q: %+v, %v", e, line, got, err)
		}
	}
}

func TestMDTM(t *testing.T) {
	t.Parallel()
	if got := FormatMDTM(testTime.Add(999 * time.Millisecond)); got != "20261121091500" {
		t.Errorf("FormatMDTM = %q", got)
	}
	if got := FormatMDTM(time.Date(1, 2, 3, 4, 5, 6, 0, time.UTC)); got != "00010203040506" {
		t.Errorf("FormatMDTM(year 1) = %q", got)
	}
	if got := FormatMDTM(time.Date(2026, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600))); got != "20251231233000" {
		t.Errorf("FormatMDTM(UTC+1) = %q", got)
	}

	tests := []struct {
		s    string
		want time.Time // zero for an error
	}{
		{"20261121091500", testTime},
		{"20261121091500.5", testTime.Add(500 * time.Millisecond)},
		{"20261121091500.123", testTime.Add(123 * time.Millisecond)},
		{"20261121091500.123456789", testTime.Add(123456789)},
		{"19700101000000", time.Unix(0, 0).UTC()},
		{"20240229120000", time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)},
		{"20161231235960", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)}, // leap second
		{"20230229120000", time.Time{}},
		{"20261121091500.", time.Time{}},
		{"20261121091500.1234567890", time.Time{}},
		{"20261121091500.12a", time.Time{}},
		{"2026112109150", time.Time{}},
		{"202611210915000", time.Time{}},
		{"20261321091500", time.Time{}},
		{"20261100091500", time.Time{}},
		{"20261121241500", time.Time{}},
		{"20261121096000", time.Time{}},
		{"20261121091561", time.Time{}},
		{"2026112109150+", time.Time{}},
		{"+0261121091500", time.Time{}},
		{"213 20261121091500", time.Time{}},
		{"", time.Time{}},
	}
	for _, tt := range tests {
		got, err := ParseMDTM(tt.s)
		if tt.want.IsZero() {
			if !errors.Is(err, ErrBadTime) {
				t.Errorf("ParseMDTM(%q) = %v, %v; want ErrBadTime", tt.s, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseMDTM(%q) = %v, %v; want %v", tt.s, got, err, tt.want)
		}
	}

	for _, tm := range []time.Time{testTime, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, err := ParseMDTM(FormatMDTM(tm)); err != nil || !got.Equal(tm) {
			t.Errorf("round trip of %v: %v, %v", tm, got, err)
		}
	}
}

func FuzzParseMLSxLine(f *testing.F) {
	for _, s := range []string{
		"type=file;size=12;modify=20261121091500;perm=adfrw;unix.mode=0644;unique=XYZ; name",
		"Type=cdir;Modify=19981107085215;Perm=el; tmp",
		"type=OS.unix=slink:/etc/passwd;size=11; pw",
		"modify=20261121091500.957;UNIX.mode=4755; a b",
		" no facts",
		"size=-1; x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseMLSxLine(line)
		if err != nil {
			if !errors.Is(err, ErrBadMLSxLine) {
				t.Fatalf("ParseMLSxLine(%q): error %v does not wrap ErrBadMLSxLine", line, err)
			}
			return
		}
		if e.Name == "" || !strings.Contains(line, e.Name) || e.Size < 0 {
			t.Fatalf("ParseMLSxLine(%q) = %+v", line, e)
		}
		if !e.ModTime.IsZero() && e.ModTime.Location() != time.UTC {
			t.Fatalf("ParseMLSxLine(%q): ModTime %v not in UTC", line, e.ModTime)
		}
		// What was parsed formats and parses back to the same entry,
		// but for what AppendFacts deliberately leaves out or rewrites.
		if e.IsDir() {
			e.Size = 0
		}
		if strings.ContainsAny(e.Name, "\r\n") || strings.ContainsAny(e.Type+e.Perm+e.Unique, "\r\n") || e.Target != "" {
			return
		}
		e.ModTime = e.ModTime.Truncate(time.Millisecond)
		out := AppendFacts(nil, &e, AllFacts)
		back, err := ParseMLSxLine(string(out))
		if err != nil || !entriesEqual(back, e) {
			t.Fatalf("ParseMLSxLine(%q) = %+v; formatted as %q it parses as %+v, %v", line, e, out, back, err)
		}
	})
}

// pyftpdlib on Python 3 writes unix.mode as a Python octal literal.
func TestParseMLSxLinePythonOctal(t *testing.T) {
	t.Parallel()
	e, err := ParseMLSxLine("modify=20261121102515;perm=eldfmMTcp;size=4096;type=dir;unique=fe00g984e81;unix.mode=0o755; sub dir")
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "sub dir" || !e.IsDir() || !e.HasMode || e.Mode.Perm() != 0o755 {
		t.Fatalf("got %+v", e)
	}
	if _, err := ParseMLSxLine("type=file;unix.mode=0o9; x"); err == nil {
		t.Fatal("bad octal accepted")
	}
}
