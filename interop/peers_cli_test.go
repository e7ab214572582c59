package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/cli"
)

// The ferry command's client commands against every peer, through
// cli.Run as main calls it (and, where a process must be killed, through
// the built binary).

// ferryCLI runs a ferry command line with no terminal.
func ferryCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err = cli.Run(ctx, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}, args)
	return out.String(), errOut.String(), err
}

// mustFerryCLI is ferryCLI that fails the test when the command fails.
func mustFerryCLI(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := ferryCLI(t, args...)
	if err != nil {
		t.Fatalf("ferry %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, lastBytes(stdout, 4<<10), lastBytes(stderr, 4<<10))
	}
	return stdout, stderr
}

// TestPeersCLIGetPut is ferry get and put, whole files and continued ones.
func TestPeersCLIGetPut(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		work := t.TempDir()
		data := testData(10, 5<<20+3)
		p.writeFile(t, "dl/ünï 名前 file.bin", data)

		// get into a named file, and into a directory.
		mustFerryCLI(t, "get", p.url("dl/ünï 名前 file.bin"), filepath.Join(work, "got.bin"))
		wantFileSum(t, filepath.Join(work, "got.bin"), data)
		mustFerryCLI(t, "get", p.url("dl/ünï 名前 file.bin"), work)
		wantFileSum(t, filepath.Join(work, "ünï 名前 file.bin"), data)

		// get -c of a partial copy.
		partial := filepath.Join(work, "partial.bin")
		writeFile(t, partial, data[:2<<20+1])
		mustFerryCLI(t, "get", "-c", p.url("dl/ünï 名前 file.bin"), partial)
		wantFileSum(t, partial, data)

		// put to a named file, and into a directory ("/" at the end).
		up := testData(11, 3<<20+5)
		local := filepath.Join(work, "up é.bin")
		writeFile(t, local, up)
		mustFerryCLI(t, "mkdir", p.url("ul"))
		mustFerryCLI(t, "put", local, p.url("ul/named.bin"))
		wantFileSum(t, p.local("ul/named.bin"), up)
		mustFerryCLI(t, "put", local, p.url("ul")+"/")
		wantFileSum(t, p.local("ul/up é.bin"), up)

		// put -c after an upload that stopped short.
		p.writeFile(t, "ul/resumed.bin", up[:1<<20+3])
		mustFerryCLI(t, "put", "-c", local, p.url("ul/resumed.bin"))
		wantFileSum(t, p.local("ul/resumed.bin"), up)

		// A missing remote file is an error, and leaves no local file.
		if _, _, err := ferryCLI(t, "get", p.url("dl/missing.bin"), filepath.Join(work, "missing.bin")); err == nil {
			t.Error("get of a missing file succeeded")
		}
		wantNoFile(t, filepath.Join(work, "missing.bin"))
	})
}

// TestPeersCLIFiles is ls, cat, mkdir -p, mv, rm and rmdir.
func TestPeersCLIFiles(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		mtime := time.Date(2022, 3, 4, 5, 6, 7, 0, time.UTC)
		files := map[string][]byte{
			"ls/a.txt":          []byte("hello\n"),
			"ls/with space.bin": testData(12, 4321),
			"ls/ünï 名前.txt":     []byte("ünï\n"),
		}
		for name, data := range files {
			writeFile(t, p.local(name), data)
			if err := os.Chtimes(p.local(name), mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(p.local("ls/sub dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		p.settle(t)

		out, _ := mustFerryCLI(t, "ls", p.url("ls"))
		names := strings.Split(strings.TrimSpace(out), "\n")
		slices.Sort(names)
		if want := []string{"a.txt", "sub dir", "with space.bin", "ünï 名前.txt"}; !slices.Equal(names, want) {
			t.Errorf("ferry ls printed %q, want %q", names, want)
		}

		out, _ = mustFerryCLI(t, "ls", "-l", p.url("ls"))
		for _, want := range []string{" 4321 ", "with space.bin", "ünï 名前.txt", "sub dir"} {
			if !strings.Contains(out, want) {
				t.Errorf("ferry ls -l printed no %q:\n%s", want, out)
			}
		}

		out, _ = mustFerryCLI(t, "ls", "--json", p.url("ls"))
		var entries []struct {
			Name string `json:"name"`
			Type string `json:"type"`
			Size *int64 `json:"size"`
		}
		if err := json.Unmarshal([]byte(out), &entries); err != nil {
			t.Fatalf("ferry ls --json: %v\n%s", err, out)
		}
		for _, e := range entries {
			switch {
			case e.Name == "sub dir":
				if e.Type != "dir" {
					t.Errorf("ls --json: %q has type %q", e.Name, e.Type)
				}
			case e.Name == "with space.bin":
				if e.Type != "file" || e.Size == nil || *e.Size != 4321 {
					t.Errorf("ls --json: %+v, want a file of 4321 bytes", e)
				}
			}
		}
		if len(entries) != 4 {
			t.Errorf("ls --json gave %d entries, want 4:\n%s", len(entries), out)
		}

		out, _ = mustFerryCLI(t, "cat", p.url("ls/a.txt"), p.url("ls/ünï 名前.txt"))
		if out != "hello\nünï\n" {
			t.Errorf("ferry cat printed %q", out)
		}

		mustFerryCLI(t, "mkdir", "-p", p.url("made/a b/ç"))
		if fi, err := os.Stat(p.local("made/a b/ç")); err != nil || !fi.IsDir() {
			t.Errorf("mkdir -p made nothing: %v", err)
		}
		mustFerryCLI(t, "mv", p.url("ls/a.txt"), "../made/a b/")
		wantFile(t, p.local("made/a b/a.txt"), []byte("hello\n"))
		wantNoFile(t, p.local("ls/a.txt"))
		mustFerryCLI(t, "mv", p.url("made/a b/a.txt"), "renamed ü.txt")
		wantFile(t, p.local("made/a b/renamed ü.txt"), []byte("hello\n"))

		if _, _, err := ferryCLI(t, "rmdir", p.url("made/a b")); err == nil {
			t.Error("rmdir of a directory that is not empty succeeded")
		}
		mustFerryCLI(t, "rm", p.url("made/a b/renamed ü.txt"), p.url("ls/with space.bin"))
		wantNoFile(t, p.local("made/a b/renamed ü.txt"))
		wantNoFile(t, p.local("ls/with space.bin"))
		mustFerryCLI(t, "rmdir", p.url("made/a b/ç"))
		mustFerryCLI(t, "rmdir", p.url("made/a b"))
		wantNoFile(t, p.local("made/a b"))
		if _, _, err := ferryCLI(t, "rm", p.url("ls/no such file")); err == nil {
			t.Error("rm of a missing file succeeded")
		}
	})
}

// TestPeersCLISegments downloads over four connections at once.
func TestPeersCLISegments(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		data := testData(13, 16<<20+7)
		p.writeFile(t, "seg/big file.bin", data)
		local := filepath.Join(t.TempDir(), "big.bin")
		mustFerryCLI(t, "get", "--segments", "4", p.url("seg/big file.bin"), local)
		wantFileSum(t, local, data)
		wantNoFile(t, local+".ferry-segments")
	})
}

// ferryBinary builds cmd/ferry into the test's temporary directory, for a
// test that runs it as a process. Per test, not once per process: a
// binary shared across -count runs was removed by the first run's cleanup.
func ferryBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ferry-ftp/ferry/cmd/ferry").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/ferry: %v\n%s", err, out)
	}
	return bin
}

// TestPeersCLIGetKilled kills ferry get (SIGKILL) in the middle of a
// slowed-down download and checks that get -c completes it where it
// stopped, one connection or four.
func TestPeersCLIGetKilled(t *testing.T) {
	t.Parallel()
	bin := ferryBinary(t)
	data := testData(14, 6<<20+9)
	forEachPeer(t, func(t *testing.T, p *peer) {
		p.writeFile(t, "k/slow ü.bin", data)
		for _, tc := range []struct {
			name  string
			extra []string
		}{
			{"sequential", nil},
			{"segments", []string{"--segments", "4"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				local := filepath.Join(t.TempDir(), "slow.bin")
				args := append([]string{"get", "--limit-rate", "1M"}, tc.extra...)
				cmd := exec.Command(bin, append(args, p.url("k/slow ü.bin"), local)...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				// Kill it once a good part has arrived.
				deadline := time.Now().Add(30 * time.Second)
				for arrivedBytes(local, tc.extra != nil) < 1<<20 {
					select {
					case err := <-exited:
						t.Fatalf("ferry get ended before it was killed (%v):\n%s", err, stderr.String())
					case <-time.After(10 * time.Millisecond):
					}
					if time.Now().After(deadline) {
						cmd.Process.Kill()
						<-exited
						t.Fatalf("the download did not progress:\n%s", stderr.String())
					}
				}
				cmd.Process.Kill()
				<-exited

				got, err := os.ReadFile(local)
				if err != nil {
					t.Fatal(err)
				}
				wantRest := ""
				if tc.extra == nil {
					if len(got) == 0 || len(got) >= len(data) || !bytes.Equal(got, data[:len(got)]) {
						t.Fatalf("the killed download left %d bytes, not a part of the %d", len(got), len(data))
					}
					wantRest = "> REST " + strconv.Itoa(len(got)) + "\n"
				} else {
					if _, err := os.Stat(local + ".ferry-segments"); err != nil {
						t.Fatalf("the killed segmented download left no status file: %v", err)
					}
					wantRest = "> REST "
				}

				_, stderrC := mustFerryCLI(t, append(append([]string{"get", "-c", "--debug"}, tc.extra...), p.url("k/slow ü.bin"), local)...)
				wantFileSum(t, local, data)
				wantNoFile(t, local+".ferry-segments")
				if !strings.Contains(stderrC, wantRest) {
					t.Errorf("get -c did not continue where the killed one stopped (%q):\n%s", wantRest, lastBytes(stderrC, 4<<10))
				}
			})
		}
	})
}

// arrivedBytes is how much of a download into local has arrived: the
// file's size, or for a segmented download (which sizes the file at once)
// the sum of the segments done in its status file.
func arrivedBytes(local string, segmented bool) int64 {
	if !segmented {
		fi, err := os.Stat(local)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	data, err := os.ReadFile(local + ".ferry-segments")
	if err != nil {
		return 0
	}
	var status struct {
		Segments []struct {
			Done int64 `json:"done"`
		} `json:"segments"`
	}
	if json.Unmarshal(data, &status) != nil {
		return 0 // being rewritten
	}
	var n int64
	for _, s := range status.Segments {
		n += s.Done
	}
	return n
}

// TestPeersCLIMirror mirrors a tree of 1,000 files in nested directories
// with spaces and non-ASCII names from the server and back to it, checks
// both copies byte for byte, and that running each mirror again
// transfers nothing.
func TestPeersCLIMirror(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	want := makeTree(t, src, 1000)
	forEachPeer(t, func(t *testing.T, p *peer) {
		// Upload: the local tree to a new directory two levels down.
		out, _ := mustFerryCLI(t, "mirror", "--reverse", "-P", "8", src, p.url("up/tree ü"))
		compareTrees(t, want, treeDigest(t, p.local("up/tree ü")))
		if !strings.Contains(out, "1000 files transferred") {
			t.Errorf("first upload: %s", out)
		}
		out, _ = mustFerryCLI(t, "mirror", "--reverse", "-P", "8", src, p.url("up/tree ü"))
		if !strings.Contains(out, " 0 files transferred") || !strings.Contains(out, "1000 up to date") {
			t.Errorf("second upload transferred something: %s", out)
		}

		// Download: what the upload made, into a new local directory.
		local := filepath.Join(t.TempDir(), "copy 名前")
		out, _ = mustFerryCLI(t, "mirror", "-P", "8", p.url("up/tree ü"), local)
		compareTrees(t, want, treeDigest(t, local))
		if !strings.Contains(out, "1000 files transferred") {
			t.Errorf("first download: %s", out)
		}
		out, _ = mustFerryCLI(t, "mirror", "-P", "8", p.url("up/tree ü"), local)
		if !strings.Contains(out, " 0 files transferred") || !strings.Contains(out, "1000 up to date") {
			t.Errorf("second download transferred something: %s", out)
		}
	})
}

// TestPeersCLICopy copies a file from each peer to a ferry server and
// back with ferry cp (streamed through the client: both refuse FXP by
// default).
func TestPeersCLICopy(t *testing.T) {
	t.Parallel()
	ferrySrv := startFerryPeer(t)
	forEachPeer(t, func(t *testing.T, p *peer) {
		data := testData(17, 2<<20+1)
		p.writeFile(t, "cp/from peer ü.bin", data)
		dst := "from " + p.name + " ü.bin"
		mustFerryCLI(t, "cp", p.url("cp/from peer ü.bin"), ferrySrv.url(dst))
		wantFileSum(t, ferrySrv.local(dst), data)

		mustFerryCLI(t, "cp", ferrySrv.url(dst), p.url("cp")+"/")
		wantFileSum(t, p.local("cp/"+dst), data)
	})
}

// TestPeersCLIShell runs a ferry shell script (commands on standard
// input, no terminal) against each peer.
func TestPeersCLIShell(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		work := t.TempDir()
		up := testData(18, 300001)
		writeFile(t, filepath.Join(work, "up ü.bin"), up)
		writeFile(t, filepath.Join(work, "m1.txt"), []byte("m1\n"))
		writeFile(t, filepath.Join(work, "m2.txt"), []byte("m2\n"))
		down := testData(19, 500003)
		p.writeFile(t, "sh/remote 名前.bin", down)
		p.writeFile(t, "sh/r1.log", []byte("r1\n"))
		p.writeFile(t, "sh/r2.log", []byte("r2\n"))
		fetched := filepath.Join(work, "fetched")
		if err := os.Mkdir(fetched, 0o755); err != nil {
			t.Fatal(err)
		}

		script := strings.Join([]string{
			"lcd " + shellQuote(work),
			"mkdir -p 'sh/new dir/deeper'",
			"cd sh",
			"pwd",
			"put 'up ü.bin' 'new dir/up ü.bin'",
			"mput m*.txt",
			"ls",
			"get 'remote 名前.bin' 'got.bin'",
			"lcd fetched",
			"mget *.log",
			"cat r1.log",
			"mv r2.log 'new dir/r2 moved.log'",
			"rm r1.log",
			"rmdir 'new dir/deeper'",
			"bye",
			"",
		}, "\n")
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err := cli.Run(ctx, cli.Env{Stdin: strings.NewReader(script), Stdout: &out, Stderr: &errOut}, []string{"shell", p.url("")})
		if err != nil {
			t.Fatalf("ferry shell: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
		}
		for _, want := range []string{"/sh", "remote 名前.bin", "m1.txt", "new dir", "r1\n"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("the shell printed no %q:\n%s", want, out.String())
			}
		}
		wantFile(t, p.local("sh/new dir/up ü.bin"), up)
		wantFile(t, p.local("sh/m1.txt"), []byte("m1\n"))
		wantFile(t, p.local("sh/m2.txt"), []byte("m2\n"))
		wantFile(t, filepath.Join(work, "got.bin"), down)
		wantFile(t, filepath.Join(fetched, "r1.log"), []byte("r1\n"))
		wantFile(t, filepath.Join(fetched, "r2.log"), []byte("r2\n"))
		wantFile(t, p.local("sh/new dir/r2 moved.log"), []byte("r2\n"))
		wantNoFile(t, p.local("sh/r1.log"))
		wantNoFile(t, p.local("sh/r2.log"))
		wantNoFile(t, p.local("sh/new dir/deeper"))
	})
}

// shellQuote quotes a local path for a ferry shell script.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
