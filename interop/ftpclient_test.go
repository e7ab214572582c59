package interop

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDebianFTP drives Debian's ftp command (tnftp) with a script on its
// standard input, as people do in shell scripts, in passive and in active
// mode. tnftp exits 0 even when a command fails, so the test checks the
// replies it printed (-v) and the files on disk.
func TestDebianFTP(t *testing.T) {
	modes := []struct {
		name    string
		command string // tnftp's syntax
		want    []string
	}{
		{"passive", "passive on", []string{"229 Entering Extended Passive Mode"}},
		{"active", "passive off", []string{"200 EPRT command successful"}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			bin := needClient(t, "ftp")
			ts := startServer(t)
			work := t.TempDir()
			up := testData(40, 700001)
			writeFile(t, filepath.Join(work, "up.bin"), up)
			writeFile(t, filepath.Join(work, "a.txt"), []byte("a\n"))
			writeFile(t, filepath.Join(work, "b.txt"), []byte("b\n"))
			data := testData(41, 1<<20+5)
			writeFile(t, ts.local("/data.bin"), data)
			writeFile(t, ts.local("/remote/x.txt"), []byte("x\n"))
			writeFile(t, ts.local("/remote/y.txt"), []byte("y\n"))
			writeFile(t, ts.local("/remote/z.bin"), []byte("z\n"))
			if err := os.Mkdir(filepath.Join(work, "fetched"), 0o755); err != nil {
				t.Fatal(err)
			}

			script := strings.Join([]string{
				"user " + user + " " + password,
				m.command,
				"binary",
				"put up.bin",
				"get data.bin got.bin",
				`mkdir "new dir"`,
				`cd "new dir"`,
				`put up.bin "with space.bin"`,
				"pwd",
				"cd ..",
				"prompt",
				"mput *.txt",
				"cd remote",
				"lcd fetched",
				"mget *.txt",
				"lcd ..",
				"cd /",
				"ls",
				"size data.bin",
				"rename up.bin renamed.bin",
				"delete missing.bin",
				"rmdir remote",
				"quit",
				"",
			}, "\n")
			res := run(t, 2*time.Minute, script, work, bin, "-n", "-v", ts.host, strconv.Itoa(ts.port))
			if res.exitCode != 0 {
				t.Fatalf("ftp failed: %s", res)
			}
			out := res.stdout

			wantFile(t, ts.local("/renamed.bin"), up)
			wantNoFile(t, ts.local("/up.bin"))
			wantFile(t, filepath.Join(work, "got.bin"), data)
			wantFile(t, ts.local("/new dir/with space.bin"), up)
			wantFile(t, ts.local("/a.txt"), []byte("a\n"))
			wantFile(t, ts.local("/b.txt"), []byte("b\n"))
			wantFile(t, filepath.Join(work, "fetched", "x.txt"), []byte("x\n"))
			wantFile(t, filepath.Join(work, "fetched", "y.txt"), []byte("y\n"))
			wantNoFile(t, filepath.Join(work, "fetched", "z.bin"))

			wants := append([]string{
				"230 Login successful.",
				"200 Switching to Binary mode.",
				`257 "/new dir" created.`,
				"Remote directory: /new dir",
				"data.bin\t" + strconv.Itoa(len(data)),
				"350 Ready for RNTO.",
				"250 Rename successful.",
				"550 No such file or directory.", // delete missing.bin
				"550 Directory not empty.",       // rmdir remote
				"221 Goodbye.",
			}, m.want...)
			lines := strings.Split(out, "\n")
			for _, w := range wants {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
					t.Errorf("ftp output has no line starting %q:\n%s", w, out)
				}
			}
			// Every transfer ended well: puts 4 (up.bin, with space.bin,
			// a.txt, b.txt), gets 3 and one listing.
			if n := strings.Count(out, "\n226 "); n != 8 {
				t.Errorf("ftp output has %d 226 replies, want 8:\n%s", n, out)
			}
			for _, name := range []string{"up.bin", "data.bin", "new dir", "a.txt", "remote", "incoming"} {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, " "+name) }) {
					t.Errorf("ls output has no line for %q", name)
				}
			}
		})
	}
}
