package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/cli"
)

// serverEnv makes the test binary run "ferry" with its arguments instead
// of the tests: the crash test kills the real server code without
// waiting for a go build.
const serverEnv = "FERRY_CRASH_TEST_SERVER=1"

func TestMain(m *testing.M) {
	if os.Getenv("FERRY_CRASH_TEST_SERVER") == "1" {
		err := cli.Run(context.Background(), cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "ferry:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestCrashRounds runs the benchmark for three kills of a real server.
func TestCrashRounds(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadDirect} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			cfg := config{
				rounds: 3, workers: 2, ferry: self, serverEnv: []string{serverEnv},
				dir: t.TempDir(), uploadMode: mode, seed: 14, timeout: 2 * time.Minute,
				killMin: 200 * time.Millisecond, killMax: 600 * time.Millisecond,
				maxSize: 1 << 20, out: logWriter{t},
			}
			sum, err := run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sum.violations) > 0 {
				t.Fatalf("violations: %v", sum.violations)
			}
			if sum.rounds != 3 || len(sum.restarts) != 3 {
				t.Errorf("rounds %d, restarts %v; want 3", sum.rounds, sum.restarts)
			}
			// Every worker runs until the kill breaks its operation.
			if sum.inFlight != 3*2 {
				t.Errorf("%d operations in flight at the kills, want 6", sum.inFlight)
			}
			if n := slices.Min(sum.restarts); n <= 0 {
				t.Errorf("restart time %v", n)
			}
			if sum.totalAcked() == 0 || sum.files == 0 || sum.bytes == 0 {
				t.Errorf("acknowledged %d ops, checked %d files, %d bytes; want some of each", sum.totalAcked(), sum.files, sum.bytes)
			}
			if sum.base != "" {
				t.Errorf("kept %s after a clean run", sum.base)
			}
		})
	}
}

// TestKillAtSyscall kills the server on entering fsync, the step before
// an upload is published, through strace.
func TestKillAtSyscall(t *testing.T) {
	t.Parallel()
	if err := exec.Command("strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync", "true").Run(); err != nil {
		t.Skipf("strace cannot trace here: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{
		rounds: 2, workers: 2, ferry: self, serverEnv: []string{serverEnv},
		dir: t.TempDir(), uploadMode: ftpserver.UploadAtomicResume, seed: 14, timeout: 2 * time.Minute,
		// The timer is the fallback: long enough for fsync to come first.
		killMin: 20 * time.Second, killMax: 20 * time.Second,
		maxSize: 64 << 10, killAt: "fsync", out: logWriter{t},
	}
	sum, err := run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.violations) > 0 {
		t.Fatalf("violations: %v", sum.violations)
	}
	if sum.atSyscall != 2 {
		t.Errorf("%d of 2 rounds killed on entering fsync", sum.atSyscall)
	}
}

func TestContentSlices(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	c := content{{stream: 1, off: 3, n: 1000}, {stream: 2, off: 0, n: 17}, {stream: 1, off: 5, n: 300}}
	all := c.bytes()
	if int64(len(all)) != c.size() || c.size() != 1317 {
		t.Fatalf("size %d, bytes %d", c.size(), len(all))
	}
	// The same stream at overlapping offsets gives the same bytes.
	if !bytes.Equal(all[2:302], all[1017:1317]) {
		t.Error("stream 1 from offset 5 differs between segments")
	}
	if bytes.Equal(all[:100], all[1000:1100]) {
		t.Error("different streams give the same bytes")
	}
	for range 200 {
		a := rng.Int64N(c.size() + 1)
		b := a + rng.Int64N(c.size()-a+1)
		if got := c.slice(a, b).bytes(); !bytes.Equal(got, all[a:b]) {
			t.Fatalf("slice(%d, %d) differs", a, b)
		}
	}
	// Reading in small pieces gives the same as reading at once.
	var small bytes.Buffer
	buf := make([]byte, 7)
	r := c.reader()
	for {
		n, err := r.Read(buf)
		small.Write(buf[:n])
		if err == io.EOF {
			break
		}
	}
	if !bytes.Equal(small.Bytes(), all) {
		t.Error("reading 7 bytes at a time differs")
	}
}

// fixture is a served root with one worker directory whose files and
// model the test sets.
type fixture struct {
	t     *testing.T
	check *checker
	w     *worker
}

func newFixture(t *testing.T, mode ftpserver.UploadMode) *fixture {
	base := t.TempDir()
	w := newWorker(0, 1, 1<<20)
	if err := os.MkdirAll(filepath.Join(base, "root", w.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, w: w, check: &checker{
		root: filepath.Join(base, "root"), evidence: filepath.Join(base, "evidence"), mode: mode, round: 1,
	}}
}

func (f *fixture) write(name string, b []byte) {
	if err := os.WriteFile(filepath.Join(f.check.root, f.w.dir, name), b, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// both sets name in the model and on disk.
func (f *fixture) both(name string, c content) {
	f.w.files[name] = c
	f.write(name, c.bytes())
}

func (f *fixture) kinds() []string {
	var kinds []string
	for _, v := range f.check.violations {
		kinds = append(kinds, v.kind)
	}
	slices.Sort(kinds)
	return kinds
}

func (f *fixture) onDisk() []string {
	entries, err := os.ReadDir(filepath.Join(f.check.root, f.w.dir))
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func seg(stream uint64, n int64) content { return content{{stream: stream, n: n}} }

// TestCheckerFindsEveryKind plants each kind of violation in the served
// directory: the checker must name each one, keep the offending files out
// of the root and go on from what is left.
func TestCheckerFindsEveryKind(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ftpserver.UploadAtomicResume)
	f.both("good", seg(1, 5000))
	f.both("empty", nil)
	f.w.files["corrupt"] = seg(2, 5000)
	f.write("corrupt", seg(3, 5000).bytes())
	f.w.files["short"] = seg(2, 5000)
	f.write("short", seg(2, 4999).bytes())
	f.w.files["missing"] = seg(4, 10)
	f.w.files["dir"] = seg(5, 10)
	if err := os.Mkdir(filepath.Join(f.check.root, f.w.dir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.write(".ferry-upload-1x2y", seg(6, 100).bytes())
	f.write("stray", nil)
	if err := os.WriteFile(filepath.Join(f.check.root, "at-root"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := f.check.checkRoot([]*worker{f.w}); err != nil {
		t.Fatal(err)
	}
	if err := f.check.checkWorker(f.w); err != nil {
		t.Fatal(err)
	}
	want := []string{violCorrupt, violCorrupt, violMissing, violNotRegular, violStray, violStray, violTempFile}
	if got := f.kinds(); !slices.Equal(got, want) {
		t.Errorf("violations %v, want kinds %v", f.check.violations, want)
	}
	if got := f.w.names(); !slices.Equal(got, []string{"empty", "good"}) {
		t.Errorf("model after the check: %v, want [empty good]", got)
	}
	if got := f.onDisk(); !slices.Equal(got, []string{"empty", "good"}) {
		t.Errorf("directory after the check: %v, want [empty good]", got)
	}
	kept, err := os.ReadDir(f.check.evidence)
	if err != nil || len(kept) != 6 {
		t.Errorf("evidence: %d files (%v), want 6", len(kept), err)
	}
	if f.check.files != 4 || f.check.bytes != 5000+5000+4999 {
		t.Errorf("checked %d files, %d bytes; want 4, 14999", f.check.files, f.check.bytes)
	}

	// The next round starts clean.
	f.check.violations = nil
	f.check.checkRoot([]*worker{f.w})
	f.check.checkWorker(f.w)
	if len(f.check.violations) != 0 {
		t.Errorf("second check: %v", f.check.violations)
	}
}

// TestResolveInFlight gives the operation in flight each outcome it may
// and may not have had, per upload mode.
func TestResolveInFlight(t *testing.T) {
	t.Parallel()
	old := seg(10, 3000)
	data := seg(11, 2000)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	ob, db := old.bytes(), data.bytes()
	cases := []struct {
		name    string
		mode    ftpserver.UploadMode
		op      op
		disk    []byte // nil: absent
		ok      bool
		outcome int
	}{
		{"overwrite undone", ftpserver.UploadAtomicResume, op{kind: opOverwrite, name: "f", data: data}, ob, true, outcomeBefore},
		{"overwrite done", ftpserver.UploadAtomicResume, op{kind: opOverwrite, name: "f", data: data}, db, true, outcomeAfter},
		{"atomic overwrite half", ftpserver.UploadAtomicResume, op{kind: opOverwrite, name: "f", data: data}, db[:1000], false, 0},
		{"direct overwrite half", ftpserver.UploadDirect, op{kind: opOverwrite, name: "f", data: data}, db[:1000], true, outcomePartial},
		{"direct overwrite emptied", ftpserver.UploadDirect, op{kind: opOverwrite, name: "f", data: data}, []byte{}, true, outcomePartial},
		{"upload not begun", ftpserver.UploadAtomic, op{kind: opUpload, name: "new", data: data}, nil, true, outcomeBefore},
		{"atomic upload empty", ftpserver.UploadAtomic, op{kind: opUpload, name: "new", data: data}, []byte{}, false, 0},
		{"direct upload empty", ftpserver.UploadDirect, op{kind: opUpload, name: "new", data: data}, []byte{}, true, outcomePartial},
		{"append in place half", ftpserver.UploadAtomicResume, op{kind: opAppend, name: "f", data: data}, cat(ob, db[:1000]), true, outcomePartial},
		{"atomic append half", ftpserver.UploadAtomic, op{kind: opAppend, name: "f", data: data}, cat(ob, db[:1000]), false, 0},
		{"append lost the file's end", ftpserver.UploadAtomicResume, op{kind: opAppend, name: "f", data: data}, cat(ob[:2999], db[:1000]), false, 0},
		{"resume in place, tail kept", ftpserver.UploadAtomicResume, op{kind: opResume, name: "f", offset: 500, data: data}, cat(ob[:500], db[:1000], ob[1500:]), true, outcomePartial},
		{"resume in place, cut", ftpserver.UploadAtomicResume, op{kind: opResume, name: "f", offset: 500, data: data}, cat(ob[:500], db), true, outcomeAfter},
		{"resume in place, garbage", ftpserver.UploadAtomicResume, op{kind: opResume, name: "f", offset: 500, data: data}, cat(ob[:500], ob[:1000], ob[1500:]), false, 0},
		{"direct resume, tail kept", ftpserver.UploadDirect, op{kind: opResume, name: "f", offset: 500, data: data}, cat(ob[:500], db[:1000], ob[1500:]), false, 0},
		{"direct resume, cut", ftpserver.UploadDirect, op{kind: opResume, name: "f", offset: 500, data: data}, cat(ob[:500], db[:1000]), true, outcomePartial},
		{"delete done", ftpserver.UploadAtomic, op{kind: opDelete, name: "f"}, nil, true, outcomeAfter},
		{"delete undone", ftpserver.UploadAtomic, op{kind: opDelete, name: "f"}, ob, true, outcomeBefore},
		{"delete half", ftpserver.UploadAtomic, op{kind: opDelete, name: "f"}, ob[:10], false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.mode)
			f.w.files["f"] = old
			if tc.disk != nil {
				f.write(tc.op.name, tc.disk)
			}
			if tc.op.name != "f" {
				f.write("f", ob)
			}
			f.w.pending = &tc.op
			if err := f.check.checkWorker(f.w); err != nil {
				t.Fatal(err)
			}
			if got := len(f.check.violations) == 0; got != tc.ok {
				t.Fatalf("violations %v, want ok=%v", f.check.violations, tc.ok)
			}
			if !tc.ok {
				return
			}
			if f.check.outcomes[tc.outcome] != 1 {
				t.Errorf("outcomes %v, want outcome %d", f.check.outcomes, tc.outcome)
			}
			// The model follows the disk, so that the next round
			// checks from there.
			model, exists := f.w.files[tc.op.name]
			if exists != (tc.disk != nil) || !bytes.Equal(model.bytes(), tc.disk) {
				t.Errorf("model of %s: %d bytes (exists %v), disk %d bytes", tc.op.name, model.size(), exists, len(tc.disk))
			}
			if f.w.pending != nil {
				t.Error("pending operation not resolved")
			}
		})
	}
}

func TestResolveRename(t *testing.T) {
	t.Parallel()
	a, b := seg(20, 100), seg(21, 200)
	cases := []struct {
		name         string
		from, to     []byte // on disk; nil: absent
		toExisted    bool
		ok           bool
		wantA, wantB content
	}{
		{"undone", a.bytes(), nil, false, true, a, nil},
		{"done", nil, a.bytes(), false, true, nil, a},
		{"undone over a file", a.bytes(), b.bytes(), true, true, a, b},
		{"done over a file", nil, a.bytes(), true, true, nil, a},
		{"copied", a.bytes(), a.bytes(), false, false, nil, nil},
		{"both gone", nil, nil, true, false, nil, nil},
		{"target lost", a.bytes(), nil, true, false, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ftpserver.UploadAtomicResume)
			f.w.files["a"] = a
			if tc.toExisted {
				f.w.files["b"] = b
			}
			if tc.from != nil {
				f.write("a", tc.from)
			}
			if tc.to != nil {
				f.write("b", tc.to)
			}
			f.w.pending = &op{kind: opRename, name: "a", to: "b"}
			if err := f.check.checkWorker(f.w); err != nil {
				t.Fatal(err)
			}
			if got := len(f.check.violations) == 0; got != tc.ok {
				t.Fatalf("violations %v, want ok=%v", f.check.violations, tc.ok)
			}
			if !tc.ok {
				if n := len(f.onDisk()); n != 0 || len(f.w.files) != 0 {
					t.Errorf("after a violation: %d files on disk, model %v; want both empty", n, f.w.names())
				}
				return
			}
			if !bytes.Equal(f.w.files["a"].bytes(), tc.wantA.bytes()) || !bytes.Equal(f.w.files["b"].bytes(), tc.wantB.bytes()) {
				t.Errorf("model a=%d b=%d bytes", f.w.files["a"].size(), f.w.files["b"].size())
			}
		})
	}
}

func TestOverlayPrefix(t *testing.T) {
	t.Parallel()
	cases := []struct {
		got, old, data string
		at             int64
		keepTail       bool
		m              int64
		ok             bool
	}{
		{"abcXYf", "abcdef", "XYZ", 3, true, 2, true},
		{"abcXYZ", "abcdef", "XYZ", 3, true, 3, true},
		{"abcdef", "abcdef", "XYZ", 3, true, 0, true},
		{"abcXYZW", "abcdef", "XYZW", 3, true, 4, true},
		{"abcXYZ", "abcdef", "XYZW", 3, false, 3, true},
		{"abcXYf", "abcdef", "XYZ", 3, false, 0, false},
		{"abXXYf", "abcdef", "XYZ", 3, true, 0, false},
		// data and old agree on a byte: any m in the range will do.
		{"abcdZf", "abcdef", "dZ", 3, true, 2, true},
		{"abcd", "abcdef", "dZ", 3, true, 0, false},
		{"abcd", "abc", "dZ", 3, false, 1, true},
	}
	for _, tc := range cases {
		m, ok := overlayPrefix([]byte(tc.got), []byte(tc.old), []byte(tc.data), tc.at, tc.keepTail)
		if ok != tc.ok || ok && m != tc.m {
			t.Errorf("overlayPrefix(%q, %q, %q, %d, %v) = %d, %v; want %d, %v", tc.got, tc.old, tc.data, tc.at, tc.keepTail, m, ok, tc.m, tc.ok)
		}
	}
}
