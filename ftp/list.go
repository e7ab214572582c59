package ftp

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

const monthNames = "JanFebMarAprMayJunJulAugSepOctNovDec"

// sixMonths is how old a file can be for ls -l to show its time of day
// rather than its year: half of an average Gregorian year.
const sixMonths = time.Duration(365.2425 / 2 * 24 * float64(time.Hour))

// AppendListLine appends to b the LIST line for fi, in the `ls -l` form that
// clients (lftp, curl, FileZilla, Python's ftplib users) parse:
//
//	-rw-r--r--    1 ftp      ftp          1234 Nov 21 09:15 name
//	drwxr-xr-x    1 ftp      ftp          4096 Mar  2  2024 old dir
//
// followed by CRLF. Owner and group are always "ftp": the real ones mean
// nothing to the client and would tell it about the host. The time is in
// UTC; as in ls, it shows the time of day when the file was modified within
// six months before now (or up to an hour after, for clock skew) and the
// year otherwise. A CR or LF in the name, which the line could not carry,
// is sent as '?'.
//
// AppendListLine allocates nothing beyond growing b.
func AppendListLine(b []byte, fi fs.FileInfo, now time.Time) []byte {
	b = appendModeString(b, fi.Mode())
	b = append(b, "    1 ftp      ftp      "...)
	size := fi.Size()
	if size < 0 {
		size = 0
	}
	b = appendPadded(b, size, 8)
	b = append(b, ' ')

	mt := fi.ModTime().UTC()
	year, month, day := mt.Date()
	b = append(b, monthNames[3*(month-1):3*month]...)
	b = append(b, ' ')
	b = appendPadded(b, int64(day), 2)
	b = append(b, ' ')
	if now = now.UTC(); mt.After(now.Add(-sixMonths)) && !mt.After(now.Add(time.Hour)) {
		hour, minute, _ := mt.Clock()
		b = appendZeroPad(b, hour, 2)
		b = append(b, ':')
		b = appendZeroPad(b, minute, 2)
	} else {
		b = appendPadded(b, int64(year), 5)
	}
	b = append(b, ' ')
	b = appendListName(b, fi.Name())
	return append(b, '\r', '\n')
}

// AppendNameLine appends the NLST line for name: the name and CRLF. A CR or
// LF in the name is sent as '?'.
func AppendNameLine(b []byte, name string) []byte {
	b = appendListName(b, name)
	return append(b, '\r', '\n')
}

// appendPadded appends n right-aligned in a field of width characters.
func appendPadded(b []byte, n int64, width int) []byte {
	digits := 1
	for v := n; v >= 10 || v <= -10; v /= 10 {
		digits++
	}
	if n < 0 {
		digits++
	}
	for ; digits < width; digits++ {
		b = append(b, ' ')
	}
	return strconv.AppendInt(b, n, 10)
}

// appendModeString appends the ten-character ls permission string of m,
// such as "drwxr-xr-x" or "-rwsr-x--T".
func appendModeString(b []byte, m fs.FileMode) []byte {
	var kind byte
	switch {
	case m&fs.ModeDir != 0:
		kind = 'd'
	case m&fs.ModeSymlink != 0:
		kind = 'l'
	case m&fs.ModeNamedPipe != 0:
		kind = 'p'
	case m&fs.ModeSocket != 0:
		kind = 's'
	case m&fs.ModeCharDevice != 0:
		kind = 'c'
	case m&fs.ModeDevice != 0:
		kind = 'b'
	default:
		kind = '-'
	}
	b = append(b, kind)
	special := [3]bool{m&fs.ModeSetuid != 0, m&fs.ModeSetgid != 0, m&fs.ModeSticky != 0}
	for i := range 3 {
		bits := m >> (3 * (2 - i))
		b = append(b, permChar(bits&4 != 0, 'r'), permChar(bits&2 != 0, 'w'))
		x := bits&1 != 0
		switch {
		case !special[i]:
			b = append(b, permChar(x, 'x'))
		case i == 2 && x:
			b = append(b, 't')
		case i == 2:
			b = append(b, 'T')
		case x:
			b = append(b, 's')
		default:
			b = append(b, 'S')
		}
	}
	return b
}

func permChar(set bool, c byte) byte {
	if set {
		return c
	}
	return '-'
}

// ErrSkipLine is returned by ParseListLine for a line that carries no entry:
// the "total N" line of ls, or a blank line.
var ErrSkipLine = errors.New("ftp: not a listing entry")

// ErrBadListLine is wrapped by the error ParseListLine returns for a line it
// cannot parse. Such a line must not be dropped silently: the listing may be
// in a format ferry does not know.
var ErrBadListLine = errors.New("ftp: unrecognized LIST line")

// ParseListLine parses one line of a LIST reply. It understands:
//
//   - Unix `ls -l` lines, as vsftpd, ProFTPD, Pure-FTPd and most others
//     send them, with or without the group column, with the time of day or
//     the year, or with a long-iso "2026-11-21 09:15" date; names may hold
//     spaces, and a symlink's "name -> target" is split into Name and
//     Target;
//   - DOS lines, as IIS sends them: "11-21-26  09:15AM       <DIR>          name"
//     and "11-21-26  09:15AM                 1234 name";
//   - EPLF lines: "+i8388621.48594,m825718503,r,s280,\tname".
//
// A line in the Unix form with only the time of day gets the year that puts
// the date nearest before now (a day of slack allows for time zones). LIST
// times are in the server's local time zone, which the client cannot know;
// they are returned as if in UTC. The "." and ".." entries of a Unix listing
// get the types "cdir" and "pdir".
//
// It returns ErrSkipLine for a "total N" line or a blank one, and an error
// wrapping ErrBadListLine for anything else it cannot parse.
func ParseListLine(line string, now time.Time) (Entry, error) {
	line = trimLineEnd(line)
	if strings.TrimSpace(line) == "" || isTotalLine(line) {
		return Entry{}, ErrSkipLine
	}
	var (
		e  Entry
		ok bool
	)
	switch c := line[0]; {
	case c == '+':
		e, ok = parseEPLF(line)
	case isDigit(c):
		e, ok = parseDOSLine(line)
	default:
		e, ok = parseUnixLine(line, now)
	}
	if !ok {
		return Entry{}, fmt.Errorf("%w: %q", ErrBadListLine, line)
	}
	return e, nil
}

func isTotalLine(line string) bool {
	rest, ok := strings.CutPrefix(line, "total ")
	return ok && isDigits(strings.TrimSpace(rest))
}

// fieldSpan is a whitespace-separated field of a line: line[start:end].
type fieldSpan struct{ start, end int }

// splitFields records the positions of the first len(spans) fields of line,
// separated by spaces or tabs, and returns how many it found.
func splitFields(line string, spans []fieldSpan) int {
	n, i := 0, 0
	for n < len(spans) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		spans[n] = fieldSpan{start, i}
		n++
	}
	return n
}

// parseUnixLine parses an `ls -l` line. It finds the date, the one fixed
// landmark, and reads the size before it and the name after it, so that any
// number of owner and group columns works.
func parseUnixLine(line string, now time.Time) (Entry, bool) {
	var spans [10]fieldSpan
	n := splitFields(line, spans[:])
	field := func(i int) string { return line[spans[i].start:spans[i].end] }
	if n < 5 {
		return Entry{}, false
	}
	mode, typ, ok := parseModeString(field(0))
	if !ok {
		return Entry{}, false
	}
	// perms, links, owner, size: the date is the fifth field at the
	// earliest.
	for m := 3; m < n-1; m++ {
		if !isDigits(field(m - 1)) {
			continue
		}
		var (
			mt      time.Time
			dateEnd int
		)
		if m+2 < n {
			if t, ok := parseLsDate(field(m), field(m+1), field(m+2), now); ok {
				mt, dateEnd = t, spans[m+2].end
			}
		}
		if dateEnd == 0 {
			if t, ok := parseISODate(field(m), field(m+1)); ok {
				mt, dateEnd = t, spans[m+1].end
			}
		}
		if dateEnd == 0 {
			continue
		}
		// One space separates the date from the name, which may itself
		// start with spaces.
		if dateEnd+1 >= len(line) || line[dateEnd] != ' ' {
			return Entry{}, false
		}
		e := Entry{
			Name:    line[dateEnd+1:],
			Type:    typ,
			ModTime: mt,
			Mode:    mode,
			HasMode: true,
		}
		// A device shows "major, minor" where the size would be.
		if !strings.HasSuffix(field(m-2), ",") {
			size, err := strconv.ParseInt(field(m-1), 10, 64)
			if err != nil {
				return Entry{}, false
			}
			e.Size = size
		}
		switch {
		case typ == "OS.unix=symlink":
			if name, target, ok := strings.Cut(e.Name, " -> "); ok && name != "" {
				e.Name, e.Target = name, target
			}
		case typ == "dir" && e.Name == ".":
			e.Type = "cdir"
		case typ == "dir" && e.Name == "..":
			e.Type = "pdir"
		}
		return e, true
	}
	return Entry{}, false
}

// parseModeString parses an ls permission string such as "drwxr-sr-x",
// optionally followed by an ACL or security-context marker ('+', '.', '@').
func parseModeString(s string) (fs.FileMode, string, bool) {
	if len(s) == 11 && strings.IndexByte("+.@", s[10]) >= 0 {
		s = s[:10]
	}
	if len(s) != 10 {
		return 0, "", false
	}
	var (
		mode fs.FileMode
		typ  string
	)
	switch s[0] {
	case '-':
		typ = "file"
	case 'd':
		typ = "dir"
	case 'l':
		typ = "OS.unix=symlink"
	case 'p':
		typ = "OS.unix=fifo"
	case 's':
		typ = "OS.unix=socket"
	case 'c':
		typ = "OS.unix=chr"
	case 'b':
		typ = "OS.unix=blk"
	default:
		return 0, "", false
	}
	mode = typeMode(typ)
	specials := [3]fs.FileMode{fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky}
	for i := range 3 {
		r, w, x := s[1+3*i], s[2+3*i], s[3+3*i]
		shift := 3 * (2 - i)
		switch r {
		case 'r':
			mode |= 4 << shift
		case '-':
		default:
			return 0, "", false
		}
		switch w {
		case 'w':
			mode |= 2 << shift
		case '-':
		default:
			return 0, "", false
		}
		special, specialNoExec := byte('s'), byte('S')
		if i == 2 {
			special, specialNoExec = 't', 'T'
		}
		switch x {
		case 'x':
			mode |= 1 << shift
		case '-':
		case special:
			mode |= 1<<shift | specials[i]
		case specialNoExec:
			mode |= specials[i]
		default:
			return 0, "", false
		}
	}
	return mode, typ, true
}

// parseLsDate parses the "Nov 21 09:15" or "Nov 21  2025" date of ls -l.
func parseLsDate(monthField, dayField, timeField string, now time.Time) (time.Time, bool) {
	month := parseMonth(monthField)
	day, ok := parseDecimal(dayField, 2, 31)
	if month == 0 || !ok || day == 0 {
		return time.Time{}, false
	}
	if year, ok := parseDecimal(timeField, 4, 9999); ok && len(timeField) == 4 {
		if day > daysIn(year, month) {
			return time.Time{}, false
		}
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), true
	}
	hour, minute, ok := parseClock(timeField)
	if !ok {
		return time.Time{}, false
	}
	// The nearest year that does not put the date more than a day after
	// now; Feb 29 needs a leap year, no more than four years back.
	now = now.UTC()
	limit := now.Add(24 * time.Hour)
	for year := now.Year() + 1; year >= now.Year()-4; year-- {
		if day > daysIn(year, month) {
			continue
		}
		if t := time.Date(year, time.Month(month), day, hour, minute, 0, 0, time.UTC); !t.After(limit) {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseISODate parses the "2026-11-21 09:15" date of ls --time-style=long-iso.
func parseISODate(dateField, timeField string) (time.Time, bool) {
	if len(dateField) != 10 || dateField[4] != '-' || dateField[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := parseDecimal(dateField[:4], 4, 9999)
	month, ok2 := parseDecimal(dateField[5:7], 2, 12)
	day, ok3 := parseDecimal(dateField[8:], 2, 31)
	hour, minute, ok4 := parseClock(timeField)
	if !ok1 || !ok2 || !ok3 || !ok4 || month == 0 || day == 0 || day > daysIn(year, month) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, 0, 0, time.UTC), true
}

// parseMonth returns 1 to 12 for an English month abbreviation in any case,
// 0 otherwise.
func parseMonth(s string) int {
	if len(s) != 3 {
		return 0
	}
	for i := 0; i < 12; i++ {
		if strings.EqualFold(s, monthNames[3*i:3*i+3]) {
			return i + 1
		}
	}
	return 0
}

// parseClock parses "H:MM" or "HH:MM".
func parseClock(s string) (hour, minute int, ok bool) {
	h, m, found := strings.Cut(s, ":")
	hour, ok1 := parseDecimal(h, 2, 23)
	minute, ok2 := parseDecimal(m, 2, 59)
	return hour, minute, found && ok1 && ok2 && len(m) == 2
}

// parseDOSLine parses an IIS/DOS listing line:
// "11-21-26  09:15AM       <DIR>          name" or
// "11-21-2026  09:15PM                 1234 name".
func parseDOSLine(line string) (Entry, bool) {
	var spans [3]fieldSpan
	if splitFields(line, spans[:]) < 3 {
		return Entry{}, false
	}
	field := func(i int) string { return line[spans[i].start:spans[i].end] }
	date, clock, sizeField := field(0), field(1), field(2)

	// Date: MM-DD-YY or MM-DD-YYYY.
	if len(date) != 8 && len(date) != 10 || date[2] != '-' || date[5] != '-' {
		return Entry{}, false
	}
	month, ok1 := parseDecimal(date[:2], 2, 12)
	day, ok2 := parseDecimal(date[3:5], 2, 31)
	year, ok3 := parseDecimal(date[6:], 4, 9999)
	if !ok1 || !ok2 || !ok3 || month == 0 || day == 0 {
		return Entry{}, false
	}
	if len(date) == 8 { // two-digit year: 70-99 are 19xx
		if year < 70 {
			year += 2000
		} else {
			year += 1900
		}
	}
	if day > daysIn(year, month) {
		return Entry{}, false
	}

	// Time: HH:MM followed by AM or PM, or HH:MM on a 24-hour clock.
	var hour, minute int
	if n := len(clock); n > 2 && (strings.EqualFold(clock[n-2:], "AM") || strings.EqualFold(clock[n-2:], "PM")) {
		h, m, ok := parseClock(clock[:n-2])
		if !ok || h < 1 || h > 12 {
			return Entry{}, false
		}
		hour, minute = h%12, m
		if strings.EqualFold(clock[n-2:], "PM") {
			hour += 12
		}
	} else {
		var ok bool
		if hour, minute, ok = parseClock(clock); !ok {
			return Entry{}, false
		}
	}

	e := Entry{ModTime: time.Date(year, time.Month(month), day, hour, minute, 0, 0, time.UTC)}
	if strings.EqualFold(sizeField, "<DIR>") {
		e.Type = "dir"
		e.Mode = fs.ModeDir
	} else {
		size, err := strconv.ParseInt(sizeField, 10, 64)
		if err != nil || !isDigits(sizeField) {
			return Entry{}, false
		}
		e.Type = "file"
		e.Size = size
	}
	// The name starts after the spaces that follow the size column.
	rest := line[spans[2].end:]
	e.Name = strings.TrimLeft(rest, " \t")
	if e.Name == "" || len(rest) == len(e.Name) {
		return Entry{}, false
	}
	return e, true
}

// parseEPLF parses an Easily Parsed LIST Format line: "+" facts separated by
// commas, a tab, and the name. Facts: "/" a directory, "r" a file that can
// be retrieved, "s" the size, "m" the modification time in Unix seconds,
// "i" a unique identifier, "up" Unix permission bits in octal.
func parseEPLF(line string) (Entry, bool) {
	facts, name, ok := strings.Cut(line[1:], "\t")
	if !ok || name == "" {
		return Entry{}, false
	}
	e := Entry{Name: name}
	isDir, isFile := false, false
	for fact := range strings.SplitSeq(facts, ",") {
		if fact == "" {
			continue
		}
		switch value := fact[1:]; fact[0] {
		case '/':
			isDir = true
		case 'r':
			isFile = true
		case 's':
			size, err := strconv.ParseInt(value, 10, 64)
			if err != nil || !isDigits(value) {
				return Entry{}, false
			}
			e.Size = size
		case 'm':
			sec, err := strconv.ParseInt(value, 10, 64)
			if err != nil || !isDigits(value) || sec > 253402300799 { // 9999-12-31
				return Entry{}, false
			}
			e.ModTime = time.Unix(sec, 0).UTC()
		case 'i':
			e.Unique = value
		case 'u':
			if p, ok := strings.CutPrefix(value, "p"); ok {
				v, err := strconv.ParseUint(p, 8, 32)
				if err != nil || !isDigits(p) || v > 0o7777 {
					return Entry{}, false
				}
				e.Mode = modeFromOctal(uint32(v))
				e.HasMode = true
			}
		}
	}
	switch {
	case isDir:
		e.Type = "dir"
	case isFile:
		e.Type = "file"
	}
	e.Mode |= typeMode(e.Type)
	return e, true
}
