package ftp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// readLines reads every line of input with a LineReader of the given limit
// and bufio size, recording each line or error.
func readLines(t *testing.T, input string, max, bufSize int) []string {
	t.Helper()
	lr := NewLineReader(bufio.NewReaderSize(strings.NewReader(input), bufSize), max)
	var got []string
	for range 100 {
		line, err := lr.ReadLine()
		switch {
		case errors.Is(err, io.EOF):
			return got
		case err != nil:
			got = append(got, "error: "+err.Error())
			if !errors.Is(err, ErrLineTooLong) {
				return got
			}
		default:
			got = append(got, string(line))
		}
	}
	t.Fatalf("no EOF after 100 lines of %q", input)
	return nil
}

func TestLineReader(t *testing.T) {
	t.Parallel()
	tooLong := "error: " + ErrLineTooLong.Error()
	tests := []struct {
		name  string
		input string
		max   int
		want  []string
	}{
		{"CRLF", "USER bob\r\nPASS x\r\n", 0, []string{"USER bob", "PASS x"}},
		{"bare LF", "NOOP\nPWD\n", 0, []string{"NOOP", "PWD"}},
		{"CR kept inside", "A\rB\r\n", 0, []string{"A\rB"}},
		{"empty line", "\r\nNOOP\r\n", 0, []string{"", "NOOP"}},
		// What clients send before ABOR (RFC 959 §4.1.3): IAC IP, then
		// IAC DM as urgent data.
		{"IAC IP IAC DM stripped", "\xff\xf4\xff\xf2ABOR\r\n", 0, []string{"ABOR"}},
		{"IAC inside a line", "AB\xff\xf1OR\r\n", 0, []string{"ABOR"}},
		{"IAC IAC is 0xFF", "STOR a\xff\xffb\r\n", 0, []string{"STOR a\xffb"}},
		{"IAC WILL option dropped", "\xff\xfb\x01NOOP\r\n", 0, []string{"NOOP"}},
		{"IAC DONT option dropped", "NO\xff\xfe\x18OP\r\n", 0, []string{"NOOP"}},
		{"IAC LF ends the line", "NOOP\xff\nPWD\r\n", 0, []string{"NOOP", "PWD"}},
		{"IAC alone before LF", "\xff\n", 0, []string{""}},
		{"IAC WILL LF ends the line", "AB\xff\xfb\nCD\r\n", 0, []string{"AB", "CD"}},
		{"at the limit", "ABCD\r\n", 5, []string{"ABCD"}},
		{"limit without CR", "ABCDE\n", 5, []string{"ABCDE"}},
		{"over the limit", "ABCDEF\r\nNOOP\r\n", 5, []string{tooLong, "NOOP"}},
		{"far over the limit", strings.Repeat("x", 10000) + "\r\nNOOP\r\n", 64, []string{tooLong, "NOOP"}},
		{"two long lines", strings.Repeat("x", 100) + "\n" + strings.Repeat("y", 100) + "\nOK\n", 10, []string{tooLong, tooLong, "OK"}},
		{"0xFF doubled counts once", "\xff\xff\xff\xff\xff\xff\r\n", 4, []string{"\xff\xff\xff"}},
	}
	for _, tt := range tests {
		for _, bufSize := range []int{16, 4096} {
			got := readLines(t, tt.input, tt.max, bufSize)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("%s (buffer %d): got %q, want %q", tt.name, bufSize, got, tt.want)
			}
		}
	}
}

func TestLineReaderEOF(t *testing.T) {
	t.Parallel()
	lr := NewLineReader(bufio.NewReader(strings.NewReader("NOOP\r\nQUI")), 0)
	if line, err := lr.ReadLine(); err != nil || string(line) != "NOOP" {
		t.Fatalf("first line: %q, %v", line, err)
	}
	if _, err := lr.ReadLine(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("unterminated last line: got %v, want io.ErrUnexpectedEOF", err)
	}

	lr = NewLineReader(bufio.NewReader(strings.NewReader("")), 0)
	if _, err := lr.ReadLine(); err != io.EOF {
		t.Fatalf("empty input: got %v, want io.EOF", err)
	}
}

// The Telnet state survives a line end only where the sequence is
// complete; a sequence split between two reads of the underlying reader is
// still recognized.
func TestLineReaderSplitIAC(t *testing.T) {
	t.Parallel()
	r, w := io.Pipe()
	go func() {
		for _, part := range []string{"AB\xff", "\xf4CD\xff", "\xfb", "\x01EF\r\n"} {
			w.Write([]byte(part))
		}
		w.Close()
	}()
	lr := NewLineReader(bufio.NewReader(r), 0)
	line, err := lr.ReadLine()
	if err != nil || string(line) != "ABCDEF" {
		t.Fatalf("got %q, %v; want \"ABCDEF\"", line, err)
	}
}

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line     string
		verb     string
		arg      string
		wantFail bool
	}{
		{line: "USER anonymous", verb: "USER", arg: "anonymous"},
		{line: "user bob", verb: "USER", arg: "bob"},
		{line: "NOOP", verb: "NOOP"},
		{line: "STOR my file.txt", verb: "STOR", arg: "my file.txt"},
		{line: "CWD  two spaces", verb: "CWD", arg: " two spaces"},
		{line: "PWD ", verb: "PWD", arg: ""},
		{line: "opts UTF8 ON", verb: "OPTS", arg: "UTF8 ON"},
		{line: "XMKD d", verb: "XMKD", arg: "d"},
		{line: "", wantFail: true},
		{line: " NOOP", wantFail: true},
		{line: "NO-OP", wantFail: true},
		{line: "TOOLONGVERB x", wantFail: true},
		{line: "N\xffOP", wantFail: true},
		{line: "NOOP\tx", wantFail: true},
	}
	for _, tt := range tests {
		cmd, err := ParseCommand(tt.line)
		if tt.wantFail {
			if !errors.Is(err, ErrBadCommand) {
				t.Errorf("ParseCommand(%q) = %+v, %v; want ErrBadCommand", tt.line, cmd, err)
			}
			continue
		}
		if err != nil || cmd.Verb != tt.verb || cmd.Arg != tt.arg {
			t.Errorf("ParseCommand(%q) = %+v, %v; want {%s %q}", tt.line, cmd, err, tt.verb, tt.arg)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"USER anonymous", "stor my file.txt", "NOOP", "PWD ", "CWD  x", "", " x", "TOOLONGVERB", "N\xffOP x", "opts MLST type;size;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := ParseCommand(line)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("ParseCommand(%q): %v", line, err)
			}
			return
		}
		if cmd.Verb == "" || len(cmd.Verb) > 8 || cmd.Verb != strings.ToUpper(cmd.Verb) {
			t.Fatalf("ParseCommand(%q): verb %q", line, cmd.Verb)
		}
		if !strings.EqualFold(line[:len(cmd.Verb)], cmd.Verb) {
			t.Fatalf("ParseCommand(%q): verb %q is not the start of the line", line, cmd.Verb)
		}
		if rest := line[len(cmd.Verb):]; rest != "" && rest != " "+cmd.Arg || rest == "" && cmd.Arg != "" {
			t.Fatalf("ParseCommand(%q): argument %q is not the rest of the line", line, cmd.Arg)
		}
	})
}

// FuzzLineReader feeds arbitrary bytes (Telnet sequences, CR, LF, long
// lines) to a LineReader and checks that it never panics, never loops,
// never returns a line longer than its limit or one holding an LF.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("USER bob\r\nPASS x\r\n"), uint8(0), uint8(0))
	f.Add([]byte("\xff\xf4\xff\xf2ABOR\r\n"), uint8(0), uint8(0))
	f.Add([]byte("a\xff\xffb\r\n\xff\xfb\x01c\n"), uint8(8), uint8(0))
	f.Add([]byte("\xff\n\xff\xfb\n\xff"), uint8(4), uint8(16))
	f.Add([]byte(strings.Repeat("x", 300)+"\r\nNOOP\r\n"), uint8(32), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, max, bufSize uint8) {
		limit := int(max)
		if limit == 0 {
			limit = MaxLine
		}
		lr := NewLineReader(bufio.NewReaderSize(bytes.NewReader(data), 16+int(bufSize)), int(max))
		for range len(data) + 2 {
			line, err := lr.ReadLine()
			if errors.Is(err, ErrLineTooLong) {
				continue
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(line) > limit {
				t.Fatalf("line of %d bytes over the limit %d: %q", len(line), limit, line)
			}
			if bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line holds an LF: %q", line)
			}
		}
		t.Fatalf("more lines than bytes in %q", data)
	})
}

// scriptReader returns its parts one per Read; a nil part is a failure.
type scriptReader struct{ parts []string }

var errTimeout = errors.New("i/o timeout")

func (r *scriptReader) Read(p []byte) (int, error) {
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	part := r.parts[0]
	r.parts = r.parts[1:]
	if part == "\x00fail" {
		return 0, errTimeout
	}
	return copy(p, part), nil
}

// A read that fails mid-line (a deadline) leaves the start of the line
// for the next call, Telnet state and an overlong line included.
func TestLineReaderKeepsPartialLineAcrossErrors(t *testing.T) {
	t.Parallel()
	lr := NewLineReader(bufio.NewReader(&scriptReader{parts: []string{
		"NOO", "\x00fail", "P\r\nST\xff", "\x00fail", "\xf4AT\r\n",
		"abcdefghij", "\x00fail", "klmnop\r\n", "QUIT\r\n",
	}}), 12)
	want := []struct {
		line string
		err  error
	}{
		{"", errTimeout}, {"NOOP", nil},
		{"", errTimeout}, {"STAT", nil},
		{"", errTimeout}, {"", ErrLineTooLong},
		{"QUIT", nil},
	}
	for i, w := range want {
		line, err := lr.ReadLine()
		if string(line) != w.line || !errors.Is(err, w.err) {
			t.Fatalf("call %d: %q, %v; want %q, %v", i, line, err, w.line, w.err)
		}
	}
}

// Partial tells the server whether a line (or a Telnet sequence) was cut
// by the failed read, so that it keeps its reader for the rest.
func TestLineReaderPartial(t *testing.T) {
	t.Parallel()
	lr := NewLineReader(bufio.NewReader(&scriptReader{parts: []string{
		"NOOP\r\n", "\x00fail", "\xff", "\x00fail", "\xf4NOOP\r\n", "NO", "\x00fail", "OP\r\n",
	}}), 0)
	for i, want := range []bool{false, false, true, false, true, false} {
		lr.ReadLine()
		if got := lr.Partial(); got != want {
			t.Fatalf("after call %d: Partial() = %v, want %v", i, got, want)
		}
	}
}
