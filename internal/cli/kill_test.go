package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGetKilledThenContinue kills the real binary (SIGKILL) in the middle
// of a slowed-down download and checks that get -c completes the file.
func TestGetKilledThenContinue(t *testing.T) {
	t.Parallel()
	bin := buildFerry(t)
	ts := startFTP(t)
	data := randomData(4<<20, 41)
	ts.put(t, "big.bin", data)

	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"sequential", nil},
		{"segments", []string{"--segments", "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local := filepath.Join(t.TempDir(), "big.bin")
			args := append([]string{"get", "--limit-rate", "512K"}, tc.extra...)
			cmd := exec.Command(bin, append(args, ts.url("big.bin"), local)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Kill it once a good part has arrived.
			deadline := time.Now().Add(30 * time.Second)
			for arrived(local, tc.extra != nil) < 600<<10 {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the download did not progress:\n%s", stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			cmd.Process.Kill()
			cmd.Wait()

			got, err := os.ReadFile(local)
			if err != nil {
				t.Fatal(err)
			}
			if tc.extra == nil {
				// In place: a true prefix, short of the whole.
				if len(got) == 0 || len(got) >= len(data) || !bytes.Equal(got, data[:len(got)]) {
					t.Fatalf("a killed download left %d bytes, not a prefix of %d", len(got), len(data))
				}
			}
			// Where -c must restart: the local size, or where the status
			// file says a segment stopped.
			wantRest := "> REST " + itoa(int64(len(got)))
			if tc.extra != nil {
				st, err := loadSegmentState(segmentStatePath(local))
				if err != nil {
					t.Fatalf("a killed segmented download left no status file: %v", err)
				}
				s := st.Segments[0]
				if s.Done == 0 || s.Done == s.End-s.Start {
					t.Fatalf("first segment not part done: %+v", s)
				}
				wantRest = "> REST " + itoa(s.Start+s.Done)
			}

			_, stderrC := mustFerry(t, append([]string{"get", "-c", "--debug"}, append(tc.extra, ts.url("big.bin"), local)...)...)
			sameContent(t, local, data)
			if !strings.Contains(stderrC, wantRest) {
				t.Errorf("get -c did not continue where the killed one stopped (%q):\n%s", wantRest, clipText(stderrC))
			}
		})
	}
}

// arrived is how much of a download is on disk: the file's size, or for a
// segmented download (pre-sized) what its status file records.
func arrived(local string, segmented bool) int64 {
	if !segmented {
		fi, err := os.Stat(local)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	st, err := loadSegmentState(segmentStatePath(local))
	if err != nil {
		return 0
	}
	var n int64
	for _, s := range st.Segments {
		n += s.Done
	}
	return n
}
