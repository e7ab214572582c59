package ftp

import (
	"bufio"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// repeatReader returns the same bytes forever.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

func BenchmarkReadLineParseCommand(b *testing.B) {
	session := "USER anonymous\r\nPASS guest@example.com\r\nTYPE I\r\nEPSV\r\n" +
		"RETR /pub/releases/ferry-1.0.tar.gz\r\n\xff\xf4\xff\xf2ABOR\r\nstor upload with spaces.bin\r\nNOOP\r\n"
	lr := NewLineReader(bufio.NewReader(&repeatReader{data: []byte(session)}), 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(session)) / 8)
	for b.Loop() {
		line, err := lr.ReadLine()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseCommand(string(line)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendListLine(b *testing.B) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	var fi fs.FileInfo = fileInfo{"ferry-1.0.tar.gz", 12345678, 0o644, now.Add(-time.Hour)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendListLine(buf[:0], fi, now)
	}
}

func BenchmarkAppendFacts(b *testing.B) {
	e := &Entry{Name: "ferry-1.0.tar.gz", Type: "file", Size: 12345678, ModTime: testTime,
		Perm: "adfrw", Mode: 0o644, HasMode: true, Unique: "803g2d1"}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFacts(buf[:0], e, AllFacts)
	}
}

func BenchmarkParseListLine(b *testing.B) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	line := "-rw-r--r--    1 ftp      ftp      12345678 Nov 21 09:15 ferry-1.0.tar.gz"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseListLine(line, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMLSxLine(b *testing.B) {
	line := "type=file;size=12345678;modify=20261121091500;perm=adfrw;unix.mode=0644;unique=803g2d1; ferry-1.0.tar.gz"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMLSxLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

// benchText is 32 KiB of text, io.Copy's buffer size, with lines of
// typical length.
func benchText(lineEnd string) []byte {
	line := "The quick brown fox jumps over the lazy dog, 0123456789." + lineEnd
	return []byte(strings.Repeat(line, 32<<10/len(line)+1)[:32<<10])
}

func benchWriter(b *testing.B, w io.Writer, text []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := w.Write(text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCRLFWriter(b *testing.B) {
	b.Run("LF text", func(b *testing.B) { benchWriter(b, NewCRLFWriter(io.Discard), benchText("\n")) })
	b.Run("CRLF text", func(b *testing.B) { benchWriter(b, NewCRLFWriter(io.Discard), benchText("\r\n")) })
	b.Run("binary-like", func(b *testing.B) { benchWriter(b, NewCRLFWriter(io.Discard), make([]byte, 32<<10)) })
}

func BenchmarkLFWriter(b *testing.B) {
	b.Run("CRLF text", func(b *testing.B) { benchWriter(b, NewLFWriter(io.Discard), benchText("\r\n")) })
	b.Run("LF text", func(b *testing.B) { benchWriter(b, NewLFWriter(io.Discard), benchText("\n")) })
}

func TestAppendersDoNotAllocate(t *testing.T) {
	// Not parallel: testing.AllocsPerRun refuses to run in a parallel test.
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	var fi fs.FileInfo = fileInfo{"name with\nLF", 1234, fs.ModeDir | 0o755, now}
	e := &Entry{Name: "x", Type: "file", Size: 1, ModTime: testTime.Add(time.Millisecond), Perm: "r", Mode: 0o644, HasMode: true, Unique: "u"}
	buf := make([]byte, 0, 512)
	for name, f := range map[string]func(){
		"AppendListLine": func() { buf = AppendListLine(buf[:0], fi, now) },
		"AppendNameLine": func() { buf = AppendNameLine(buf[:0], "a\rb") },
		"AppendFacts":    func() { buf = AppendFacts(buf[:0], e, AllFacts) },
	} {
		if allocs := testing.AllocsPerRun(100, f); allocs != 0 {
			t.Errorf("%s: %v allocations", name, allocs)
		}
	}
}

// BenchmarkAppendReply formats the replies of a download (one line each)
// and a FEAT-like multi-line reply into a reused buffer, as the server's
// reply writer does.
func BenchmarkAppendReply(b *testing.B) {
	feat := "Extensions supported:\n EPRT\n EPSV\n MDTM\n MLST type*;size*;modify*;perm*;unique*;\n" +
		" REST STREAM\n SIZE\n TVFS\n UTF8\n AUTH TLS\n PBSZ\n PROT\nEnd."
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendReply(buf[:0], CodeExtendedPassive, "Entering Extended Passive Mode (|||41234|)")
		buf = AppendReply(buf[:0], CodeFileStatusOK, "Opening BINARY mode data connection for ferry-1.0.tar.gz (12345678 bytes).")
		buf = AppendReply(buf[:0], CodeClosingData, "Transfer complete.")
		buf = AppendReply(buf[:0], CodeSystemStatus, feat)
	}
}
