package interop

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testtool"
)

// TestDebianFTP drives Debian's ftp command (tnftp) with a script on its
// standard input, as people do in shell scripts, in passive and in active
// mode. tnftp exits 0 even when a command fails, so the test checks the
// replies it printed (-v) and the files on disk.
func TestDebianFTP(t *testing.T) {
	t.Parallel()
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
			bin := testtool.Need(t, "ftp")
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

// terminal runs an interactive program in a detached tmux session on a
// private tmux server, so a test can type into it and read its screen.
type terminal struct {
	t      *testing.T
	tmux   string
	socket string
}

func startTerminal(t *testing.T, dir string, command string) *terminal {
	t.Helper()
	term := &terminal{t: t, tmux: testtool.Need(t, "tmux"), socket: "ferry-interop-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	// The shell keeps the pane (and the tmux server) alive after the
	// program exits, so its last words can still be read.
	term.run("new-session", "-d", "-x", "200", "-y", "50", "-c", dir, command+`; echo "[exit status $?]"; sleep 300`)
	t.Cleanup(func() { term.run("kill-server") })
	return term
}

// run runs one tmux command on the test's tmux server.
func (term *terminal) run(args ...string) string {
	term.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, term.tmux, append([]string{"-L", term.socket}, args...)...)
	cmd.Env = append(os.Environ(), "TERM=xterm", "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil && args[0] != "kill-server" {
		term.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// send types keys (tmux key names such as Enter and C-c are understood).
func (term *terminal) send(keys ...string) {
	term.t.Helper()
	term.run(append([]string{"send-keys", "-t", "0"}, keys...)...)
}

// screen is the pane's text, with its scroll-back.
func (term *terminal) screen() string {
	term.t.Helper()
	return term.run("capture-pane", "-p", "-t", "0", "-S", "-500")
}

// waitFor waits until every want appears on the screen.
func (term *terminal) waitFor(wants ...string) {
	term.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen := term.screen()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(screen, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("waited 30s for %q on the screen:\n%s", missing, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDebianFTPInterrupt presses Ctrl-C during a download in Debian's ftp,
// run interactively in tmux: the client sends ABOR with the Telnet
// sequences, the server answers 426 and 226, and the session goes on.
func TestDebianFTPInterrupt(t *testing.T) {
	t.Parallel()
	bin := testtool.Need(t, "ftp")
	ts := startServer(t)
	work := t.TempDir()
	big := testData(42, 64<<20)
	writeFile(t, ts.local("/big.bin"), big)
	small := testData(43, 12345)
	writeFile(t, ts.local("/small.bin"), small)

	term := startTerminal(t, work, bin+" -n -v "+ts.host+" "+strconv.Itoa(ts.port))
	term.waitFor("220 ")
	term.send("user "+user+" "+password, "Enter")
	term.waitFor("230 Login successful.")
	// Slow the download down so that Ctrl-C lands in the middle of it.
	term.send("rate get 2000000", "Enter")
	term.waitFor("Get transfer rate throttle: on")
	term.send("get big.bin", "Enter")
	term.waitFor("150 Opening BINARY mode data connection for big.bin")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Stat(filepath.Join(work, "big.bin")); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the download does not start:\n%s", term.screen())
		}
	}
	term.send("C-c")
	term.waitFor("426 ", "226 ABOR successful.")

	term.send("pwd", "Enter")
	term.waitFor("Remote directory: /")
	term.send("rate get off", "Enter")
	term.send("get small.bin", "Enter")
	term.waitFor("local: small.bin remote: small.bin", "12345 bytes received")
	term.send("quit", "Enter")
	term.waitFor("221 Goodbye.", "[exit status 0]")

	partial, err := os.ReadFile(filepath.Join(work, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(partial) == 0 || len(partial) >= len(big) || !bytes.Equal(partial, big[:len(partial)]) {
		t.Errorf("interrupted download: %d bytes, want a true prefix of %d", len(partial), len(big))
	}
	wantFile(t, filepath.Join(work, "small.bin"), small)
}
