package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClientCommandsOverTLS(t *testing.T) {
	t.Parallel()
	ts := startFTP(t, withTLS())
	data := randomData(1<<20+17, 31)
	ts.put(t, "secret.bin", data)
	dir := t.TempDir()
	local := filepath.Join(dir, "up.bin")
	os.WriteFile(local, data, 0o644)

	for _, base := range []string{
		"ftpes://alice:secret@" + ts.addr + "/",    // explicit: AUTH TLS
		"ftps://alice:secret@" + ts.implicit + "/", // implicit
	} {
		scheme, _, _ := strings.Cut(base, ":")
		t.Run(scheme, func(t *testing.T) {
			out, stderr := mustFerry(t, "ls", "--ca", ts.caFile, "--debug", base)
			if !strings.Contains(out, "secret.bin") {
				t.Errorf("ls printed %q", out)
			}
			if scheme == "ftpes" && !strings.Contains(stderr, "> AUTH TLS") {
				t.Errorf("no AUTH TLS in the trace:\n%s", clipText(stderr))
			}
			if !strings.Contains(stderr, "> PROT P") {
				t.Errorf("data connections not protected:\n%s", clipText(stderr))
			}
			got := filepath.Join(dir, scheme+".bin")
			mustFerry(t, "get", "--ca", ts.caFile, "--segments", "2", base+"secret.bin", got)
			sameContent(t, got, data)
			mustFerry(t, "put", "--ca", ts.caFile, local, base+scheme+"-up.bin")
			sameContent(t, ts.file(scheme+"-up.bin"), data)

			// Without the CA the certificate is not trusted, and that is
			// not retried.
			_, stderr, err := ferry(t, "ls", "--retry-wait", "1ms", base)
			if err == nil || strings.Contains(stderr, "retrying") {
				t.Errorf("ls without --ca: %v\n%s", err, stderr)
			}
			// --insecure skips the check.
			mustFerry(t, "ls", "-k", base)
		})
	}

	// Within one server without AllowFXP, FXP over TLS is refused (the
	// data connection between the sessions resumes neither's TLS
	// session): cp streams (TestCpFXPOverTLS has FXP that works).
	_, stderr := mustFerry(t, "cp", "--ca", ts.caFile, "--debug",
		"ftpes://alice:secret@"+ts.addr+"/secret.bin", "ftps://alice:secret@"+ts.implicit+"/copy.bin")
	sameContent(t, ts.file("copy.bin"), data)
	if !strings.Contains(stderr, "copying through this client") {
		t.Errorf("no fallback to streaming:\n%s", clipText(stderr))
	}
}

func TestClientCommandsNetrc(t *testing.T) {
	ts := startFTP(t)
	dir := t.TempDir()
	host, port, _ := strings.Cut(ts.addr, ":")
	netrc := filepath.Join(dir, "netrc")
	os.WriteFile(netrc, []byte("machine other.example login bob password nope\nmachine "+host+"\n  login alice\n  password secret\n"), 0o600)
	local := filepath.Join(dir, "f.txt")
	os.WriteFile(local, []byte("from netrc"), 0o644)
	url := "ftp://" + host + ":" + port + "/f.txt"

	// Anonymous users may not write: the upload works only as alice.
	t.Setenv("NETRC", filepath.Join(dir, "none"))
	if _, _, err := ferry(t, "put", local, url); err == nil {
		t.Fatal("anonymous upload succeeded; the test proves nothing")
	}
	mustFerry(t, "put", "--netrc-file", netrc, local, url)
	sameContent(t, ts.file("f.txt"), []byte("from netrc"))

	// $NETRC is read too.
	t.Setenv("NETRC", netrc)
	out, _ := mustFerry(t, "cat", url)
	if out != "from netrc" {
		t.Errorf("cat printed %q", out)
	}
	mustFerry(t, "rm", url)
}
