package ftp

import (
	"bytes"
	stdzlib "compress/zlib"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// textCorpus is what MODE Z is for: text. The repository's own Go sources
// are at hand and typical.
func textCorpus(tb testing.TB, size int) []byte {
	tb.Helper()
	files, _ := filepath.Glob("*.go")
	var b bytes.Buffer
	for b.Len() < size {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			b.Write(data)
		}
	}
	return b.Bytes()[:size]
}

func stdDeflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := stdzlib.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ourInflate reads all of a stream with NewDeflateReader through reads of
// random sizes.
func ourInflate(stream io.Reader, rng *rand.Rand) ([]byte, error) {
	d := NewDeflateReader(stream)
	defer d.Release()
	var out []byte
	for {
		p := make([]byte, 1+rng.IntN(70000))
		n, err := d.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestDeflateWriterReadByZlib(t *testing.T) {
	t.Parallel()
	corpus := textCorpus(t, 300<<10)
	binary := make([]byte, 100<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range binary {
		binary[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		level int
	}{
		{"empty", nil, DefaultDeflateLevel},
		{"text-default", corpus, DefaultDeflateLevel},
		{"text-0", corpus, 0},
		{"text-1", corpus, 1},
		{"text-9", corpus, 9},
		{"bad-level-means-default", corpus, 42},
		{"random", binary, DefaultDeflateLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Twice: the second writer comes from the pool.
			for range 2 {
				var wire bytes.Buffer
				w := NewDeflateWriter(&wire, tc.level)
				for rest := tc.data; len(rest) > 0; {
					n := min(len(rest), 1000+len(rest)/3)
					if _, err := w.Write(rest[:n]); err != nil {
						t.Fatal(err)
					}
					rest = rest[n:]
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				w.Release()
				if len(tc.data) > 1000 && tc.level != 0 && tc.name != "random" && wire.Len() > len(tc.data)/2 {
					t.Errorf("level %d: %d bytes of text became %d", tc.level, len(tc.data), wire.Len())
				}
				zr, err := stdzlib.NewReader(&wire)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tc.data) {
					t.Fatalf("round trip: got %d bytes, want %d", len(got), len(tc.data))
				}
			}
		})
	}
}

func TestDeflateReaderReadsZlib(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	corpus := textCorpus(t, 500<<10)
	for i, data := range [][]byte{nil, []byte("x"), corpus[:70000], corpus} {
		for range 2 { // the second reader comes from the pool
			got, err := ourInflate(bytes.NewReader(stdDeflate(t, data)), rng)
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("case %d: got %d bytes, want %d", i, len(got), len(data))
			}
		}
	}
}

// oneByteReader hands out a byte per Read, as a slow network might.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestDeflateReaderOneByteAtATime(t *testing.T) {
	t.Parallel()
	data := textCorpus(t, 20000)
	got, err := ourInflate(oneByteReader{bytes.NewReader(stdDeflate(t, data))}, rand.New(rand.NewPCG(5, 6)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, %v; want %d", len(got), err, len(data))
	}
}

func TestDeflateReaderEmptyInputIsEmptyFile(t *testing.T) {
	t.Parallel()
	got, err := ourInflate(strings.NewReader(""), rand.New(rand.NewPCG(7, 8)))
	if err != nil || len(got) != 0 {
		t.Fatalf("got %q, %v; want an empty file", got, err)
	}
}

func TestDeflateReaderBadStreams(t *testing.T) {
	t.Parallel()
	data := textCorpus(t, 100<<10)
	good := stdDeflate(t, data)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x55
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	raw := good[2 : len(good)-4] // raw deflate, no zlib framing
	for name, stream := range map[string][]byte{
		"truncated":        good[:len(good)/2],
		"header-only":      good[:2],
		"one-byte":         good[:1],
		"no-trailer":       good[:len(good)-4],
		"flipped":          flipped,
		"bad-checksum":     badSum,
		"raw-deflate":      raw,
		"trailing-garbage": append(bytes.Clone(good), 'x'),
		"two-streams":      append(bytes.Clone(good), good...),
		"text":             []byte("hello, world\r\n"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ourInflate(bytes.NewReader(stream), rand.New(rand.NewPCG(9, 10)))
			if !errors.Is(err, ErrBadDeflate) {
				t.Fatalf("err = %v, want ErrBadDeflate", err)
			}
		})
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestDeflateReaderPassesSourceErrors(t *testing.T) {
	t.Parallel()
	good := stdDeflate(t, textCorpus(t, 100<<10))
	errNet := errors.New("connection reset")
	for _, cut := range []int{0, 1, 2, len(good) / 2, len(good) - 1, len(good)} {
		_, err := ourInflate(&failingReader{data: good[:cut], err: errNet}, rand.New(rand.NewPCG(1, 1)))
		if !errors.Is(err, errNet) || errors.Is(err, ErrBadDeflate) {
			t.Errorf("cut at %d: err = %v, want the source's error itself", cut, err)
		}
	}
}

func TestDeflateReaderAfterRelease(t *testing.T) {
	t.Parallel()
	d := NewDeflateReader(bytes.NewReader(stdDeflate(t, []byte("abc"))))
	d.Release()
	if _, err := d.Read(make([]byte, 10)); err == nil {
		t.Fatal("Read after Release succeeded")
	}
}

func FuzzDeflateReader(f *testing.F) {
	f.Add([]byte{})
	f.Add(stdDeflate(f, []byte("hello, world\r\n")))
	f.Add(stdDeflate(f, bytes.Repeat([]byte("abcdefgh"), 1000)))
	f.Add([]byte{0x78, 0x9c, 0xff, 0xff})
	f.Add([]byte{0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, stream []byte) {
		got, err := ourInflate(bytes.NewReader(stream), rand.New(rand.NewPCG(uint64(len(stream)), 0)))
		if err != nil {
			if !errors.Is(err, ErrBadDeflate) {
				t.Fatalf("error %v does not wrap ErrBadDeflate", err)
			}
			return
		}
		if len(stream) == 0 {
			if len(got) != 0 {
				t.Fatal("empty input gave data")
			}
			return
		}
		// What we accepted, zlib accepts identically.
		zr, zerr := stdzlib.NewReader(bytes.NewReader(stream))
		if zerr != nil {
			t.Fatalf("accepted a stream compress/zlib refuses: %v", zerr)
		}
		want, zerr := io.ReadAll(zr)
		if zerr != nil || !bytes.Equal(got, want) {
			t.Fatalf("compress/zlib disagrees: %v", zerr)
		}
		// And what we write of it, zlib reads back.
		var wire bytes.Buffer
		w := NewDeflateWriter(&wire, len(stream)%10)
		w.Write(got)
		w.Close()
		w.Release()
		zr, zerr = stdzlib.NewReader(&wire)
		if zerr != nil {
			t.Fatal(zerr)
		}
		back, zerr := io.ReadAll(zr)
		if zerr != nil || !bytes.Equal(back, got) {
			t.Fatalf("round trip failed: %v", zerr)
		}
	})
}

// BenchmarkDeflate compares the two zlib implementations on text, the
// choice ftp/deflate.go records.
func BenchmarkDeflate(b *testing.B) {
	corpus := textCorpus(b, 4<<20)
	for _, level := range []int{1, DefaultDeflateLevel, 9} {
		b.Run(fmt.Sprintf("klauspost/level%d", level), func(b *testing.B) {
			b.SetBytes(int64(len(corpus)))
			var out int
			for b.Loop() {
				cw := byteCounter{}
				w := NewDeflateWriter(&cw, level)
				w.Write(corpus)
				w.Close()
				w.Release()
				out = cw.n
			}
			b.ReportMetric(float64(out)/float64(len(corpus)), "ratio")
		})
		b.Run(fmt.Sprintf("stdlib/level%d", level), func(b *testing.B) {
			b.SetBytes(int64(len(corpus)))
			var out int
			for b.Loop() {
				cw := byteCounter{}
				w, _ := stdzlib.NewWriterLevel(&cw, level)
				w.Write(corpus)
				w.Close()
				out = cw.n
			}
			b.ReportMetric(float64(out)/float64(len(corpus)), "ratio")
		})
	}
	stream := stdDeflate(b, corpus)
	b.Run("klauspost/inflate", func(b *testing.B) {
		b.SetBytes(int64(len(corpus)))
		for b.Loop() {
			d := NewDeflateReader(bytes.NewReader(stream))
			io.Copy(io.Discard, d)
			d.Release()
		}
	})
	b.Run("stdlib/inflate", func(b *testing.B) {
		b.SetBytes(int64(len(corpus)))
		for b.Loop() {
			zr, _ := stdzlib.NewReader(bytes.NewReader(stream))
			io.Copy(io.Discard, zr)
		}
	})
}

type byteCounter struct{ n int }

func (c *byteCounter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
