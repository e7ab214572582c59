package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/texttest"
)

// get, put and mirror with --compress transfer in MODE Z against a server
// that offers it, and the files arrive whole.
func TestCompressFlag(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	data := texttest.Lines(3<<20 + 7)
	ts.put(t, "tree/a.txt", data)
	ts.put(t, "tree/sub/b.txt", data[:12345])
	dir := t.TempDir()

	local := filepath.Join(dir, "a.txt")
	_, stderr := mustFerry(t, "get", "--compress", "--debug", ts.url("tree/a.txt"), local)
	sameContent(t, local, data)
	if countLines(stderr, "> MODE Z") != 1 || !strings.Contains(stderr, "< 200 Mode set to Z") {
		t.Errorf("get --compress did not use MODE Z:\n%s", clipText(stderr))
	}

	// -c continues in MODE Z from the local file's size.
	os.WriteFile(local, data[:1<<20], 0o644)
	_, stderr = mustFerry(t, "get", "-c", "--compress", "--segments", "2", "--debug", ts.url("tree/a.txt"), local)
	sameContent(t, local, data)
	if !strings.Contains(stderr, "> MODE Z") || !strings.Contains(stderr, "> REST 1048576") {
		t.Errorf("get -c --compress:\n%s", clipText(stderr))
	}

	_, stderr = mustFerry(t, "put", "--compress", "--debug", local, ts.url("up.txt"))
	sameContent(t, ts.file("up.txt"), data)
	if !strings.Contains(stderr, "> MODE Z") {
		t.Errorf("put --compress did not use MODE Z:\n%s", clipText(stderr))
	}

	_, stderr = mustFerry(t, "mirror", "--compress", "--debug", ts.url("tree"), filepath.Join(dir, "mirror"))
	sameContent(t, filepath.Join(dir, "mirror", "a.txt"), data)
	sameContent(t, filepath.Join(dir, "mirror", "sub", "b.txt"), data[:12345])
	if !strings.Contains(stderr, "> MODE Z") {
		t.Errorf("mirror --compress did not use MODE Z:\n%s", clipText(stderr))
	}

	// Without the flag, no MODE command at all.
	_, stderr = mustFerry(t, "get", "--debug", ts.url("tree/a.txt"), filepath.Join(dir, "plain.txt"))
	sameContent(t, filepath.Join(dir, "plain.txt"), data)
	if strings.Contains(stderr, "> MODE") {
		t.Errorf("get without --compress sent MODE:\n%s", clipText(stderr))
	}
}
