package cli

import (
	"strings"
	"testing"
	"time"
)

func TestLogWriterFlushes(t *testing.T) {
	var out syncBuffer
	lw := newLogWriter(&out, 20*time.Millisecond)
	lw.Write([]byte("one\n"))
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(out.String(), "one") {
		if time.Now().After(deadline) {
			t.Fatal("buffered log line never written out")
		}
		time.Sleep(5 * time.Millisecond)
	}
	lw.Write([]byte("two\n"))
	lw.Close()
	if out.String() != "one\ntwo\n" {
		t.Fatalf("log = %q", out.String())
	}
}
