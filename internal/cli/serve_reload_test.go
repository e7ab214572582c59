package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// startBinaryLogged is startBinary keeping the process's log.
func startBinaryLogged(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	logs := new(syncBuffer)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, _ := waitAddr(t, stdout)
	return cmd, addr, logs
}

// jsonLogLines parses every line of a JSON log, failing on one that is
// not a JSON object.
func jsonLogLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(log) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// findLog returns the first log record with msg whose attributes include
// want, or nil.
func findLog(records []map[string]any, msg string, want map[string]any) map[string]any {
	for _, r := range records {
		if r["msg"] != msg {
			continue
		}
		ok := true
		for k, v := range want {
			if fmt.Sprint(r[k]) != fmt.Sprint(v) {
				ok = false
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

// A real "ferry serve" process with log_format = "json", an xferlog and a
// users file: its log is JSON with the session and client on each
// session's lines; SIGHUP after logrotate's rename reopens the xferlog
// (the next transfer lands in the new file), re-reads the users file, and
// says what it reloaded.
func TestServeBinarySIGHUPReopensXferlog(t *testing.T) {
	t.Parallel()
	bin := buildFerry(t)
	dir, root, work := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	logPath := filepath.Join(dir, "log", "xferlog")
	os.Mkdir(filepath.Dir(logPath), 0o755)
	usersPath := filepath.Join(dir, "users.toml")
	users, err := auth.LoadOrCreateUsers(usersPath)
	if err != nil {
		t.Fatal(err)
	}
	users.Add("joe", "password-one", root, false)
	if err := users.Save(); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "ferry.toml")
	os.WriteFile(cfgPath, fmt.Appendf(nil, `root = %q
passive_ports = ""
users_file = "users.toml"
xferlog_file = "log/xferlog"
log_format = "json"

[anonymous]
enabled = true
`, root), 0o644)
	cmd, addr, logs := startBinaryLogged(t, bin, "--config", cfgPath)
	url := "ftp://" + addr

	tool(t, work, "curl", "-sS", "-o", "one.txt", url+"/hello.txt")
	if entries, _ := xferlogEntries(t, logPath, 1); entries[0].Filename != "/hello.txt" || entries[0].Username != "ftp@example.com" {
		t.Fatalf("first line: %+v", entries[0])
	}
	// What logrotate does before its postrotate "kill -HUP".
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var reloaded map[string]any
	testwait.For(t, "the log to say what SIGHUP reloaded", func() bool {
		log := logs.String()
		if !strings.HasSuffix(log, "\n") {
			return false
		}
		reloaded = findLog(jsonLogLines(t, log), "SIGHUP: reloaded", nil)
		return reloaded != nil
	})
	what, _ := reloaded["what"].([]any)
	if !slices.Contains(what, any("xferlog")) || !slices.Contains(what, any("users file")) || slices.Contains(what, any("certificate")) {
		t.Errorf("SIGHUP reloaded %v, want the users file and the xferlog (no certificate is configured)", reloaded["what"])
	}
	records := jsonLogLines(t, logs.String())
	if findLog(records, "users file reloaded", map[string]any{"path": usersPath}) == nil {
		t.Errorf("no users file reload logged:\n%s", logs.String())
	}
	if findLog(records, "xferlog reopened", map[string]any{"path": logPath}) == nil {
		t.Errorf("no xferlog reopen logged:\n%s", logs.String())
	}

	tool(t, work, "curl", "-sS", "-u", "joe:password-one", "-o", "two.txt", url+"/hello.txt")
	if entries, lines := xferlogEntries(t, logPath, 1); entries[0].Username != "joe" || entries[0].AccessMode != "r" {
		t.Fatalf("the transfer after SIGHUP logged %q", lines)
	}
	if _, lines := xferlogEntries(t, logPath+".1", 1); len(lines) != 1 {
		t.Fatalf("the rotated file changed: %q", lines)
	}

	// Each session's lines carry the session and the client's address.
	var transfer map[string]any
	testwait.For(t, "the transfer's log line", func() bool {
		log := logs.String()
		if !strings.HasSuffix(log, "\n") {
			return false
		}
		transfer = findLog(jsonLogLines(t, log), "transfer", map[string]any{"file": "/hello.txt", "result": "ok"})
		return transfer != nil
	})
	if s, _ := transfer["session"].(string); s == "" {
		t.Errorf("transfer log line without a session: %v", transfer)
	}
	if r, _ := transfer["remote"].(string); !strings.HasPrefix(r, "127.0.0.1:") {
		t.Errorf("transfer log line without the remote address: %v", transfer)
	}
}

func TestServeLoggingFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-format", "yaml"}, `log_format: want "text" or "json", got "yaml"`},
		{[]string{"--xferlog", filepath.Join(t.TempDir(), "missing", "xferlog")}, "xferlog_file: "},
	} {
		var stderr strings.Builder
		err := Run(t.Context(), Env{Stdin: strings.NewReader(""), Stdout: &stderr, Stderr: &stderr},
			append([]string{"serve", "--listen", "127.0.0.1:0", "--root", t.TempDir()}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %q = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
