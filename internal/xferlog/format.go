// Package xferlog writes a transfer log in the xferlog format of wu-ftpd
// (xferlog(5)), which vsftpd (xferlog_std_format), ProFTPD and Pure-FTPd
// also write, so that the tools that read those servers' logs read
// ferry's: one line per finished upload or download, 14 fields.
//
//	Wed Dec  2 07:00:21 2026 1 127.0.0.1 12 /pub/my_file.txt b _ o a ftp@example.com ftp 0 * c
//
// The fields are: the time the transfer ended (ctime(3) layout, the day of
// the month padded with a space), the transfer time in whole seconds, the
// client's address, the bytes moved, the file name, the transfer type
// (a ASCII, b binary), the special-action flag (_ none), the direction
// (o outgoing: a download, i incoming: an upload), the access mode (a
// anonymous, r real account), the user name (the anonymous user's
// password, by custom an e-mail address), the service name (ftp), the
// authentication method (0 none), the authenticated user ID (* none) and
// the completion status (c complete, i incomplete).
//
// Where the format leaves room, ferry does what vsftpd does: the transfer
// time is the difference of the whole seconds of the end and the start,
// at least 1; the file name is the absolute path the client sees, with
// spaces written as "_" and every byte outside printable ASCII as "?".
package xferlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// DateLayout is the layout of the date field, ctime(3)'s without its
// newline.
const DateLayout = "Mon Jan _2 15:04:05 2006"

// Entry is one line of an xferlog.
type Entry struct {
	// Time is when the transfer ended.
	Time time.Time
	// Seconds is the transfer time in whole seconds.
	Seconds    int64
	RemoteHost string
	Bytes      int64
	Filename   string
	// Type is "a" (ASCII) or "b" (binary).
	Type string
	// SpecialAction is "_" when none, else some of C, U and T
	// (compressed, uncompressed, tar'ed on the fly by wu-ftpd).
	SpecialAction string
	// Direction is "o" (outgoing), "i" (incoming) or "d" (deleted).
	Direction string
	// AccessMode is "a" (anonymous), "g" (guest) or "r" (real).
	AccessMode string
	// Username is the account, or the ID string an anonymous user gave.
	Username string
	Service  string
	// AuthMethod is "0" (none) or "1" (RFC 931).
	AuthMethod string
	// AuthUserID is the user ID the authentication method returned, "*"
	// when none.
	AuthUserID string
	// Complete is true for status "c", false for "i".
	Complete bool
}

// EntryOf describes a finished upload or download as its xferlog line
// does, with the date in loc.
func EntryOf(rec ftpserver.TransferRecord, loc *time.Location) Entry {
	end := rec.Started.Add(rec.Duration)
	// As vsftpd counts: whole seconds of the wall clock, never 0, so
	// that tools dividing bytes by it do not divide by zero.
	seconds := end.Unix() - rec.Started.Unix()
	if seconds <= 0 {
		seconds = 1
	}
	e := Entry{
		Time:          end.Truncate(time.Second).In(loc),
		Seconds:       seconds,
		RemoteHost:    "-",
		Bytes:         rec.Bytes,
		Filename:      fieldSafe(rec.Path),
		Type:          "b",
		SpecialAction: "_",
		Direction:     "o",
		AccessMode:    "r",
		Username:      fieldSafe(rec.User),
		Service:       "ftp",
		AuthMethod:    "0",
		AuthUserID:    "*",
		Complete:      rec.Result == ftpserver.TransferOK,
	}
	if rec.Protocol != "" {
		e.Service = fieldSafe(rec.Protocol) // "sftp"
	}
	if rec.Remote.Addr().IsValid() {
		e.RemoteHost = rec.Remote.Addr().Unmap().WithZone("").String()
	}
	if rec.ASCII {
		e.Type = "a"
	}
	if rec.Direction == ftpserver.Upload {
		e.Direction = "i"
	}
	if rec.Anonymous {
		e.AccessMode = "a"
		e.Username = fieldSafe(rec.AnonymousID)
	}
	if e.Username == "" {
		// vsftpd writes an empty anonymous password so; an empty field
		// would shift every field after it.
		e.Username = "?"
	}
	return e
}

// fieldSafe keeps s one field of a line, as vsftpd does with file names:
// spaces become "_", and every byte outside printable ASCII "?" (a
// UTF-8 "é" is two bytes, "??").
func fieldSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == ' ':
			b[i] = '_'
		case c < ' ' || c >= 0x7f:
			b[i] = '?'
		}
	}
	return string(b)
}

// AppendTo appends the line of e, without a line end, to dst.
func (e *Entry) AppendTo(dst []byte) []byte {
	dst = e.Time.AppendFormat(dst, DateLayout)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.Seconds, 10)
	dst = append(dst, ' ')
	dst = append(dst, e.RemoteHost...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.Bytes, 10)
	for _, f := range []string{e.Filename, e.Type, e.SpecialAction, e.Direction, e.AccessMode, e.Username, e.Service, e.AuthMethod, e.AuthUserID} {
		dst = append(dst, ' ')
		dst = append(dst, f...)
	}
	if e.Complete {
		return append(dst, " c"...)
	}
	return append(dst, " i"...)
}

// String returns the line of e without a line end.
func (e *Entry) String() string { return string(e.AppendTo(nil)) }

// ErrSyntax is wrapped by the errors of ParseLine.
var ErrSyntax = errors.New("xferlog: malformed line")

// ParseLine parses one xferlog line (without its line end), reading the
// date in time.Local, the zone servers write it in.
func ParseLine(line string) (Entry, error) {
	return ParseLineIn(line, time.Local)
}

// ParseLineIn parses one xferlog line, reading the date in loc. It is
// strict about the layout, single spaces between fields included, as the
// servers write it.
func ParseLineIn(line string, loc *time.Location) (Entry, error) {
	var e Entry
	bad := func(format string, args ...any) (Entry, error) {
		return Entry{}, fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, args...))
	}
	if len(line) < len(DateLayout)+1 || line[len(DateLayout)] != ' ' {
		return bad("no date")
	}
	t, err := time.ParseInLocation(DateLayout, line[:len(DateLayout)], loc)
	if err != nil {
		return bad("date %q", line[:len(DateLayout)])
	}
	e.Time = t
	fields := strings.Split(line[len(DateLayout)+1:], " ")
	if len(fields) != 13 {
		return bad("%d fields after the date, want 13", len(fields))
	}
	for i, f := range fields {
		if f == "" {
			return bad("field %d is empty", i+6)
		}
		if strings.ContainsAny(f, "\r\n\t") {
			return bad("field %d holds a control character", i+6)
		}
	}
	if e.Seconds, err = parseCount(fields[0]); err != nil {
		return bad("transfer time %q", fields[0])
	}
	e.RemoteHost = fields[1]
	if e.Bytes, err = parseCount(fields[2]); err != nil {
		return bad("file size %q", fields[2])
	}
	e.Filename = fields[3]
	e.Type = fields[4]
	if e.Type != "a" && e.Type != "b" {
		return bad("transfer type %q", e.Type)
	}
	e.SpecialAction = fields[5]
	if e.SpecialAction != "_" && strings.Trim(e.SpecialAction, "CUT") != "" {
		return bad("special-action flag %q", e.SpecialAction)
	}
	e.Direction = fields[6]
	if e.Direction != "o" && e.Direction != "i" && e.Direction != "d" {
		return bad("direction %q", e.Direction)
	}
	e.AccessMode = fields[7]
	if e.AccessMode != "a" && e.AccessMode != "g" && e.AccessMode != "r" {
		return bad("access mode %q", e.AccessMode)
	}
	e.Username = fields[8]
	e.Service = fields[9]
	e.AuthMethod = fields[10]
	if e.AuthMethod != "0" && e.AuthMethod != "1" {
		return bad("authentication method %q", e.AuthMethod)
	}
	e.AuthUserID = fields[11]
	switch fields[12] {
	case "c":
		e.Complete = true
	case "i":
	default:
		return bad("completion status %q", fields[12])
	}
	return e, nil
}

// parseCount parses a decimal count as servers write one: digits only.
func parseCount(s string) (int64, error) {
	if strings.Trim(s, "0123456789") != "" {
		return 0, ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}
