package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/internal/config"
)

// quotaFlags are --quota-bytes and --quota-files, kept as text so that a
// command can tell "not given" from "none".
type quotaFlags struct {
	bytes, files string
}

func (q *quotaFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&q.bytes, "quota-bytes", "", `most bytes the user may store, such as "64MiB" or "10GB" ("0" or "none": no limit)`)
	cmd.Flags().StringVar(&q.files, "quota-files", "", `most files the user may store ("0" or "none": no limit)`)
}

func (q *quotaFlags) given() bool { return q.bytes != "" || q.files != "" }

// parse returns the limits, keeping current's where a flag was not given.
func (q *quotaFlags) parse(current auth.User) (bytes, files int64, err error) {
	bytes, files = current.QuotaBytes, current.QuotaFiles
	if q.bytes != "" {
		if bytes, err = parseQuota(q.bytes, true); err != nil {
			return 0, 0, fmt.Errorf("--quota-bytes: %w", err)
		}
	}
	if q.files != "" {
		if files, err = parseQuota(q.files, false); err != nil {
			return 0, 0, fmt.Errorf("--quota-files: %w", err)
		}
	}
	return bytes, files, nil
}

func parseQuota(text string, size bool) (int64, error) {
	if strings.EqualFold(strings.TrimSpace(text), "none") {
		return 0, nil
	}
	if size {
		var s config.Size
		if err := s.UnmarshalText([]byte(text)); err != nil {
			return 0, err
		}
		return int64(s), nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid number of files %q: want a whole number, or none", text)
	}
	return n, nil
}

// describeQuota says a limit for people.
func describeQuota(n int64, size bool) string {
	switch {
	case n == 0:
		return "none"
	case size:
		text, _ := config.Size(n).MarshalText()
		if string(text) == strconv.FormatInt(n, 10) {
			return string(text) + " bytes"
		}
		return fmt.Sprintf("%s (%d bytes)", text, n)
	}
	return strconv.FormatInt(n, 10) + " files"
}

func newUserQuotaCommand(env Env, where *storeFlags) *cobra.Command {
	var quota quotaFlags
	cmd := &cobra.Command{
		Use:   "quota NAME [--quota-bytes SIZE] [--quota-files N]",
		Short: "Set an account's quota (running servers apply it at once with --db, at the next login with a file)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			ctx := cmd.Context()
			if !quota.given() {
				return errors.New("give --quota-bytes, --quota-files or both")
			}
			users, err := where.open(ctx, auth.Argon2id, false)
			if err != nil {
				return err
			}
			defer users.Close()
			u, err := users.Lookup(ctx, name)
			if err != nil {
				return noSuchUser(err, name, users)
			}
			bytes, files, err := quota.parse(*u)
			if err != nil {
				return err
			}
			if err := users.SetQuota(ctx, name, bytes, files); err != nil {
				return noSuchUser(err, name, users)
			}
			fmt.Fprintf(env.Stdout, "quota of %q in %s: %s, %s\n", name, users.Name(), describeQuota(bytes, true), describeQuota(files, false))
			return nil
		},
	}
	quota.add(cmd)
	return cmd
}
