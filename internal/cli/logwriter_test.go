package cli

import (
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testwait"
)

func TestLogWriterFlushes(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	lw := newLogWriter(&out, 20*time.Millisecond)
	lw.Write([]byte("one\n"))
	testwait.For(t, "the buffered log line to be written out", func() bool { return out.String() == "one\n" })
	lw.Write([]byte("two\n"))
	lw.Close()
	if out.String() != "one\ntwo\n" {
		t.Fatalf("log = %q", out.String())
	}
}
