package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestProgressSilentWithoutTerminal(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	pg := newProgress(Env{Stderr: &stderr})
	if pg.active() {
		t.Fatal("progress bars on a buffer, not a terminal")
	}
	b := pg.bar("file", 10)
	src := strings.NewReader("0123456789")
	if r := b.reader(src); r != io.Reader(src) {
		t.Error("a silent bar wraps the reader (hides io.WriterTo)")
	}
	var dst bytes.Buffer
	if w := b.writer(&dst); w != io.Writer(&dst) {
		t.Error("a silent bar wraps the writer (hides io.ReaderFrom)")
	}
	b.add(10)
	b.setCurrent(3)
	b.done()
	pg.wait()
	if stderr.Len() != 0 {
		t.Errorf("silent progress wrote %q", stderr.String())
	}
}

func TestProgressDrawsRate(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	pg := newProgressTo(&out)
	b := pg.bar("some-file.bin", 4096)
	n, err := io.Copy(b.writer(io.Discard), b.reader(bytes.NewReader(make([]byte, 4096))))
	if err != nil || n != 4096 {
		t.Fatalf("copy: %d, %v", n, err)
	}
	b.done()
	pg.wait()
	s := out.String()
	for _, want := range []string{"some-file.bin", "/s", "KiB"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar output lacks %q:\n%q", want, s)
		}
	}
}

func TestShortName(t *testing.T) {
	t.Parallel()
	if got := shortName("abc", 10); got != "abc" {
		t.Errorf("shortName kept %q", got)
	}
	got := shortName("0123456789abcdefghij", 9)
	if len([]rune(got)) != 9 || !strings.HasPrefix(got, "0123") || !strings.HasSuffix(got, "ghij") {
		t.Errorf("shortName = %q", got)
	}
}
