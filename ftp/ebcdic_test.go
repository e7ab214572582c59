package ftp

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// chartSample is read off the code page 037 chart by hand, independently
// of the table in ebcdic.go: stored byte -> wire byte.
var chartSample = []struct {
	text, wire byte
}{
	{' ', 0x40}, {'.', 0x4B}, {'<', 0x4C}, {'(', 0x4D}, {'+', 0x4E}, {'|', 0x4F},
	{'&', 0x50}, {'!', 0x5A}, {'$', 0x5B}, {'*', 0x5C}, {')', 0x5D}, {';', 0x5E},
	{0xAC /* ¬ */, 0x5F}, {'-', 0x60}, {'/', 0x61}, {',', 0x6B}, {'%', 0x6C},
	{'_', 0x6D}, {'>', 0x6E}, {'?', 0x6F}, {'`', 0x79}, {':', 0x7A}, {'#', 0x7B},
	{'@', 0x7C}, {'\'', 0x7D}, {'=', 0x7E}, {'"', 0x7F},
	{'a', 0x81}, {'i', 0x89}, {'j', 0x91}, {'r', 0x99}, {'s', 0xA2}, {'z', 0xA9},
	{'A', 0xC1}, {'I', 0xC9}, {'J', 0xD1}, {'R', 0xD9}, {'S', 0xE2}, {'Z', 0xE9},
	{'0', 0xF0}, {'9', 0xF9}, {'{', 0xC0}, {'}', 0xD0}, {'\\', 0xE0}, {'[', 0xBA},
	{']', 0xBB}, {'^', 0xB0}, {'~', 0xA1}, {0xE9 /* é */, 0x51}, {0xA2 /* ¢ */, 0x4A},
	{0xA3 /* £ */, 0xB1}, {0xFC /* ü */, 0xDC}, {0xDF /* ß */, 0x59}, {0xA0 /* NBSP */, 0x41},
	{0x00, 0x00}, {'\t', 0x05}, {'\r', 0x0D}, {0x7F /* DEL */, 0x07}, {0xFF /* ÿ */, 0xDF},
	// The line ends: LF travels as NL, and NEL takes EBCDIC LF's place.
	{'\n', 0x15}, {0x85, 0x25},
}

func TestEBCDICChart(t *testing.T) {
	t.Parallel()
	for _, c := range chartSample {
		if got := TextToEBCDIC(c.text); got != c.wire {
			t.Errorf("TextToEBCDIC(%#02x) = %#02x, want %#02x", c.text, got, c.wire)
		}
		if got := EBCDICToText(c.wire); got != c.text {
			t.Errorf("EBCDICToText(%#02x) = %#02x, want %#02x", c.wire, got, c.text)
		}
	}
	var seen [256]bool
	for b := 0; b < 256; b++ {
		e := TextToEBCDIC(byte(b))
		if seen[e] {
			t.Errorf("two bytes map to %#02x", e)
		}
		seen[e] = true
		if back := EBCDICToText(e); back != byte(b) {
			t.Errorf("EBCDICToText(TextToEBCDIC(%#02x)) = %#02x", b, back)
		}
	}
}

// TestEBCDICPythonOracle compares every byte with Python's 'cp037' codec,
// an implementation independent of ours. Python follows the strict chart
// for the two line-end code points (LF <-> 0x25, U+0085 <-> 0x15); ferry
// swaps them as z/OS does, which is checked here too.
func TestEBCDICPythonOracle(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	script := `import sys; sys.stdout.buffer.write(bytes(range(256)).decode("latin-1").encode("cp037"))`
	want, err := exec.Command(python, "-c", script).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	if len(want) != 256 {
		t.Fatalf("python3 gave %d bytes, want 256", len(want))
	}
	want[0x0A], want[0x85] = EBCDICNewLine, EBCDICLineFeed
	var got bytes.Buffer
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if _, err := NewEBCDICEncoder(&got).Write(all); err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		if got.Bytes()[i] != want[i] {
			t.Errorf("byte %#02x: ferry sends %#02x, cp037 (line ends swapped) %#02x", i, got.Bytes()[i], want[i])
		}
	}
}

// ebcdicChunks writes in to a TYPE E encoder or decoder in pieces of the
// given sizes (the rest in one piece) and returns what came out.
func ebcdicChunks(t testing.TB, in []byte, sizes []int, decode bool) []byte {
	t.Helper()
	var out bytes.Buffer
	var dec *EBCDICDecoder
	w := NewEBCDICEncoder(&out)
	if decode {
		dec = NewEBCDICDecoder(&out)
		w = dec
	}
	p := in
	for _, size := range append(sizes, len(p)) {
		size = min(size, len(p))
		if n, err := w.Write(p[:size]); err != nil || n != size {
			t.Fatalf("Write(%q) = %d, %v", p[:size], n, err)
		}
		p = p[size:]
	}
	if dec != nil {
		if err := dec.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}
	return out.Bytes()
}

// refDecode is the obvious form of the decoder: CR LF first, then bytes.
func refDecode(in []byte) []byte {
	in = bytes.ReplaceAll(in, []byte{0x0D, EBCDICLineFeed}, []byte{EBCDICNewLine})
	out := make([]byte, len(in))
	for i, b := range in {
		out[i] = EBCDICToText(b)
	}
	return out
}

func TestEBCDICLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		text string
		wire []byte
	}{
		{"empty", "", nil},
		{"lines", "AB\ncd\n", []byte{0xC1, 0xC2, 0x15, 0x83, 0x84, 0x15}},
		{"no final line end", "x\ny", []byte{0xA7, 0x15, 0xA8}},
		{"CR LF kept as CR NL", "a\r\n", []byte{0x81, 0x0D, 0x15}},
		{"lone CR", "a\rb", []byte{0x81, 0x0D, 0x82}},
		{"CR at end", "a\r", []byte{0x81, 0x0D}},
	}
	for _, c := range cases {
		if got := ebcdicChunks(t, []byte(c.text), nil, false); !bytes.Equal(got, c.wire) {
			t.Errorf("%s: encode(%q) = % x, want % x", c.name, c.text, got, c.wire)
		}
		for cut := 0; cut <= len(c.wire); cut++ {
			if got := ebcdicChunks(t, c.wire, []int{cut}, true); string(got) != c.text {
				t.Errorf("%s: decode(% x) cut at %d = %q, want %q", c.name, c.wire, cut, got, c.text)
			}
		}
	}
	// What clients that think in CR LF send is taken as a line end too.
	upload := []struct {
		wire []byte
		text string
	}{
		{[]byte{0xC1, 0x0D, 0x25, 0xC2, 0x0D, 0x25}, "A\nB\n"},
		{[]byte{0x0D, 0x0D, 0x25}, "\r\n"},
		{[]byte{0x25}, "\x85"}, // a lone EBCDIC LF is NEL, its pair in the swap
		{[]byte{0x0D, 0x0D}, "\r\r"},
	}
	for _, c := range upload {
		for cut := 0; cut <= len(c.wire); cut++ {
			if got := ebcdicChunks(t, c.wire, []int{cut}, true); string(got) != c.text {
				t.Errorf("decode(% x) cut at %d = %q, want %q", c.wire, cut, got, c.text)
			}
		}
	}
}

func TestEBCDICLarge(t *testing.T) {
	t.Parallel()
	// Longer than the staging buffer, so the buffer is refilled.
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog.\r\n\n", 2000))
	wire := ebcdicChunks(t, text, []int{1, 4095, 20000}, false)
	if len(wire) != len(text) {
		t.Fatalf("encoded %d bytes into %d", len(text), len(wire))
	}
	if back := ebcdicChunks(t, wire, []int{7, 16384, 3}, true); !bytes.Equal(back, text) {
		t.Fatalf("round trip changed the text")
	}
}

func TestEBCDICWriteErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	enc := NewEBCDICEncoder(failingWriter{boom})
	if _, err := enc.Write([]byte("abc")); !errors.Is(err, boom) {
		t.Fatalf("encoder: %v; want boom", err)
	}
	if _, err := enc.Write([]byte("abc")); !errors.Is(err, boom) {
		t.Fatalf("encoder after a failure: %v; want boom", err)
	}
	dec := NewEBCDICDecoder(failingWriter{boom})
	if _, err := dec.Write([]byte{0x81}); !errors.Is(err, boom) {
		t.Fatalf("decoder: %v; want boom", err)
	}
	if err := dec.Flush(); !errors.Is(err, boom) {
		t.Fatalf("decoder Flush after a failure: %v; want boom", err)
	}
	dec = NewEBCDICDecoder(failingWriter{boom})
	if n, err := dec.Write([]byte{0x0D}); err != nil || n != 1 {
		t.Fatalf("a lone CR reached the writer: %d, %v", n, err)
	}
	if err := dec.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush of the held CR: %v; want boom", err)
	}
	if _, err := NewEBCDICEncoder(shortWriter{}).Write([]byte("abc")); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("short write: %v", err)
	}
}

// FuzzEBCDIC checks the TYPE E decoder against its reference form for any
// input and any split of it into writes, and that receiving undoes
// sending: exactly, except that stored CR followed by NEL (0x85) travels
// as EBCDIC CR LF and so comes back as one LF.
func FuzzEBCDIC(f *testing.F) {
	f.Add([]byte("line one\nline two\n"), []byte{3, 5})
	f.Add([]byte("a\r\nb\r"), []byte{2})
	f.Add([]byte{0xC1, 0x0D, 0x25, 0x15, 0x0D}, []byte{1, 1})
	f.Add([]byte("\r\x85\x85\n"), []byte{1})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		sizes := make([]int, len(cuts))
		for i, c := range cuts {
			sizes[i] = int(c)
		}
		if got, want := ebcdicChunks(t, data, sizes, true), refDecode(data); !bytes.Equal(got, want) {
			t.Fatalf("decode(% x) in chunks %v = % x, want % x", data, sizes, got, want)
		}
		wire := ebcdicChunks(t, data, sizes, false)
		if len(wire) != len(data) {
			t.Fatalf("encode changed the length: %d -> %d", len(data), len(wire))
		}
		want := bytes.ReplaceAll(data, []byte("\r\x85"), []byte("\n"))
		if back := ebcdicChunks(t, wire, sizes, true); !bytes.Equal(back, want) {
			t.Fatalf("decode(encode(%q)) = %q, want %q", data, back, want)
		}
	})
}
