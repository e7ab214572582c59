package cli

import (
	"os"
	"strings"
	"testing"
	"time"
)

const fallbackNotice = "copying through this client"

func TestCpFXPSameHost(t *testing.T) {
	t.Parallel()
	src, dst := startFTP(t), startFTP(t)
	data := randomData(3<<20+5, 21)
	src.put(t, "pub/file.bin", data)
	mtime := time.Date(2018, 5, 6, 7, 8, 9, 0, time.UTC)
	os.Chtimes(src.file("pub/file.bin"), mtime, mtime)
	os.Mkdir(dst.file("in"), 0o755)

	// Both servers are on 127.0.0.1, the client's own address: neither
	// needs AllowFXP, and the servers talk to each other.
	_, stderr := mustFerry(t, "cp", "--debug", src.url("pub/file.bin"), dst.url("in"))
	sameContent(t, dst.file("in/file.bin"), data)
	for _, want := range []string{"> PASV", "> PORT 127,0,0,1,", "> STOR /in/file.bin", "> RETR /pub/file.bin", "* FXP: sending /pub/file.bin", "< 226"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("no %q in the trace:\n%s", want, clipText(stderr))
		}
	}
	// Streaming would open data connections of the client's own (EPSV).
	if strings.Contains(stderr, fallbackNotice) || strings.Contains(stderr, "> EPSV") {
		t.Errorf("FXP fell back to streaming:\n%s", clipText(stderr))
	}
	fi, _ := os.Stat(dst.file("in/file.bin"))
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("copy's mtime %v, want %v", fi.ModTime(), mtime)
	}
	if countLines(stderr, "> HASH ") != 2 {
		t.Errorf("the servers' digests were not compared:\n%s", clipText(stderr))
	}
}

// Servers on two loopback addresses: the source sees the client at
// 127.0.0.1 and a PORT naming 127.0.0.2, a foreign address.
func TestCpFXPForeignAddress(t *testing.T) {
	t.Parallel()
	data := randomData(1<<20+3, 22)

	t.Run("refused", func(t *testing.T) {
		src, dst := startFTP(t), startFTP(t, onHost("127.0.0.2"))
		src.put(t, "f.bin", data)
		_, stderr := mustFerry(t, "cp", "--debug", src.url("f.bin"), dst.url("copy.bin"))
		sameContent(t, dst.file("copy.bin"), data)
		if !strings.Contains(stderr, "< 500 Illegal PORT command") || !strings.Contains(stderr, fallbackNotice) {
			t.Errorf("no refused PORT and fallback in the output:\n%s", clipText(stderr))
		}
		if !strings.Contains(src.logs.String(), "refused active data address") {
			t.Errorf("the source server did not log the refusal:\n%s", src.logs.String())
		}
		// The first RETR is the stream's, after its EPSV.
		if retr, epsv := strings.Index(stderr, "> RETR"), strings.Index(stderr, "> EPSV"); retr < epsv || epsv < 0 {
			t.Errorf("RETR sent after a refused PORT:\n%s", clipText(stderr))
		}
	})

	t.Run("allowed", func(t *testing.T) {
		src, dst := startFTP(t, withFXP()), startFTP(t, onHost("127.0.0.2"))
		src.put(t, "f.bin", data)
		_, stderr := mustFerry(t, "cp", "--debug", src.url("f.bin"), dst.url("copy.bin"))
		sameContent(t, dst.file("copy.bin"), data)
		if !strings.Contains(stderr, "> PORT 127,0,0,2,") || !strings.Contains(stderr, "* FXP: sending") || strings.Contains(stderr, fallbackNotice) || strings.Contains(stderr, "> EPSV") {
			t.Errorf("no FXP transfer in the trace:\n%s", clipText(stderr))
		}
	})
}

func TestCpStreaming(t *testing.T) {
	t.Parallel()
	src, dst := startFTP(t), startFTP(t)
	data := randomData(2<<20, 23)
	src.put(t, "f.bin", data)
	_, stderr := mustFerry(t, "cp", "--no-fxp", "--debug", src.url("f.bin"), dst.url("g.bin"))
	sameContent(t, dst.file("g.bin"), data)
	if strings.Contains(stderr, "> PORT") || strings.Contains(stderr, "* FXP") {
		t.Errorf("--no-fxp used FXP:\n%s", clipText(stderr))
	}

	// Errors: a missing source, a directory, a local argument.
	os.Mkdir(src.file("d"), 0o755)
	for _, args := range [][]string{
		{"cp", src.url("missing"), dst.url("x")},
		{"cp", src.url("d"), dst.url("x")},
		{"cp", "local.txt", dst.url("x")},
	} {
		if _, _, err := ferry(t, args...); err == nil {
			t.Errorf("%q succeeded", args)
		}
	}
	// A destination that refuses the file (anonymous users may not
	// write) fails the copy: streaming would be refused the same way.
	_, stderr, err := ferry(t, "cp", "--debug", src.url("f.bin"), "ftp://"+dst.addr+"/x")
	if err == nil || strings.Contains(stderr, fallbackNotice) || !strings.Contains(stderr, "< 550") {
		t.Errorf("cp to a read-only account: %v\n%s", err, clipText(stderr))
	}
}

// FXP over TLS: servers on 127.0.0.2 and 127.0.0.3 with AllowFXP (each is
// a foreign address to the other, the client being at 127.0.0.1); the
// destination takes the TLS client role of the data connection (CPSV).
func TestCpFXPOverTLS(t *testing.T) {
	t.Parallel()
	src := startFTP(t, withTLS(), withFXP(), onHost("127.0.0.2"))
	dst := startFTP(t, withTLS(), withFXP(), onHost("127.0.0.3"))
	data := randomData(2<<20+9, 24)
	src.put(t, "f.bin", data)
	// The test certificates name 127.0.0.1 only: -k.
	_, stderr := mustFerry(t, "cp", "-k", "--debug",
		"ftps://alice:secret@"+src.implicit+"/f.bin", "ftpes://alice:secret@"+dst.addr+"/copy.bin")
	sameContent(t, dst.file("copy.bin"), data)
	for _, want := range []string{"> PROT P", "> CPSV", "> PORT 127,0,0,3,", "* FXP: sending /f.bin", "> STOR /copy.bin"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("no %q in the trace:\n%s", want, clipText(stderr))
		}
	}
	if strings.Contains(stderr, fallbackNotice) || strings.Contains(stderr, "> EPSV") {
		t.Errorf("FXP over TLS fell back to streaming:\n%s", clipText(stderr))
	}
	if countLines(stderr, "> HASH ") != 2 {
		t.Errorf("the servers' digests were not compared:\n%s", clipText(stderr))
	}
}
