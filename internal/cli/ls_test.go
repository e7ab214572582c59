package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

func TestLsNamesLongJSON(t *testing.T) {
	t.Parallel()
	ts := startFTP(t)
	ts.put(t, "hello.txt", []byte("hello"))
	ts.put(t, "sub/inner.bin", []byte("x"))
	old := time.Date(2020, 3, 4, 5, 6, 7, 0, time.UTC)
	os.Chtimes(ts.file("hello.txt"), old, old)

	out, _ := mustFerry(t, "ls", ts.url(""))
	if out != "hello.txt\nsub\n" {
		t.Errorf("ls printed %q", out)
	}

	out, _ = mustFerry(t, "ls", "-l", ts.url(""))
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("ls -l printed %q", out)
	}
	if f := strings.Fields(lines[0]); len(f) != 6 || f[0] != "-rw-r--r--" || f[1] != "5" || f[2] != "Mar" || f[4] != "2020" || f[5] != "hello.txt" {
		t.Errorf("ls -l file line %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "d") || !strings.HasSuffix(lines[1], " sub") {
		t.Errorf("ls -l directory line %q", lines[1])
	}

	out, _ = mustFerry(t, "ls", "--json", ts.url(""))
	var entries []map[string]any
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, out)
	}
	if len(entries) != 2 {
		t.Fatalf("ls --json gave %d entries", len(entries))
	}
	e := entries[0]
	if e["name"] != "hello.txt" || e["type"] != "file" || e["size"] != 5.0 ||
		e["modify"] != "2020-03-04T05:06:07Z" || e["mode"] != "0644" || e["perm"] == nil {
		t.Errorf("ls --json entry %v", e)
	}
	if entries[1]["name"] != "sub" || entries[1]["type"] != "dir" {
		t.Errorf("ls --json entry %v", entries[1])
	}

	// A URL naming a file lists that file; a directory, its content.
	out, _ = mustFerry(t, "ls", ts.url("hello.txt"))
	if out != "hello.txt\n" {
		t.Errorf("ls of a file printed %q", out)
	}
	out, _ = mustFerry(t, "ls", ts.url("sub"))
	if out != "inner.bin\n" {
		t.Errorf("ls of sub printed %q", out)
	}

	if _, _, err := ferry(t, "ls", ts.url("missing")); err == nil {
		t.Error("ls of a missing path succeeded")
	}
}

func TestModeString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		perm string
		dir  bool
		want string
	}{
		{"adfrw", false, "-rw-------"},
		{"elcmp", true, "drwx------"},
		{"r", false, "-r--------"},
		{"", false, "-?????????"},
	}
	for _, c := range cases {
		e := entryWith(c.perm, c.dir)
		if got := modeString(e); got != c.want {
			t.Errorf("modeString(%q, dir=%v) = %q, want %q", c.perm, c.dir, got, c.want)
		}
	}
}

func entryWith(perm string, dir bool) (e ftp.Entry) {
	e.Perm = perm
	e.Type = "file"
	if dir {
		e.Type = "dir"
	}
	return e
}
