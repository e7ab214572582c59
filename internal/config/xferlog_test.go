package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
)

func TestLoggingKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.toml")
	writeFile(t, path, "root = \".\"\nxferlog_file = \"logs/xferlog\"\nlog_format = \"json\"\n")
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "logs", "xferlog"); c.XferlogFile != want {
		t.Errorf("xferlog_file = %q, want %q (relative to the file's directory)", c.XferlogFile, want)
	}
	if c.LogFormat != LogFormatJSON {
		t.Errorf("log_format = %q", c.LogFormat)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	w, err := c.OpenXferlog(quiet)
	if err != nil || w == nil {
		t.Fatalf("OpenXferlog = %v, %v", w, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.XferlogFile); err != nil {
		t.Errorf("the xferlog was not created: %v", err)
	}

	if d := Default(); d.LogFormat != LogFormatText || d.XferlogFile != "" {
		t.Errorf("defaults: log_format %q, xferlog_file %q", d.LogFormat, d.XferlogFile)
	}
	if w, err := Default().OpenXferlog(quiet); w != nil || err != nil {
		t.Errorf("OpenXferlog without xferlog_file = %v, %v; want nil, nil", w, err)
	}
}

func TestLoggingKeysInvalid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.LogFormat = "JSON" }, `log_format: want "text" or "json", got "JSON"`},
		{func(c *Config) { c.LogFormat = "" }, `log_format: want "text" or "json", got ""`},
		{func(c *Config) { c.XferlogFile = filepath.Join(dir, "missing", "xferlog") }, "xferlog_file: " + filepath.Join(dir, "missing") + " does not exist"},
		{func(c *Config) { c.XferlogFile = dir }, "xferlog_file: " + dir + " is not a regular file"},
	} {
		c := Default()
		c.Root = dir
		tc.change(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want %q", err, tc.want)
		}
	}
}

// The handler log_format names writes lines that parse as its format.
func TestNewLogHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h, err := NewLogHandler("json", &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	slog.New(h).With("session", "1a", "remote", "127.0.0.1:5").Info("hello")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("json handler wrote %q: %v", buf.String(), err)
	}
	if line["msg"] != "hello" || line["session"] != "1a" || line["remote"] != "127.0.0.1:5" {
		t.Errorf("json line %v", line)
	}
	buf.Reset()
	h, _ = NewLogHandler("text", &buf, nil)
	slog.New(h).Info("hello", "k", "v")
	if !strings.Contains(buf.String(), "msg=hello k=v") {
		t.Errorf("text handler wrote %q", buf.String())
	}
	if _, err := NewLogHandler("xml", &buf, nil); err == nil || !strings.Contains(err.Error(), `got "xml"`) {
		t.Errorf("NewLogHandler(xml) = %v", err)
	}
}

// ReloadUsers reads the file even when the check before each login sees
// nothing changed (edited in place, its size and time kept), and a broken
// file keeps the accounts loaded before.
func TestReloadUsers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o755)
	usersPath := filepath.Join(dir, "users.toml")
	usersFile := func(path, password string) []byte {
		f, err := auth.LoadOrCreateUsers(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Add("joe", password, home, false); err != nil {
			t.Fatal(err)
		}
		if err := f.Save(); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		return data
	}
	old := usersFile(usersPath, "password-one")
	c := Default()
	c.Root, c.UsersFile = dir, usersPath
	inst := buildInstance(t, c)
	if _, err := login(inst.Server, "joe", "password-one"); err != nil {
		t.Fatal(err)
	}

	edited := usersFile(filepath.Join(dir, "other.toml"), "password-two")
	if len(edited) != len(old) {
		t.Fatalf("the edited file has another size (%d, %d)", len(edited), len(old))
	}
	info, _ := os.Stat(usersPath)
	f, err := os.OpenFile(usersPath, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(edited, 0)
	f.Close()
	os.Chtimes(usersPath, info.ModTime(), info.ModTime())
	if _, err := login(inst.Server, "joe", "password-two"); !errors.Is(err, ftpserver.ErrAuthFailed) {
		t.Fatalf("before ReloadUsers the new password is already in use (%v): the test shows nothing", err)
	}
	if path, err := inst.ReloadUsers(); err != nil || path != usersPath {
		t.Fatalf("ReloadUsers = %q, %v", path, err)
	}
	if _, err := login(inst.Server, "joe", "password-two"); err != nil {
		t.Fatalf("after ReloadUsers: %v", err)
	}

	writeFile(t, usersPath, "[[user]]\nname = \n")
	if _, err := inst.ReloadUsers(); err == nil || !strings.Contains(err.Error(), usersPath) {
		t.Fatalf("ReloadUsers of a broken file = %v", err)
	}
	if _, err := login(inst.Server, "joe", "password-two"); err != nil {
		t.Fatalf("a broken file dropped the accounts loaded before: %v", err)
	}

	anonOnly := Default()
	anonOnly.Root = dir
	noUsers := buildInstance(t, anonOnly)
	if path, err := noUsers.ReloadUsers(); path != "" || err != nil {
		t.Errorf("ReloadUsers without a users file = %q, %v", path, err)
	}
}
