package ftp

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// refCRLF is the obvious byte-at-a-time form of NewCRLFWriter.
func refCRLF(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' && (i == 0 || s[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// refLF is the obvious form of LFWriter.
func refLF(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// writeChunks writes s to w in pieces of the given sizes (the rest in one
// piece) and returns what reached the underlying buffer.
func writeChunks(t testing.TB, s string, sizes []int, toLF bool) string {
	t.Helper()
	var out bytes.Buffer
	var w io.Writer
	var lw *LFWriter
	if toLF {
		lw = NewLFWriter(&out)
		w = lw
	} else {
		w = NewCRLFWriter(&out)
	}
	p := []byte(s)
	for _, size := range append(sizes, len(p)) {
		size = min(size, len(p))
		n, err := w.Write(p[:size])
		if err != nil || n != size {
			t.Fatalf("Write(%q) = %d, %v", p[:size], n, err)
		}
		p = p[size:]
	}
	if lw != nil {
		if err := lw.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}
	return out.String()
}

var asciiCases = []string{
	"",
	"a",
	"\n",
	"\r",
	"\r\n",
	"\n\r",
	"a\nb\n",
	"a\r\nb\r\n",
	"a\n\n\nb",
	"a\r\n\nb",
	"a\r\r\nb",
	"a\rb\r",
	"\r\r\r\n\n\n\r",
	"mixed\nline\r\nends\rhere\n",
	"no line end at all, just text",
}

func TestCRLFWriter(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"a\nb":     "a\r\nb",
		"a\r\nb":   "a\r\nb",
		"\n":       "\r\n",
		"\n\n":     "\r\n\r\n",
		"\r":       "\r",
		"\r\r\n":   "\r\r\n",
		"a\rb\n":   "a\rb\r\n",
		"x\n\r\ny": "x\r\n\r\ny",
	}
	checkConverter(t, "CRLF", false, tests, refCRLF)
}

func TestLFWriter(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"a\r\nb":     "a\nb",
		"a\nb":       "a\nb",
		"a\rb":       "a\rb",
		"a\r":        "a\r",
		"\r\r\n":     "\r\n",
		"\r\n\r\n":   "\n\n",
		"\r\r":       "\r\r",
		"a\r\n\r":    "a\n\r",
		"x\r\ry\r\n": "x\r\ry\n",
	}
	checkConverter(t, "LF", true, tests, refLF)
}

// checkConverter checks the converter writeChunks runs (the LF one with
// toLF, else the CRLF one) against tests, and against ref on every
// asciiCase split in two at every point and written byte by byte.
func checkConverter(t *testing.T, name string, toLF bool, tests map[string]string, ref func(string) string) {
	t.Helper()
	for in, want := range tests {
		if got := writeChunks(t, in, nil, toLF); got != want {
			t.Errorf("%s(%q) = %q, want %q", name, in, got, want)
		}
	}
	for _, in := range asciiCases {
		want := ref(in)
		for cut := 0; cut <= len(in); cut++ {
			if got := writeChunks(t, in, []int{cut}, toLF); got != want {
				t.Errorf("%s(%q) split at %d = %q, want %q", name, in, cut, got, want)
			}
		}
		if got := writeChunks(t, in, ones(len(in)), toLF); got != want {
			t.Errorf("%s(%q) byte by byte = %q, want %q", name, in, got, want)
		}
	}
}

func TestLFWriterHoldsTrailingCR(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	lw := NewLFWriter(&out)
	lw.Write([]byte("line\r"))
	if out.String() != "line" {
		t.Fatalf("after \"line\\r\": %q; the CR must wait for the next byte", out.String())
	}
	lw.Write([]byte("\nnext\r"))
	if out.String() != "line\nnext" {
		t.Fatalf("after \"\\nnext\\r\": %q", out.String())
	}
	lw.Write([]byte("x"))
	if out.String() != "line\nnext\rx" {
		t.Fatalf("after \"x\": %q", out.String())
	}
	lw.Write([]byte("\r"))
	lw.Flush()
	lw.Flush()
	if out.String() != "line\nnext\rx\r" {
		t.Fatalf("after Flush: %q", out.String())
	}
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// randomText returns n bytes made mostly of letters, with CR and LF
// sprinkled in.
func randomText(r *rand.Rand, n int) string {
	const alphabet = "abcdefghij \r\n\n"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func TestASCIIWritersLargeRandom(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		in := randomText(r, r.IntN(3*asciiBufSize))
		var sizes []int
		for range r.IntN(10) {
			sizes = append(sizes, r.IntN(2*asciiBufSize))
		}
		if got, want := writeChunks(t, in, sizes, false), refCRLF(in); got != want {
			t.Fatalf("CRLF of %d bytes in chunks %v differs from the reference", len(in), sizes)
		}
		if got, want := writeChunks(t, in, sizes, true), refLF(in); got != want {
			t.Fatalf("LF of %d bytes in chunks %v differs from the reference", len(in), sizes)
		}
		noCR := strings.ReplaceAll(in, "\r", "")
		if got := writeChunks(t, writeChunks(t, noCR, sizes, false), sizes, true); got != noCR {
			t.Fatalf("LF(CRLF(text)) of %d bytes is not the text", len(noCR))
		}
	}
}

// countingWriter counts the writes that reach it.
type countingWriter struct {
	writes int
	bytes.Buffer
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	cw.writes++
	return cw.Buffer.Write(p)
}

// Many short lines go out in one write, not one or two per line.
func TestASCIIWritersBatch(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("a short line\n", 500)
	crlfText := strings.Repeat("a short line\r\n", 500)
	tests := []struct {
		name  string
		toLF  bool
		input string
		max   int
	}{
		{"CRLF of LF text", false, text, 1},
		{"CRLF of CRLF text", false, crlfText, 1},
		{"LF of CRLF text", true, crlfText, 1},
		{"LF of LF text", true, text, 1},
		{"CRLF of a long line", false, strings.Repeat("x", 10*asciiBufSize), 1},
		{"LF of a long line", true, strings.Repeat("x", 10*asciiBufSize), 1},
		{"CRLF beyond the buffer", false, strings.Repeat(text, 10), 10*len(refCRLF(text))/asciiBufSize + 1},
	}
	for _, tt := range tests {
		var out countingWriter
		var w io.Writer = NewCRLFWriter(&out)
		if tt.toLF {
			w = NewLFWriter(&out)
		}
		w.Write([]byte(tt.input))
		if out.writes > tt.max {
			t.Errorf("%s: %d writes for one Write of %d bytes, want at most %d", tt.name, out.writes, len(tt.input), tt.max)
		}
	}
}

func TestASCIIWritersNoAllocs(t *testing.T) {
	// Not parallel: testing.AllocsPerRun refuses to run in a parallel test.
	text := []byte(strings.Repeat("a short line\n", 100) + "end\r")
	for name, w := range map[string]io.Writer{
		"CRLF": NewCRLFWriter(io.Discard),
		"LF":   NewLFWriter(io.Discard),
	} {
		w.Write(text) // allocates the staging buffer
		if allocs := testing.AllocsPerRun(100, func() { w.Write(text) }); allocs != 0 {
			t.Errorf("%s: %v allocations per Write", name, allocs)
		}
	}
}

type failingWriter struct{ err error }

func (fw failingWriter) Write(p []byte) (int, error) { return 0, fw.err }

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestASCIIWritersErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	lw := NewLFWriter(failingWriter{boom})
	for name, w := range map[string]io.Writer{
		"CRLF": NewCRLFWriter(failingWriter{boom}),
		"LF":   lw,
	} {
		if n, err := w.Write([]byte("a\nb\r\n")); !errors.Is(err, boom) || n != 0 {
			t.Errorf("%s: Write = %d, %v; want 0, boom", name, n, err)
		}
		if _, err := w.Write([]byte("more")); !errors.Is(err, boom) {
			t.Errorf("%s: second Write: %v; want the same error again", name, err)
		}
	}
	if err := lw.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush after a failed write: %v", err)
	}

	lw = NewLFWriter(failingWriter{boom})
	if _, err := lw.Write([]byte("\r")); err != nil {
		t.Fatalf("Write of a lone CR reached the writer: %v", err)
	}
	if err := lw.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush of the held CR: %v; want boom", err)
	}

	for name, w := range map[string]io.Writer{
		"CRLF": NewCRLFWriter(shortWriter{}),
		"LF":   NewLFWriter(shortWriter{}),
	} {
		if _, err := w.Write([]byte("abc\n")); !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("%s: short write gave %v; want io.ErrShortWrite", name, err)
		}
	}
}

// FuzzASCIIWriters checks the TYPE A converters against their reference
// forms, for any text and any split of it into writes, and that receiving
// undoes sending for text without CR.
func FuzzASCIIWriters(f *testing.F) {
	for _, s := range asciiCases {
		f.Add([]byte(s), []byte{1, 2, 3})
	}
	f.Add([]byte("a\r\nb"), []byte{2})
	f.Add([]byte("a\r\r\n\n"), []byte{1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		sizes := make([]int, len(cuts))
		for i, c := range cuts {
			sizes[i] = int(c)
		}
		in := string(data)
		crlf := writeChunks(t, in, sizes, false)
		if want := refCRLF(in); crlf != want {
			t.Fatalf("CRLF(%q) in chunks %v = %q, want %q", in, sizes, crlf, want)
		}
		if got := writeChunks(t, in, nil, false); got != crlf {
			t.Fatalf("CRLF(%q) in one write = %q, in chunks %v = %q", in, got, sizes, crlf)
		}
		lf := writeChunks(t, in, sizes, true)
		if want := refLF(in); lf != want {
			t.Fatalf("LF(%q) in chunks %v = %q, want %q", in, sizes, lf, want)
		}
		if got := writeChunks(t, in, nil, true); got != lf {
			t.Fatalf("LF(%q) in one write = %q, in chunks %v = %q", in, got, sizes, lf)
		}
		noCR := strings.ReplaceAll(in, "\r", "")
		if back := writeChunks(t, writeChunks(t, noCR, nil, false), sizes, true); back != noCR {
			t.Fatalf("LF(CRLF(%q)) = %q", noCR, back)
		}
	})
}
