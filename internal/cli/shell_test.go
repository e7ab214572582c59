package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestShellSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ls  ", []string{"ls"}},
		{`get a\ b.txt "c d" 'e f'`, []string{"get", "a b.txt", "c d", "e f"}},
		{`put "say \"hi\"" 'it''s' back\\slash`, []string{"put", `say "hi"`, "its", `back\slash`}},
		{`x"y z"w ünï\ cödé`, []string{"xy zw", "ünï cödé"}},
		{`'a\b' "a\b"`, []string{`a\b`, `a\b`}},
		{`"" ''`, []string{"", ""}},
	}
	for _, tt := range tests {
		got, err := shellSplit(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("shellSplit(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`get "a b`, `'x`} {
		if _, err := shellSplit(bad); !errors.Is(err, errShellQuote) {
			t.Errorf("shellSplit(%q): %v", bad, err)
		}
	}
	// Quoting gives back the word, whatever it holds.
	for _, word := range []string{"plain", "a b", `q"uo'te`, `back\slash`, "tab\there", "ünï cödé 日本"} {
		for _, q := range []byte{0, '"'} {
			got, err := shellSplit("x " + shellQuoteWord(word, q, true))
			if err != nil || len(got) != 2 || got[1] != word {
				t.Errorf("quote %q with %q: read back %q, %v", word, q, got, err)
			}
		}
	}
}

// startShellServer serves a directory holding a few names with spaces and
// UTF-8, and returns it with its URL.
func startShellServer(t *testing.T, wrap func(ftpserver.FileSystem) ftpserver.FileSystem) *mirrorTestServer {
	t.Helper()
	ts := startMirrorServer(t, t.TempDir(), wrap)
	for name, content := range map[string]string{
		"a b.txt":                "spaced",
		"alpha.txt":              "alpha",
		"dir ü/inner.txt":        "inner",
		"dir ü/日本語.txt":          "japanese",
		"docs/one.md":            "one",
		"docs/two.md":            "two",
		"docs/three.txt":         "three",
		"docs/deep/nested/x.txt": "x",
	} {
		mirrorWriteFile(t, filepath.Join(ts.root, filepath.FromSlash(name)), content, time.Unix(1.6e9, 0))
	}
	return ts
}

// runShellScript runs ferry shell on a script, from the local directory
// local, and returns what it printed.
func runShellScript(t *testing.T, url, local, script string) (stdout, stderr string, err error) {
	t.Helper()
	return mirrorRunWithStdin(t, "lcd "+shellQuoteWord(local, 0, true)+"\n"+script, "shell", url)
}

func mirrorRunWithStdin(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Run(ctx, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}, args)
	return out.String(), errOut.String(), err
}

func TestShellScript(t *testing.T) {
	t.Parallel()
	ts := startShellServer(t, nil)
	local := t.TempDir()
	mirrorWriteFile(t, filepath.Join(local, "up load.txt"), "uploaded", time.Time{})
	mirrorWriteFile(t, filepath.Join(local, "m1.dat"), "m1", time.Time{})
	mirrorWriteFile(t, filepath.Join(local, "m2.dat"), "m2", time.Time{})

	script := `# a comment, then commands
pwd
ls
cd "dir ü"
pwd
ls -l
get 日本語.txt
get inner.txt "renamed copy.txt"
cd -
cat 'a b.txt'
put "up load.txt"
put m1.dat docs/
mkdir -p "new/sub dir"
mv "up load.txt" "new/sub dir"
mget docs/*.md
mput *.dat
lpwd
mirror docs docs-copy
mirror -R docs-copy uploaded
rm -r docs/deep
mkdir emptydir
rmdir emptydir
bye
pwd
`
	out, errOut, err := runShellScript(t, ts.url, local, script)
	if err != nil {
		t.Fatalf("script failed: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	lines := strings.Split(out, "\n")
	if lines[0] != "/" || !slices.Contains(lines, "/dir ü") || !slices.Contains(lines, "a b.txt") || !slices.Contains(lines, "dir ü/") {
		t.Errorf("pwd and ls output:\n%s", out)
	}
	if !strings.Contains(out, " 5 ") || !strings.Contains(out, "inner.txt") || !strings.Contains(out, "-rw-") {
		t.Errorf("ls -l output:\n%s", out)
	}
	if !strings.Contains(out, "spaced") {
		t.Errorf("cat printed:\n%s", out)
	}
	if strings.Count(out, "\n"+local+"\n") != 1 {
		t.Errorf("lpwd printed:\n%s", out)
	}
	for name, want := range map[string]string{
		"日本語.txt": "japanese", "renamed copy.txt": "inner", "one.md": "one", "two.md": "two",
		"docs-copy/deep/nested/x.txt": "x", "docs-copy/three.txt": "three",
	} {
		if got := mirrorReadFile(t, filepath.Join(local, filepath.FromSlash(name))); got != want {
			t.Errorf("local %s: %q", name, got)
		}
	}
	if _, err := os.Stat(filepath.Join(local, "three.txt")); err == nil {
		t.Error("mget docs/*.md fetched three.txt")
	}
	for name, want := range map[string]string{
		"docs/m1.dat": "m1", "m1.dat": "m1", "m2.dat": "m2", "uploaded/one.md": "one", "uploaded/deep/nested/x.txt": "x",
	} {
		if got := mirrorReadFile(t, filepath.Join(ts.root, filepath.FromSlash(name))); got != want {
			t.Errorf("remote %s: %q", name, got)
		}
	}
	if _, err := os.Stat(filepath.Join(ts.root, "emptydir")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rmdir left emptydir: %v", err)
	}
	if got := mirrorReadFile(t, filepath.Join(ts.root, "new", "sub dir", "up load.txt")); got != "uploaded" {
		t.Errorf("mv into a directory: %q", got)
	}
	if _, err := os.Stat(filepath.Join(ts.root, "docs", "deep")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rm -r left docs/deep: %v", err)
	}
	if strings.Count(out, "\n/\n") > 1 {
		t.Error("a command after bye was run")
	}
}

func TestShellScriptFailures(t *testing.T) {
	t.Parallel()
	ts := startShellServer(t, nil)
	local := t.TempDir()
	out, errOut, err := runShellScript(t, ts.url, local, `get missing.txt
frobnicate
cd alpha.txt
get "unterminated
rmdir "dir ü"
mget *.none
pwd
`)
	if !errors.Is(err, errShellFailed) || !strings.Contains(err.Error(), "6 commands failed") {
		t.Errorf("exit error: %v", err)
	}
	for _, want := range []string{"get: ", "frobnicate: unknown command", "alpha.txt is not a directory", "unterminated quote", "rmdir: ", "no match"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.HasSuffix(out, "/\n") {
		t.Errorf("the script did not go on after failures: %q", out)
	}
	if _, err := os.Stat(filepath.Join(local, "missing.txt")); err == nil {
		t.Error("a failed get left a file")
	}

	// A start directory that does not exist, and one that is a file.
	if _, _, err := mirrorRunWithStdin(t, "", "shell", ts.url+"/nowhere"); err == nil {
		t.Error("shell in a missing directory started")
	}
	if _, _, err := mirrorRunWithStdin(t, "", "shell", ts.url+"/alpha.txt"); err == nil {
		t.Error("shell in a file started")
	}
	// It starts in the URL's directory.
	out, _, err = mirrorRunWithStdin(t, "pwd\nls\n", "shell", ts.url+"/docs")
	if err != nil || !strings.HasPrefix(out, "/docs\n") || !strings.Contains(out, "one.md") {
		t.Errorf("start in /docs: %v\n%s", err, out)
	}
}

func TestShellResume(t *testing.T) {
	t.Parallel()
	ts := startShellServer(t, nil)
	local := t.TempDir()
	content := strings.Repeat("0123456789", 10000)
	mirrorWriteFile(t, filepath.Join(ts.root, "big.txt"), content, time.Time{})
	mirrorWriteFile(t, filepath.Join(local, "big.txt"), content[:12345], time.Time{})
	mirrorWriteFile(t, filepath.Join(local, "up.txt"), content, time.Time{})
	mirrorWriteFile(t, filepath.Join(ts.root, "up.txt"), content[:5000], time.Time{})
	before := ts.transfers.Load()
	out, errOut, err := runShellScript(t, ts.url, local, "get -c big.txt\nput -c up.txt\nget -c big.txt\n")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	if got := mirrorReadFile(t, filepath.Join(local, "big.txt")); got != content {
		t.Errorf("get -c: %d bytes, want %d", len(got), len(content))
	}
	if got := mirrorReadFile(t, filepath.Join(ts.root, "up.txt")); got != content {
		t.Errorf("put -c: %d bytes, want %d", len(got), len(content))
	}
	if !strings.Contains(out, "big.txt: 85.6 KiB") || !strings.Contains(out, "already complete") {
		t.Errorf("get -c did not resume (or not say so):\n%s", out)
	}
	if n := ts.transfers.Load() - before; n != 2 {
		t.Errorf("%d transfers, want 2", n)
	}
}

// newTestShell makes a shell on ts without a terminal, for calling its
// methods directly.
func newTestShell(t *testing.T, ts *mirrorTestServer, local string) *shell {
	t.Helper()
	u, err := parseRemoteURL(ts.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var rf remoteFlags
	rf.timeout = 10 * time.Second
	c, err := rf.dial(ctx, Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}, u, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := newShell(ctx, Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}, c, u, 2)
	if err != nil {
		t.Fatal(err)
	}
	s.lcwd = local
	return s
}

func TestShellComplete(t *testing.T) {
	t.Parallel()
	ts := startShellServer(t, nil)
	local := t.TempDir()
	mirrorWriteFile(t, filepath.Join(local, "local file.txt"), "x", time.Time{})
	mirrorWriteFile(t, filepath.Join(local, "ldir", "in.txt"), "x", time.Time{})
	s := newTestShell(t, ts, local)
	tests := []struct{ line, want string }{
		{"mi", "mirror "},
		{"l", "l"}, // ls, lcd, lpwd, lls: nothing in common beyond "l"
		{"lp", "lpwd "},
		{"get a ", "get a l"}, // the second argument is local: "ldir/" and "local file.txt"
		{"get a\\ ", "get a\\ b.txt "},
		{"get al", "get alpha.txt "},
		{"get a", "get a"}, // "a b.txt" and "alpha.txt"
		{"cd di", "cd dir\\ ü/"},
		{`cd "di`, `cd "dir ü/`},
		{"get dir\\ ü/日", "get dir\\ ü/日本語.txt "},
		{`get "dir ü/in`, `get "dir ü/inner.txt" `},
		{"ls docs/t", "ls docs/t"}, // three.txt, two.md
		{"ls docs/th", "ls docs/three.txt "},
		{"ls docs/de", "ls docs/deep/"},
		{"ls /docs/deep/n", "ls /docs/deep/nested/"},
		{"put lo", "put local\\ file.txt "},
		{"put ld", "put ldir/"},
		{"put ldir/", "put ldir/in.txt "},
		{"put local\\ file.txt d", "put local\\ file.txt d"}, // remote: "dir ü", "docs"
		{"put local\\ file.txt do", "put local\\ file.txt docs/"},
		{"mirror -R ld", "mirror -R ldir/"},
		{"mirror do", "mirror docs/"},
		{"lcd ld", "lcd ldir/"},
		{"help mk", "help mkdir "},
		{"pwd x", "pwd x"},
		{"get nothing", "get nothing"},
	}
	for _, tt := range tests {
		got, pos, ok := s.complete(tt.line, len(tt.line), '\t')
		if !ok || got != tt.want || pos != len(tt.want) {
			t.Errorf("complete(%q) = %q, %d, %v; want %q", tt.line, got, pos, ok, tt.want)
		}
	}
	// The cursor in the middle: what follows it stays.
	line := "get al -- rest"
	got, pos, _ := s.complete(line, len("get al"), '\t')
	if got != "get alpha.txt  -- rest" || pos != len("get alpha.txt ") {
		t.Errorf("completion before the end: %q, %d", got, pos)
	}
	// Other keys are left to the line editor; Ctrl-C (as Ctrl-G) clears.
	if _, _, ok := s.complete("ls", 2, 'x'); ok {
		t.Error("a plain key was taken")
	}
	if got, pos, ok := s.complete("ls docs", 7, shellKeyInterrupt); !ok || got != "" || pos != 0 {
		t.Errorf("Ctrl-C: %q %d %v", got, pos, ok)
	}
}
