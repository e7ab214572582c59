package ftp

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// Entry is one file in a directory listing: what the server formats into
// MLSD and MLST facts, and what the client parses from MLSx and LIST lines.
type Entry struct {
	Name string
	// Type is the RFC 3659 type fact: "file", "dir", "cdir" (the listed
	// directory itself), "pdir" (its parent), "OS.unix=symlink", or
	// another "OS.name=..." value a server sent. "" when unknown.
	Type    string
	Size    int64
	ModTime time.Time // UTC; zero when unknown
	Perm    string    // RFC 3659 perm fact, e.g. "adfrw"
	// Mode holds the Unix permission bits (with setuid, setgid and
	// sticky), known when HasMode is set; parsers also set its type bits
	// (fs.ModeDir, fs.ModeSymlink, ...) from Type.
	Mode    fs.FileMode
	HasMode bool
	Unique  string // RFC 3659 unique fact
	Target  string // symlink target, when a LIST line shows "name -> target"
}

// IsDir reports whether the entry is a directory, including the cdir and
// pdir entries of MLSD.
func (e *Entry) IsDir() bool {
	return e.Type == "dir" || e.Type == "cdir" || e.Type == "pdir"
}

// Facts is a set of RFC 3659 facts, used for the facts a server supports
// and the ones a client selected with OPTS MLST.
type Facts uint

// The facts ferry knows, in the order they are written.
const (
	FactType Facts = 1 << iota
	FactSize
	FactModify
	FactPerm
	FactUnixMode
	FactUnique

	AllFacts = FactType | FactSize | FactModify | FactPerm | FactUnixMode | FactUnique
)

var factNames = [...]struct {
	fact Facts
	name string
}{
	{FactType, "type"},
	{FactSize, "size"},
	{FactModify, "modify"},
	{FactPerm, "perm"},
	{FactUnixMode, "unix.mode"},
	{FactUnique, "unique"},
}

// FeatMLST returns the body of the MLST line of a FEAT reply, after
// "MLST ": each supported fact followed by '*' when selected, and ';'
// (RFC 3659 §7.8), e.g. "type*;size*;modify*;perm;". FeatMLST(sel, 0) is
// the fact list of the 200 reply to OPTS MLST.
func FeatMLST(supported, selected Facts) string {
	var b []byte
	for _, f := range factNames {
		if supported&f.fact == 0 {
			continue
		}
		b = append(b, f.name...)
		if selected&f.fact != 0 {
			b = append(b, '*')
		}
		b = append(b, ';')
	}
	return string(b)
}

// ParseOptsMLST parses the argument of OPTS MLST, "type;size;", into the
// selected facts. Fact names are case-insensitive; unknown ones are ignored,
// as RFC 3659 §7.9 asks; an empty argument selects none. The server should
// keep only the facts it supports.
func ParseOptsMLST(arg string) Facts {
	var sel Facts
	for name := range strings.SplitSeq(strings.TrimSpace(arg), ";") {
		if f := lookupFact(strings.TrimSpace(name)); f != 0 {
			sel |= f
		}
	}
	return sel
}

func lookupFact(name string) Facts {
	for _, f := range factNames {
		if strings.EqualFold(name, f.name) {
			return f.fact
		}
	}
	return 0
}

// AppendFacts appends the MLSx form of e to b, without a line end: the
// selected facts that e has, then a space and the name, as in
// "type=file;size=12;modify=20261121091500;perm=adfrw;unix.mode=0644;unique=XYZ; name".
// MLSD lines end with CRLF; an MLST reply line also starts with a space.
//
// Facts that e does not know are left out: modify for a zero ModTime,
// unix.mode without HasMode, empty strings. size is given for everything
// but directories (RFC 3659 §7.5.7). A fact value that would break the line
// (containing ';', a space, CR or LF) is left out too, and a CR or LF in the
// name, which no listing can carry, is sent as '?'.
func AppendFacts(b []byte, e *Entry, sel Facts) []byte {
	if sel&FactType != 0 && validFactValue(e.Type) {
		b = append(b, "type="...)
		b = append(b, e.Type...)
		b = append(b, ';')
	}
	if sel&FactSize != 0 && !e.IsDir() {
		b = append(b, "size="...)
		b = strconv.AppendInt(b, e.Size, 10)
		b = append(b, ';')
	}
	if sel&FactModify != 0 && !e.ModTime.IsZero() {
		b = append(b, "modify="...)
		b = appendMDTM(b, e.ModTime, true)
		b = append(b, ';')
	}
	if sel&FactPerm != 0 && validFactValue(e.Perm) {
		b = append(b, "perm="...)
		b = append(b, e.Perm...)
		b = append(b, ';')
	}
	if sel&FactUnixMode != 0 && e.HasMode {
		b = append(b, "unix.mode="...)
		b = appendOctalMode(b, e.Mode)
		b = append(b, ';')
	}
	if sel&FactUnique != 0 && validFactValue(e.Unique) {
		b = append(b, "unique="...)
		b = append(b, e.Unique...)
		b = append(b, ';')
	}
	b = append(b, ' ')
	return appendListName(b, e.Name)
}

// appendListName appends a file name to a listing line. A name with a CR or
// LF would end the line early and let the rest pass for another entry, so
// those bytes become '?'.
func appendListName(b []byte, name string) []byte {
	if !strings.ContainsAny(name, "\r\n") {
		return append(b, name...)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '\r' || c == '\n' {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

func validFactValue(v string) bool {
	return v != "" && !strings.ContainsAny(v, "; \r\n")
}

// appendOctalMode appends the permission and special bits of m as four
// octal digits, e.g. "0644" or "4755".
func appendOctalMode(b []byte, m fs.FileMode) []byte {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return append(b, byte('0'+v>>9&7), byte('0'+v>>6&7), byte('0'+v>>3&7), byte('0'+v&7))
}

// modeFromOctal is the inverse of appendOctalMode.
func modeFromOctal(v uint32) fs.FileMode {
	m := fs.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// ErrBadMLSxLine is wrapped by the errors of ParseMLSxLine.
var ErrBadMLSxLine = errors.New("ftp: malformed MLSx line")

// ParseMLSxLine parses one line of an MLSD listing, or the entry line of an
// MLST reply with its leading space removed: "fact=value;...; name". Fact
// names are case-insensitive and unknown facts are ignored; the name is
// everything after the first space. A trailing line end is ignored.
//
// The types file, dir, cdir and pdir are returned in lower case, and the
// Unix symlink types servers send (OS.unix=symlink, OS.unix=slink:target)
// as "OS.unix=symlink", with the target, when given, in Target.
func ParseMLSxLine(line string) (Entry, error) {
	line = trimLineEnd(line)
	facts, name, ok := strings.Cut(line, " ")
	if !ok || name == "" {
		return Entry{}, fmt.Errorf("%w: %q: no name", ErrBadMLSxLine, line)
	}
	e := Entry{Name: name}
	var mode fs.FileMode
	for facts != "" {
		var fact string
		fact, facts, _ = strings.Cut(facts, ";")
		if fact == "" {
			continue
		}
		key, value, ok := strings.Cut(fact, "=")
		if !ok || key == "" {
			return Entry{}, fmt.Errorf("%w: %q: fact %q", ErrBadMLSxLine, line, fact)
		}
		switch lookupFact(key) {
		case FactType:
			e.Type, e.Target = normalizeType(value)
		case FactSize:
			n, err := strconv.ParseUint(value, 10, 63)
			if err != nil || !isDigits(value) {
				return Entry{}, fmt.Errorf("%w: %q: size %q", ErrBadMLSxLine, line, value)
			}
			e.Size = int64(n)
		case FactModify:
			t, err := ParseMDTM(value)
			if err != nil {
				return Entry{}, fmt.Errorf("%w: %q: modify %q", ErrBadMLSxLine, line, value)
			}
			e.ModTime = t
		case FactPerm:
			e.Perm = value
		case FactUnixMode:
			// pyftpdlib on Python 3 writes Python's octal literal: 0o755.
			digits := strings.TrimPrefix(value, "0o")
			v, err := strconv.ParseUint(digits, 8, 32)
			if err != nil || !isDigits(digits) || v > 0o7777 {
				return Entry{}, fmt.Errorf("%w: %q: unix.mode %q", ErrBadMLSxLine, line, value)
			}
			mode = modeFromOctal(uint32(v))
			e.HasMode = true
		case FactUnique:
			e.Unique = value
		}
	}
	e.Mode = mode | typeMode(e.Type)
	return e, nil
}

// normalizeType returns the canonical spelling of an MLSx type fact and, for
// "OS.unix=slink:target", the target.
func normalizeType(v string) (typ, target string) {
	switch lower := strings.ToLower(v); {
	case lower == "file" || lower == "dir" || lower == "cdir" || lower == "pdir":
		return lower, ""
	case lower == "os.unix=symlink" || lower == "os.unix=slink":
		return "OS.unix=symlink", ""
	case strings.HasPrefix(lower, "os.unix=slink:"):
		return "OS.unix=symlink", v[len("os.unix=slink:"):]
	}
	return v, ""
}

// typeMode returns the fs.FileMode type bits for an entry type.
func typeMode(typ string) fs.FileMode {
	switch typ {
	case "dir", "cdir", "pdir":
		return fs.ModeDir
	case "OS.unix=symlink":
		return fs.ModeSymlink
	case "OS.unix=fifo":
		return fs.ModeNamedPipe
	case "OS.unix=socket":
		return fs.ModeSocket
	case "OS.unix=chr":
		return fs.ModeDevice | fs.ModeCharDevice
	case "OS.unix=blk":
		return fs.ModeDevice
	}
	return 0
}

// FormatMDTM formats t as an RFC 3659 time-val, YYYYMMDDHHMMSS in UTC: the
// reply to MDTM and the argument of MFMT. Fractions of a second are dropped.
func FormatMDTM(t time.Time) string {
	var buf [len("20060102150405.000")]byte
	return string(appendMDTM(buf[:0], t, false))
}

// appendMDTM appends t in UTC as YYYYMMDDHHMMSS, followed by ".sss" when
// withMillis is set and t has a non-zero millisecond part.
func appendMDTM(b []byte, t time.Time, withMillis bool) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendZeroPad(b, year, 4)
	b = appendZeroPad(b, int(month), 2)
	b = appendZeroPad(b, day, 2)
	b = appendZeroPad(b, hour, 2)
	b = appendZeroPad(b, minute, 2)
	b = appendZeroPad(b, sec, 2)
	if ms := t.Nanosecond() / int(time.Millisecond); withMillis && ms != 0 {
		b = append(b, '.')
		b = appendZeroPad(b, ms, 3)
	}
	return b
}

// appendZeroPad appends n in decimal, padded with zeros to width digits.
func appendZeroPad(b []byte, n, width int) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	var digits [20]byte
	i := len(digits)
	for {
		i--
		digits[i] = byte('0' + n%10)
		n /= 10
		if n == 0 && len(digits)-i >= width {
			return append(b, digits[i:]...)
		}
	}
}

// ErrBadTime is wrapped by the errors of ParseMDTM.
var ErrBadTime = errors.New("ftp: malformed time-val")

// ParseMDTM parses an RFC 3659 time-val, YYYYMMDDHHMMSS[.fraction] in UTC,
// as sent in MDTM replies, the MFMT argument and the modify fact. The
// fraction may have 1 to 9 digits. A leap second (60) is accepted and
// becomes the first second of the next minute.
func ParseMDTM(s string) (time.Time, error) {
	digits, frac, hasFrac := strings.Cut(s, ".")
	if len(digits) != 14 || !isDigits(digits) || hasFrac && (frac == "" || len(frac) > 9 || !isDigits(frac)) {
		return time.Time{}, fmt.Errorf("%w: %q", ErrBadTime, s)
	}
	num := func(i, j int) int {
		n, _ := strconv.Atoi(digits[i:j])
		return n
	}
	year, month, day := num(0, 4), num(4, 6), num(6, 8)
	hour, minute, sec := num(8, 10), num(10, 12), num(12, 14)
	nsec := 0
	if hasFrac {
		nsec, _ = strconv.Atoi(frac)
		for i := len(frac); i < 9; i++ {
			nsec *= 10
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, fmt.Errorf("%w: %q: out of range", ErrBadTime, s)
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// trimLineEnd removes a trailing LF, CRLF or CR.
func trimLineEnd(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}
