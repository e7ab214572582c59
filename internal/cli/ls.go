package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

func init() { register(newLsCommand) }

type lsOptions struct {
	clientOptions
	long bool
	json bool
}

func newLsCommand(env Env) *cobra.Command {
	var o lsOptions
	cmd := &cobra.Command{
		Use:   "ls [-l] [--json] URL",
		Short: "List a remote directory",
		Long: `List the directory URL names (or describe the one file it names): names only,
one a line; with -l in the long format of ls -l (permissions, size, time,
name); with --json as a JSON array of objects with name, type, size, modify
(RFC 3339, UTC), perm (the RFC 3659 perm fact) and mode (octal permission
bits), each present when the server told it.`,
		Example: `  ferry ls ftp://ftp.example.com/pub/
  ferry ls -l ftpes://alice@example.com/
  ferry ls --json ftp://127.0.0.1:2121/ | jq '.[].name'
  ferry ls -l sftp://alice@example.com/~/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), env, &o, args[0])
		},
	}
	o.register(cmd)
	cmd.Flags().BoolVarP(&o.long, "long", "l", false, "long format: permissions, size, modification time, name")
	cmd.Flags().BoolVar(&o.json, "json", false, "print a JSON array of entries")
	cmd.MarkFlagsMutuallyExclusive("long", "json")
	return cmd
}

func runLs(ctx context.Context, env Env, o *lsOptions, raw string) error {
	return o.withClient(ctx, env, raw, func(c remoteClient, r *remoteURL, rt *retrier) error {
		var entries []ftp.Entry
		err := rt.do(ctx, "ls "+r.String(), func(int) error {
			var err error
			entries, err = listOrStat(ctx, c, r)
			return err
		})
		var listErr *ftpclient.ListError
		if errors.As(err, &listErr) {
			fmt.Fprintf(env.Stderr, "ferry: warning: %v\n", listErr)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("ls %s: %w", r, err)
		}
		slices.SortFunc(entries, func(a, b ftp.Entry) int { return strings.Compare(a.Name, b.Name) })
		switch {
		case o.json:
			return writeJSONListing(env.Stdout, entries)
		case o.long:
			return writeLongListing(env.Stdout, entries, time.Now())
		}
		for _, e := range entries {
			fmt.Fprintln(env.Stdout, e.Name)
		}
		return nil
	})
}

// listOrStat lists the directory r names, or returns the one entry of the
// file it names, as ls does.
func listOrStat(ctx context.Context, c remoteClient, r *remoteURL) ([]ftp.Entry, error) {
	p := r.resolve()
	if r.Path != "" && !strings.HasSuffix(r.Path, "/") {
		e, err := c.Stat(ctx, p)
		if err != nil {
			return nil, err
		}
		if !e.IsDir() {
			return []ftp.Entry{e}, nil
		}
	}
	entries, err := c.List(ctx, p)
	return entries, err
}

// jsonEntry is one element of ls --json.
type jsonEntry struct {
	Name   string `json:"name"`
	Type   string `json:"type,omitempty"`
	Size   int64  `json:"size"`
	Modify string `json:"modify,omitempty"`
	Perm   string `json:"perm,omitempty"`
	Mode   string `json:"mode,omitempty"`
	Target string `json:"target,omitempty"`
}

func writeJSONListing(w io.Writer, entries []ftp.Entry) error {
	out := make([]jsonEntry, 0, len(entries))
	for _, e := range entries {
		j := jsonEntry{Name: e.Name, Type: e.Type, Size: e.Size, Perm: e.Perm, Target: e.Target}
		if !e.ModTime.IsZero() {
			j.Modify = e.ModTime.UTC().Format(time.RFC3339)
		}
		if e.HasMode {
			j.Mode = fmt.Sprintf("%04o", unixMode(e.Mode))
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// unixMode is the Unix st_mode permission bits of m (with setuid, setgid,
// sticky), without the type.
func unixMode(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// writeLongListing prints entries like ls -l: mode, size, time (with the
// year instead of the clock for times more than six months away), name.
func writeLongListing(w io.Writer, entries []ftp.Entry, now time.Time) error {
	width := 1
	for _, e := range entries {
		width = max(width, len(fmt.Sprint(e.Size)))
	}
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		name := e.Name
		if e.Target != "" {
			name += " -> " + e.Target
		}
		fmt.Fprintf(bw, "%s %*d %s %s\n", modeString(e), width, e.Size, lsTime(e.ModTime, now), name)
	}
	return bw.Flush()
}

// modeString is the "drwxr-xr-x" column: the mode when the server gave
// one, else the type and what the perm fact allows.
func modeString(e ftp.Entry) string {
	t := byte('-')
	switch {
	case e.IsDir():
		t = 'd'
	case e.Type == "OS.unix=symlink" || e.Mode&fs.ModeSymlink != 0:
		t = 'l'
	}
	if e.HasMode {
		s := []byte(e.Mode.Perm().String()) // "-rwxr-xr-x"
		s[0] = t
		if e.Mode&fs.ModeSetuid != 0 {
			s[3] = setBit(s[3], 's')
		}
		if e.Mode&fs.ModeSetgid != 0 {
			s[6] = setBit(s[6], 's')
		}
		if e.Mode&fs.ModeSticky != 0 {
			s[9] = setBit(s[9], 't')
		}
		return string(s)
	}
	if e.Perm == "" {
		return string(t) + "?????????"
	}
	// The perm fact speaks for the logged-in user only: show it as the
	// owner's bits.
	r, wr, x := byte('-'), byte('-'), byte('-')
	if strings.ContainsAny(e.Perm, "rl") {
		r = 'r'
	}
	if strings.ContainsAny(e.Perm, "wacmp") {
		wr = 'w'
	}
	if e.IsDir() && strings.ContainsRune(e.Perm, 'e') {
		x = 'x'
	}
	return string([]byte{t, r, wr, x}) + "------"
}

func setBit(c, on byte) byte {
	if c == 'x' {
		return on
	}
	return on - 'a' + 'A' // "S", "T": set without execute
}

// lsTime formats t as ls -l does.
func lsTime(t, now time.Time) string {
	if t.IsZero() {
		return "            "
	}
	t = t.Local()
	if d := now.Sub(t); d > 182*24*time.Hour || d < -182*24*time.Hour {
		return t.Format("Jan _2  2006")
	}
	return t.Format("Jan _2 15:04")
}
