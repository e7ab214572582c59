package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
)

// limitFlags are the per-user limits and rules of "ferry user add" and
// "ferry user mod": rates, sessions, path permissions and allowed
// addresses. Only flags given change anything.
type limitFlags struct {
	downloadRate, uploadRate string
	maxSessions              string
	perms, allowFrom         []string
	clearPerms, clearAllow   bool
	authorizedKeys           []string // files
	clearKeys                bool
}

func (l *limitFlags) add(cmd *cobra.Command, editing bool) {
	fl := cmd.Flags()
	fl.StringVar(&l.downloadRate, "download-rate", "", `most bytes per second the user downloads, all sessions together, such as "10MiB" ("0" or "none": no limit)`)
	fl.StringVar(&l.uploadRate, "upload-rate", "", `most bytes per second the user uploads, all sessions together ("0" or "none": no limit)`)
	fl.StringVar(&l.maxSessions, "max-sessions", "", `most sessions the user may have at once ("0" or "none": no limit)`)
	fl.StringArrayVar(&l.perms, "perm", nil, `PATH=LIST: what the user may do under PATH, LIST from list, download, upload, overwrite, delete, rename, mkdir, rmdir, chmod (or all, none); repeatable; the longest matching PATH wins, --write or not decides elsewhere`)
	fl.StringArrayVar(&l.allowFrom, "allow-from", nil, "address or CIDR prefix the user may log in from; repeatable (default: anywhere)")
	if editing {
		fl.BoolVar(&l.clearPerms, "clear-perms", false, "remove the user's --perm rules (before adding those given)")
		fl.BoolVar(&l.clearAllow, "clear-allow-from", false, "remove the user's --allow-from entries (before adding those given)")
		fl.BoolVar(&l.clearKeys, "clear-authorized-keys", false, "remove the user's SFTP public keys (before adding those given)")
	}
	fl.StringArrayVar(&l.authorizedKeys, "authorized-key", nil, "OpenSSH public key file (.pub or authorized_keys) whose keys log the user in over SFTP; repeatable")
}

// apply changes u as the flags say.
func (l *limitFlags) apply(u *auth.User) error {
	var err error
	if l.downloadRate != "" {
		if u.DownloadRate, err = parseQuota(l.downloadRate, true); err != nil {
			return fmt.Errorf("--download-rate: %w", err)
		}
	}
	if l.uploadRate != "" {
		if u.UploadRate, err = parseQuota(l.uploadRate, true); err != nil {
			return fmt.Errorf("--upload-rate: %w", err)
		}
	}
	if l.maxSessions != "" {
		n, err := parseQuota(l.maxSessions, false)
		if err != nil || n > 1<<20 {
			return fmt.Errorf("--max-sessions: want a whole number, or none")
		}
		u.MaxSessions = int(n)
	}
	if l.clearPerms {
		u.Perms = nil
	}
	for _, s := range l.perms {
		pp, err := ftpserver.ParsePathPerm(s)
		if err != nil {
			return fmt.Errorf("--perm %q: %w", s, err)
		}
		// A rule for a path already ruled replaces it.
		u.Perms = removeRule(u.Perms, pp.Path)
		u.Perms = append(u.Perms, pp.String())
	}
	if l.clearAllow {
		u.AllowFrom = nil
	}
	for _, s := range l.allowFrom {
		p, err := auth.ParseAllowFrom(s)
		if err != nil {
			return fmt.Errorf("--allow-from: %w", err)
		}
		u.AllowFrom = append(u.AllowFrom, p.String())
	}
	if l.clearKeys {
		u.AuthorizedKeys = nil
	}
	return addAuthorizedKeys(u, l.authorizedKeys)
}

func removeRule(rules []string, path string) []string {
	var kept []string
	for _, r := range rules {
		if p, _, _ := strings.Cut(r, "="); strings.TrimSpace(p) != path {
			kept = append(kept, r)
		}
	}
	return kept
}

// describeLimits says u's limits and rules for people, one line each.
func describeLimits(u *auth.User) string {
	rate := func(n int64) string {
		if n == 0 {
			return "none"
		}
		return describeQuota(n, true) + "/s"
	}
	sessions := "none"
	if u.MaxSessions > 0 {
		sessions = strconv.Itoa(u.MaxSessions)
	}
	lines := []string{
		"rates: download " + rate(u.DownloadRate) + ", upload " + rate(u.UploadRate),
		"max sessions: " + sessions,
	}
	if len(u.Perms) > 0 {
		lines = append(lines, "perms: "+strings.Join(u.Perms, " "))
	}
	if len(u.AllowFrom) > 0 {
		lines = append(lines, "allow from: "+strings.Join(u.AllowFrom, " "))
	}
	if n := len(u.AuthorizedKeys); n > 0 {
		lines = append(lines, fmt.Sprintf("authorized keys: %d", n))
	}
	return strings.Join(lines, "\n") + "\n"
}

func newUserModCommand(env Env, where *storeFlags) *cobra.Command {
	var (
		home     string
		write    bool
		disabled bool
		quota    quotaFlags
		limits   limitFlags
	)
	cmd := &cobra.Command{
		Use:   "mod NAME [flags]",
		Short: "Change an account's home, access, quotas, limits or rules",
		Long: `Change what the flags given say and nothing else; the password stays
(see "ferry user passwd"). Running servers apply the change at the
account's next login; sessions already logged in keep what they had.

  ferry user mod alice --download-rate 5MiB --max-sessions 4
  ferry user mod alice --perm /=list,download --perm /incoming=list,upload
  ferry user mod alice --clear-perms --allow-from 203.0.113.0/24`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			ctx := cmd.Context()
			fl := cmd.Flags()
			if fl.NFlag() == 0 || fl.NFlag() == countChanged(fl.Changed, "file", "db") {
				return errors.New("nothing to change: give at least one flag (see --help)")
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
			if fl.Changed("home") {
				if u.Home, err = userHome(home); err != nil {
					return err
				}
			}
			if fl.Changed("write") {
				u.Write = write
			}
			if fl.Changed("disabled") {
				u.Disabled = disabled
			}
			if u.QuotaBytes, u.QuotaFiles, err = quota.parse(*u); err != nil {
				return err
			}
			if err := limits.apply(u); err != nil {
				return err
			}
			if err := users.UpdateUser(ctx, *u); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "changed user %q in %s\n", name, users.Name())
			return nil
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "host directory, or s3://BUCKET/PREFIX, the user sees as /")
	cmd.Flags().BoolVar(&write, "write", false, "allow uploads, deletes and renames where no --perm rule says otherwise (--write=false: read only)")
	cmd.Flags().BoolVar(&disabled, "disabled", false, "disable (--disabled) or enable (--disabled=false) the account")
	quota.add(cmd)
	limits.add(cmd, true)
	return cmd
}

func countChanged(changed func(string) bool, names ...string) int {
	n := 0
	for _, name := range names {
		if changed(name) {
			n++
		}
	}
	return n
}
