package ftp

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// blk builds one block by hand, independently of BlockWriter.
func blk(desc byte, data string) string {
	return string([]byte{desc, byte(len(data) >> 8), byte(len(data))}) + data
}

// readBlocks reads all of in through a BlockReader, returning the data,
// the markers in order (each with the data length when it arrived) and
// the final error (nil for a clean EOF).
func readBlocks(in io.Reader) (string, []string, error) {
	var data bytes.Buffer
	var marks []string
	br := NewBlockReader(in)
	br.OnMark = func(m []byte) error {
		marks = append(marks, string(m)+"@"+strconv.Itoa(data.Len()))
		return nil
	}
	_, err := io.Copy(&data, br)
	return data.String(), marks, err
}

func TestBlockReader(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", MaxBlockData)
	cases := []struct {
		name  string
		in    string
		data  string
		marks []string
		err   error
	}{
		{"empty file", blk(BlockEOF, ""), "", nil, nil},
		{"one block with EOF", blk(BlockEOF, "hello"), "hello", nil, nil},
		{"data then empty EOF", blk(0, "ab") + blk(0, "cd") + blk(BlockEOF, ""), "abcd", nil, nil},
		{"full-size block", blk(0, big) + blk(BlockEOF, "!"), big + "!", nil, nil},
		{"markers between data", blk(0, "abc") + blk(BlockRestart, "3") + blk(0, "de") + blk(BlockRestart, "r-5") + blk(BlockEOF, ""),
			"abcde", []string{"3@3", "r-5@5"}, nil},
		{"marker with EOF", blk(0, "abc") + blk(BlockRestart|BlockEOF, "M1"), "abc", []string{"M1@3"}, nil},
		{"EOR and suspect pass through", blk(BlockEOR, "rec1") + blk(BlockSuspect, "??") + blk(BlockEOR|BlockEOF, "rec2"), "rec1??rec2", nil, nil},
		{"bytes after EOF are not read", blk(BlockEOF, "a") + "\xff\xff\xff", "a", nil, nil},
		{"no EOF block", blk(0, "abc"), "abc", nil, ErrBlockIncomplete},
		{"nothing at all", "", "", nil, ErrBlockIncomplete},
		{"truncated header", blk(0, "abc") + "\x40\x00", "abc", nil, ErrBlockIncomplete},
		{"truncated data", "\x40\x00\x05abc", "abc", nil, ErrBlockIncomplete},
		{"truncated marker", "\x10\x00\x05ab", "", nil, ErrBlockIncomplete},
		{"unassigned descriptor bit", blk(0, "ab") + blk(0x01, "cd"), "ab", nil, ErrBadBlock},
		{"descriptor 0xff", blk(0xff, ""), "", nil, ErrBadBlock},
		{"empty marker", blk(BlockRestart, "") + blk(BlockEOF, ""), "", nil, ErrBadBlock},
		{"marker with CRLF", blk(BlockRestart, "1\r\n226 ok") + blk(BlockEOF, ""), "", nil, ErrBadBlock},
		{"marker with space", blk(BlockRestart, "1 = 2") + blk(BlockEOF, ""), "", nil, ErrBadBlock},
		{"overlong marker", blk(BlockRestart, strings.Repeat("9", MaxMarker+1)) + blk(BlockEOF, ""), "", nil, ErrBadBlock},
		{"longest marker", blk(BlockRestart, strings.Repeat("9", MaxMarker)) + blk(BlockEOF, ""), "", []string{strings.Repeat("9", MaxMarker) + "@0"}, nil},
	}
	for _, tc := range cases {
		for _, oneByte := range []bool{false, true} {
			var in io.Reader = strings.NewReader(tc.in)
			if oneByte {
				in = iotest.OneByteReader(in)
			}
			data, marks, err := readBlocks(in)
			if data != tc.data {
				t.Errorf("%s (one byte reads %v): data %q, want %q", tc.name, oneByte, trunc(data), trunc(tc.data))
			}
			if strings.Join(marks, ",") != strings.Join(tc.marks, ",") {
				t.Errorf("%s (one byte reads %v): markers %q, want %q", tc.name, oneByte, marks, tc.marks)
			}
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Errorf("%s (one byte reads %v): err %v, want %v", tc.name, oneByte, err, tc.err)
			}
		}
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func TestBlockReaderKeepsNetworkError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	in := io.MultiReader(strings.NewReader(blk(0, "abc")), iotest.ErrReader(boom))
	data, _, err := readBlocks(in)
	if data != "abc" || !errors.Is(err, boom) {
		t.Fatalf("data %q err %v, want \"abc\" and the reader's own error", data, err)
	}
}

func TestBlockReaderOnMarkError(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	br := NewBlockReader(strings.NewReader(blk(0, "ab") + blk(BlockRestart, "2") + blk(BlockEOF, "cd")))
	br.OnMark = func([]byte) error { return stop }
	got, err := io.ReadAll(br)
	if string(got) != "ab" || !errors.Is(err, stop) {
		t.Fatalf("got %q, %v; want \"ab\" and the callback's error", got, err)
	}
	if string(br.Marker()) != "2" {
		t.Fatalf("Marker() = %q, want \"2\"", br.Marker())
	}
}

func TestBlockWriter(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("y", MaxBlockData+10)
	cases := []struct {
		name string
		run  func(bw *BlockWriter) error
		want string
	}{
		{"empty file", func(bw *BlockWriter) error { return nil }, blk(BlockEOF, "")},
		{"small writes gather into one block", func(bw *BlockWriter) error {
			for _, s := range []string{"a", "bc", "def"} {
				if _, err := bw.Write([]byte(s)); err != nil {
					return err
				}
			}
			return nil
		}, blk(BlockEOF, "abcdef")},
		{"a large write splits at 65535", func(bw *BlockWriter) error {
			_, err := bw.Write([]byte(big))
			return err
		}, blk(0, big[:MaxBlockData]) + blk(BlockEOF, big[MaxBlockData:])},
		{"exactly one full block", func(bw *BlockWriter) error {
			_, err := bw.Write([]byte(big[:MaxBlockData]))
			return err
		}, blk(0, big[:MaxBlockData]) + blk(BlockEOF, "")},
		{"marker after data", func(bw *BlockWriter) error {
			bw.Write([]byte("abc"))
			if err := bw.Mark("3"); err != nil {
				return err
			}
			bw.Write([]byte("de"))
			return nil
		}, blk(0, "abc") + blk(BlockRestart, "3") + blk(BlockEOF, "de")},
		{"flush with nothing pending sends nothing", func(bw *BlockWriter) error {
			bw.Flush()
			bw.Write([]byte("a"))
			bw.Flush()
			return bw.Flush()
		}, blk(0, "a") + blk(BlockEOF, "")},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		bw := NewBlockWriter(&out)
		if err := tc.run(bw); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := bw.Close(); err != nil {
			t.Fatalf("%s: Close: %v", tc.name, err)
		}
		if out.String() != tc.want {
			t.Errorf("%s: wrote % x, want % x", tc.name, trunc(out.String()), trunc(tc.want))
		}
		if _, err := bw.Write([]byte("late")); err == nil {
			t.Errorf("%s: Write after Close succeeded", tc.name)
		}
	}
}

func TestBlockWriterRefusesBadMarker(t *testing.T) {
	t.Parallel()
	for _, m := range []string{"", "a b", "1\r\n", strings.Repeat("1", MaxMarker+1), "\x7f"} {
		var out bytes.Buffer
		if err := NewBlockWriter(&out).Mark(m); !errors.Is(err, ErrBadBlock) || out.Len() != 0 {
			t.Errorf("Mark(%q) = %v, wrote %d bytes; want ErrBadBlock and nothing", m, err, out.Len())
		}
	}
}

// FuzzBlockReader feeds arbitrary bytes to the reader: it must not panic,
// must return no more data than the input holds, and what it accepts
// (a clean EOF) must survive re-framing by BlockWriter unchanged.
func FuzzBlockReader(f *testing.F) {
	f.Add([]byte(blk(BlockEOF, "")))
	f.Add([]byte(blk(0, "abc") + blk(BlockRestart, "3") + blk(BlockEOF, "de")))
	f.Add([]byte(blk(BlockEOR, "r") + blk(BlockSuspect|BlockEOF, "s")))
	f.Add([]byte(blk(0, "abc")))
	f.Add([]byte("\x40\x00"))
	f.Add([]byte(blk(0x0f, "x")))
	f.Add([]byte(blk(BlockRestart, "1\r\n") + blk(BlockEOF, "")))
	f.Add([]byte("\x10\xff\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		data, marks, err := readBlocks(bytes.NewReader(in))
		if len(data) > len(in) {
			t.Fatalf("%d data bytes out of %d input bytes", len(data), len(in))
		}
		if err != nil {
			if !errors.Is(err, ErrBlockIncomplete) && !errors.Is(err, ErrBadBlock) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		var out bytes.Buffer
		bw := NewBlockWriter(&out)
		at := 0
		for _, m := range marks {
			// "marker@offset"; a marker may hold "@" itself.
			i := strings.LastIndex(m, "@")
			text, pos := m[:i], m[i+1:]
			n, _ := strconv.Atoi(pos)
			bw.Write([]byte(data[at:n]))
			at = n
			if err := bw.Mark(text); err != nil {
				t.Fatalf("marker %q accepted by the reader, refused by the writer: %v", text, err)
			}
		}
		bw.Write([]byte(data[at:]))
		if err := bw.Close(); err != nil {
			t.Fatal(err)
		}
		data2, marks2, err := readBlocks(&out)
		if err != nil || data2 != data || strings.Join(marks2, ",") != strings.Join(marks, ",") {
			t.Fatalf("re-framed: %q %q %v; first read %q %q", data2, marks2, err, data, marks)
		}
	})
}

func TestMarkEvery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		offset, interval int64
		writes           []string
		want             string
	}{
		{"markers inside and between writes", 0, 4, []string{"abcdef", "gh", "ij"},
			blk(0, "abcd") + blk(BlockRestart, "4") + blk(0, "efgh") + blk(BlockRestart, "8") + blk(BlockEOF, "ij")},
		{"from an offset, on multiples", 10, 4, []string{"abcdefg"},
			blk(0, "ab") + blk(BlockRestart, "12") + blk(0, "cdef") + blk(BlockRestart, "16") + blk(BlockEOF, "g")},
		{"no interval, no marker", 0, 0, []string{"abcdef"}, blk(BlockEOF, "abcdef")},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		bw := NewBlockWriter(&out)
		w := bw.MarkEvery(bw, tc.offset, tc.interval)
		for _, s := range tc.writes {
			if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
				t.Fatalf("%s: Write(%q) = %d, %v", tc.name, s, n, err)
			}
		}
		bw.Close()
		if out.String() != tc.want {
			t.Errorf("%s: wrote %q, want %q", tc.name, out.String(), tc.want)
		}
	}
}

func TestMarkEveryThroughCRLF(t *testing.T) {
	t.Parallel()
	// File offsets, not wire bytes: "a\n" is 2 bytes of file, 3 on the wire.
	var out bytes.Buffer
	bw := NewBlockWriter(&out)
	w := bw.MarkEvery(NewCRLFWriter(bw), 0, 2)
	w.Write([]byte("a\nb\n"))
	bw.Close()
	want := blk(0, "a\r\n") + blk(BlockRestart, "2") + blk(0, "b\r\n") + blk(BlockRestart, "4") + blk(BlockEOF, "")
	if out.String() != want {
		t.Fatalf("wrote %q, want %q", out.String(), want)
	}
}

func TestParseMarkReply(t *testing.T) {
	t.Parallel()
	cases := []struct {
		msg, sender, receiver string
		ok                    bool
	}{
		{"MARK 100 = 200", "100", "200", true},
		{"MARK r#7 = 1048576", "r#7", "1048576", true},
		{"MARK 100=200", "", "", false},
		{"MARK  = 200", "", "", false},
		{"MARK 1 = ", "", "", false},
		{"mark 1 = 2", "", "", false},
		{"MARK 1 = 2 = 3", "", "", false},
		{"Restart marker", "", "", false},
	}
	for _, tc := range cases {
		s, r, err := ParseMarkReply(tc.msg)
		if s != tc.sender || r != tc.receiver || (err == nil) != tc.ok {
			t.Errorf("ParseMarkReply(%q) = %q, %q, %v", tc.msg, s, r, err)
		}
	}
}

func FuzzParseMarkReply(f *testing.F) {
	for _, s := range []string{"MARK 100 = 200", "MARK a = b = c", "MARK  = ", "MARK \r\n = 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		s, r, err := ParseMarkReply(msg)
		if err != nil {
			return
		}
		if !ValidMarker([]byte(s)) || !ValidMarker([]byte(r)) || "MARK "+s+" = "+r != msg {
			t.Fatalf("ParseMarkReply(%q) = %q, %q", msg, s, r)
		}
	})
}
