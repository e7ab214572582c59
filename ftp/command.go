package ftp

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// MaxLine is the longest command line a server accepts, counting the CR
// of its CRLF but not the LF.
// RFC 959 sets no limit; 4096 leaves room for long UTF-8 paths.
const MaxLine = 4096

// ErrLineTooLong is returned by LineReader.ReadLine for a line longer than
// its limit; the rest of that line has been discarded, so the next read
// starts at the next command.
var ErrLineTooLong = errors.New("ftp: command line too long")

// Telnet bytes (RFC 854) that can appear on an FTP control connection.
const (
	telnetIAC  = 0xFF
	telnetDONT = 0xFE
	telnetWILL = 0xFB
)

// LineReader reads command lines from a control connection, dropping the
// Telnet sequences clients put around urgent commands (IAC IP, IAC DM,
// option negotiation) and undoubling an escaped 0xFF byte. Its buffer is
// reused between lines.
type LineReader struct {
	r        *bufio.Reader
	max      int
	line     []byte
	state    byte // Telnet parser state carried across reads
	partial  bool // a read failed mid-line: line holds its start
	overflow bool // the line being read is longer than max
}

// NewLineReader returns a reader that accepts lines of at most max bytes
// (MaxLine when max <= 0).
func NewLineReader(r *bufio.Reader, max int) *LineReader {
	if max <= 0 {
		max = MaxLine
	}
	return &LineReader{r: r, max: max}
}

const (
	stData = iota
	stIAC
	stOption
)

// ReadLine returns the next line without its line end (LF, with a CR before
// it removed). The returned slice is valid until the next call. When the
// underlying reader fails mid-line (a read deadline, typically), what was
// read of the line is kept and the next call goes on with it.
func (lr *LineReader) ReadLine() ([]byte, error) {
	if !lr.partial {
		lr.line = lr.line[:0]
		lr.overflow = false
	}
	lr.partial = false
	for {
		chunk, err := lr.r.ReadSlice('\n')
		for _, c := range chunk {
			if c == '\n' {
				// A line end ends the line even where a Telnet
				// sequence would take it as its argument ("IAC LF",
				// "IAC WILL LF"): the client thinks the line is over,
				// and the LF must stay to mark the end below.
				lr.state = stData
			}
			switch lr.state {
			case stIAC:
				switch {
				case c == telnetIAC:
					lr.state = stData
					lr.line = lr.appendByte(lr.line, c, &lr.overflow)
				case c >= telnetWILL && c <= telnetDONT:
					lr.state = stOption
				default: // IP, DM, AO, AYT, ...: commands with no data
					lr.state = stData
				}
				continue
			case stOption:
				lr.state = stData
				continue
			}
			if c == telnetIAC {
				lr.state = stIAC
				continue
			}
			lr.line = lr.appendByte(lr.line, c, &lr.overflow)
		}
		switch {
		case err == nil:
			if lr.overflow {
				lr.line = lr.line[:0]
				return nil, ErrLineTooLong
			}
			line := lr.line[:len(lr.line)-1] // drop LF
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(lr.line) > 0 && !lr.overflow:
			return nil, io.ErrUnexpectedEOF
		default:
			lr.partial = len(lr.line) > 0 || lr.overflow
			return nil, err
		}
	}
}

// Partial reports whether the last ReadLine failed with part of a line
// (or of a Telnet sequence) read, which the next call completes.
func (lr *LineReader) Partial() bool { return lr.partial || lr.state != stData }

func (lr *LineReader) appendByte(line []byte, c byte, overflow *bool) []byte {
	if *overflow {
		if c == '\n' { // keep the terminator so the caller sees the end
			return append(line[:0], c)
		}
		return line
	}
	if len(line) >= lr.max && c != '\n' {
		*overflow = true
		return line[:0]
	}
	return append(line, c)
}

// Buffered returns how many bytes have been read from the connection but
// not yet returned as lines.
func (lr *LineReader) Buffered() int { return lr.r.Buffered() }

// PeekBuffered returns the bytes read from the connection but not yet
// returned as lines, without consuming them or reading more. The slice is
// valid until the next ReadLine.
func (lr *LineReader) PeekBuffered() []byte {
	b, _ := lr.r.Peek(lr.r.Buffered())
	return b
}

// Command is one parsed command line.
type Command struct {
	Verb string // upper case
	Arg  string // everything after the first space, as sent
}

// ErrBadCommand is returned by ParseCommand for a line with no usable verb.
var ErrBadCommand = errors.New("ftp: malformed command")

// ParseCommand splits a command line into its verb and argument. Verbs are
// case-insensitive (RFC 959 §5.3) and made of ASCII letters and digits; the
// argument keeps its spaces, since paths may contain them.
func ParseCommand(line string) (Command, error) {
	verb, arg, _ := strings.Cut(line, " ")
	if verb == "" || len(verb) > 8 {
		return Command{}, ErrBadCommand
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return Command{}, ErrBadCommand
		}
	}
	return Command{Verb: strings.ToUpper(verb), Arg: arg}, nil
}
