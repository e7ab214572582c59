package ftpclient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Bounds on what the client reads from a server, so that a hostile or
// broken one cannot make it buffer without end.
const (
	maxReplyLine  = 8 << 10 // one line of a reply
	maxReplyBytes = 4 << 20 // a whole multi-line reply (STAT of a big directory)
	maxListLine   = 64 << 10
)

var errLineTooLong = errors.New("line too long")

// reply is one server reply. A multi-line reply's text has its lines
// joined with "\n"; a "ddd-" prefix on inner lines is removed, as
// net/textproto does.
type reply struct {
	code int
	msg  string
}

// err returns the reply as an error if it is negative (4xx, 5xx).
func (r reply) err() error {
	if r.code >= 400 {
		return negative(r.code, r.msg)
	}
	return nil
}

// readLine reads one line of at most max bytes and returns it without its
// line end (LF or CRLF). A line that ends without a line end at EOF is
// io.ErrUnexpectedEOF; EOF before any byte is io.EOF.
func readLine(br *bufio.Reader, max int) (string, error) {
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(long)+len(chunk) > max+2 { // +2: the line end is not counted
			return "", errLineTooLong
		}
		switch {
		case err == nil:
			if long != nil {
				chunk = append(long, chunk...)
			}
			return trimEOL(string(chunk)), nil
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, chunk...)
		case errors.Is(err, io.EOF):
			if len(long)+len(chunk) == 0 {
				return "", io.EOF
			}
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

func trimEOL(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

// readReply reads one reply (RFC 959 §4.2): a line "ddd text", or a first
// line "ddd-text", any lines, and a last line "ddd text" with the same
// code. A line of only the three digits is accepted as a last line.
func readReply(br *bufio.Reader) (reply, error) {
	line, err := readLine(br, maxReplyLine)
	if err != nil {
		return reply{}, replyReadError(err)
	}
	code, more, text, ok := splitCodeLine(line)
	if !ok {
		return reply{}, fmt.Errorf("%w: malformed reply %q", ErrProtocol, clip(line))
	}
	if !more {
		return reply{code, text}, nil
	}
	var b strings.Builder
	b.WriteString(text)
	total := len(line)
	for {
		line, err := readLine(br, maxReplyLine)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return reply{}, replyReadError(err)
		}
		total += len(line) + 1
		if total > maxReplyBytes {
			return reply{}, fmt.Errorf("%w: reply longer than %d bytes", ErrProtocol, maxReplyBytes)
		}
		b.WriteByte('\n')
		if c, inner, text, ok := splitCodeLine(line); ok && c == code {
			b.WriteString(text)
			if !inner {
				return reply{code, b.String()}, nil
			}
			continue
		}
		b.WriteString(line)
	}
}

func replyReadError(err error) error {
	if errors.Is(err, errLineTooLong) {
		return fmt.Errorf("%w: reply line longer than %d bytes", ErrProtocol, maxReplyLine)
	}
	return err
}

// splitCodeLine splits "ddd text" (more false) or "ddd-text" (more true).
func splitCodeLine(line string) (code int, more bool, text string, ok bool) {
	if len(line) < 3 || line[0] < '1' || line[0] > '5' || !isDigit(line[1]) || !isDigit(line[2]) {
		return 0, false, "", false
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, false, "", true
	}
	switch line[3] {
	case ' ':
		return code, false, line[4:], true
	case '-':
		return code, true, line[4:], true
	}
	return 0, false, "", false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Features are the extensions a server announced in its FEAT reply (RFC
// 2389), by upper-case name, with their parameters: "MLST" →
// "type*;size*;modify*;", "REST" → "STREAM".
type Features struct {
	m map[string]string
	// lines holds each announcement whole, upper case ("MODE Z"), for a
	// feature announced once per variant, where m keeps only the last.
	lines map[string]bool
}

// parseFeatures reads the text of a 211 reply to FEAT. The first and last
// lines are the reply's frame ("Features:", "End"); each line between
// names one feature, followed by its parameters after a space.
func parseFeatures(msg string) Features {
	f := Features{m: map[string]string{}, lines: map[string]bool{}}
	lines := strings.Split(msg, "\n")
	if len(lines) < 3 {
		return f
	}
	for _, line := range lines[1 : len(lines)-1] {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, params, _ := strings.Cut(line, " ")
		f.m[strings.ToUpper(name)] = strings.TrimSpace(params)
		f.lines[strings.ToUpper(name+" "+strings.TrimSpace(params))] = true
	}
	return f
}

// Has reports whether the server announced the feature name (any case):
// a feature's name ("MODE") or a whole line of the announcement ("MODE
// Z"), for features announced once per variant.
func (f Features) Has(name string) bool {
	_, ok := f.m[strings.ToUpper(name)]
	return ok || f.lines[strings.ToUpper(name)]
}

// Param returns the parameters of a feature, and whether it was announced.
func (f Features) Param(name string) (string, bool) {
	p, ok := f.m[strings.ToUpper(name)]
	return p, ok
}

// Names returns the announced features in sorted order.
func (f Features) Names() []string {
	names := make([]string, 0, len(f.m))
	for n := range f.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// factList parses a starred list such as the MLST feature's
// "type*;size*;modify;" or the HASH feature's "SHA-256*;SHA-1;MD5": the
// names in order and the ones marked selected.
func factList(param string) (names []string, selected map[string]bool) {
	selected = map[string]bool{}
	for item := range strings.SplitSeq(param, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		star := strings.HasSuffix(item, "*")
		item = strings.ToLower(strings.TrimSuffix(item, "*"))
		names = append(names, item)
		if star {
			selected[item] = true
		}
	}
	return names, selected
}
