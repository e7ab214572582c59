package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ferry-ftp/ferry/internal/xferlog"
)

// Log formats of log_format.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

func (c *Config) validateLogging(bad func(key, format string, args ...any)) {
	if c.LogFormat != LogFormatText && c.LogFormat != LogFormatJSON {
		bad("log_format", "want %q or %q, got %q", LogFormatText, LogFormatJSON, c.LogFormat)
	}
	if c.XferlogFile != "" {
		if info, err := os.Stat(c.XferlogFile); err == nil && !info.Mode().IsRegular() {
			bad("xferlog_file", "%s is not a regular file", c.XferlogFile)
		} else if err := checkDir(filepath.Dir(c.XferlogFile)); err != nil {
			bad("xferlog_file", "%v", err)
		}
	}
}

// NewLogHandler returns the slog handler log_format names, writing to w.
func NewLogHandler(format string, w io.Writer, opts *slog.HandlerOptions) (slog.Handler, error) {
	switch format {
	case LogFormatText, "":
		return slog.NewTextHandler(w, opts), nil
	case LogFormatJSON:
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("log_format: want %q or %q, got %q", LogFormatText, LogFormatJSON, format)
}

// OpenXferlog opens xferlog_file, or returns nil when it is not set. The
// caller adds it to the server's observers, calls its Reopen on SIGHUP
// and its Close once the server has stopped.
func (c *Config) OpenXferlog(logger *slog.Logger) (*xferlog.Writer, error) {
	if c.XferlogFile == "" {
		return nil, nil
	}
	w, err := xferlog.Open(c.XferlogFile, xferlog.Options{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("xferlog_file: %w", err)
	}
	return w, nil
}

// ReloadUsers reads the users file again at once (SIGHUP), rather than
// at the next login that finds it changed, and returns its path; "" when
// the accounts come from no users file (users_db is read at each login).
// If the file does not load, the accounts loaded before stay in use and
// the error says why.
func (in *Instance) ReloadUsers() (string, error) {
	store, ok := in.users.(*fileStore)
	if !ok {
		return "", nil
	}
	if err := store.users.Reload(); err != nil {
		return store.users.Path(), err
	}
	return store.users.Path(), nil
}
