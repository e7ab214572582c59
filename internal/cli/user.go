package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

func init() { register(newUserCommand) }

func newUserCommand(env Env) *cobra.Command {
	var where storeFlags
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the accounts of a users file or database",
		Long: `Manage the accounts of a users file (the TOML file named by users_file
in the server configuration) or, with --db, of a PostgreSQL users database
(users_db; its schema is created or migrated first). Passwords are stored
as Argon2id (default) or bcrypt hashes, never in plaintext. Running
servers notice the changes at the next login.

Passwords are asked for on the terminal, or read as one line from standard
input with --password-stdin:

  ferry user add alice --home /srv/ftp/alice --write
  printf '%s\n' "$PASS" | ferry user passwd alice --password-stdin
  ferry user list --db postgres://ferry:PASS@db.example.com/ferry`,
	}
	cmd.PersistentFlags().StringVar(&where.file, "file", "users.toml", "users file to edit")
	cmd.PersistentFlags().StringVar(&where.db, "db", "", `users database to edit instead ("postgres://..."; $FERRY_USERS_DB)`)
	cmd.AddCommand(
		newUserAddCommand(env, &where),
		newUserPasswdCommand(env, &where),
		newUserDelCommand(env, &where),
		newUserListCommand(env, &where),
		newUserShowCommand(env, &where),
		newUserQuotaCommand(env, &where),
		newUserModCommand(env, &where),
		newUserDisableCommand(env, &where, true),
		newUserDisableCommand(env, &where, false),
	)
	return cmd
}

// passwordFlags are the flags of the commands that set a password.
type passwordFlags struct {
	fromStdin bool
	algo      string
}

func (p *passwordFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&p.fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	cmd.Flags().StringVar(&p.algo, "algo", "argon2id", "password hash: argon2id or bcrypt")
}

func newUserAddCommand(env Env, where *storeFlags) *cobra.Command {
	var (
		home     string
		write    bool
		disabled bool
		pw       passwordFlags
		quota    quotaFlags
		limits   limitFlags
	)
	cmd := &cobra.Command{
		Use:   "add NAME --home DIR",
		Short: "Add an account (creating the users file if needed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			ctx := cmd.Context()
			algo, err := auth.ParseAlgorithm(pw.algo)
			if err != nil {
				return err
			}
			// Check what can be checked before asking for the password.
			if err := auth.ValidateName(name); err != nil {
				return err
			}
			// Store an absolute home: a relative one in the file would be
			// taken relative to the file, not to where this ran. An
			// s3:// home is stored in its clean form and checked by the
			// server at the user's first login.
			abs, err := userHome(home)
			if err != nil {
				return err
			}
			quotaBytes, quotaFiles, err := quota.parse(auth.User{})
			if err != nil {
				return err
			}
			user := auth.User{Name: name, Home: abs, Write: write, QuotaBytes: quotaBytes, QuotaFiles: quotaFiles, Disabled: disabled}
			if err := limits.apply(&user); err != nil {
				return err
			}
			users, err := where.open(ctx, algo, true)
			if err != nil {
				return err
			}
			defer users.Close()
			if _, err := users.Lookup(ctx, name); err == nil {
				return fmt.Errorf("user %q already exists in %s (use \"ferry user passwd\" to change the password)", name, users.Name())
			} else if !errors.Is(err, auth.ErrNoSuchUser) {
				return err
			}
			pass, err := readNewPassword(ctx, env, pw.fromStdin)
			if err != nil {
				return err
			}
			if err := users.AddUser(ctx, user, pass); err != nil {
				return err
			}
			state := access(write)
			if disabled {
				state += ", disabled"
			}
			fmt.Fprintf(env.Stdout, "added user %q (home %s, %s) to %s\n", name, abs, state, users.Name())
			if s3fs.IsURL(abs) {
				return nil
			}
			if info, err := os.Stat(abs); err != nil || !info.IsDir() {
				fmt.Fprintf(env.Stderr, "warning: %s is not a directory yet; %s cannot log in until it is\n", abs, name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "host directory, or s3://BUCKET/PREFIX, the user sees as / (required)")
	cmd.Flags().BoolVar(&write, "write", false, "allow uploads, deletes and renames")
	cmd.Flags().BoolVar(&disabled, "disabled", false, `add the account disabled: it cannot log in until "ferry user enable"`)
	cmd.MarkFlagRequired("home")
	pw.add(cmd)
	quota.add(cmd)
	limits.add(cmd, false)
	return cmd
}

func newUserPasswdCommand(env Env, where *storeFlags) *cobra.Command {
	var pw passwordFlags
	cmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Change an account's password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			ctx := cmd.Context()
			algo, err := auth.ParseAlgorithm(pw.algo)
			if err != nil {
				return err
			}
			users, err := where.open(ctx, algo, false)
			if err != nil {
				return err
			}
			defer users.Close()
			if _, err := users.Lookup(ctx, name); err != nil {
				return noSuchUser(err, name, users)
			}
			pass, err := readNewPassword(ctx, env, pw.fromStdin)
			if err != nil {
				return err
			}
			if err := users.SetPassword(ctx, name, pass); err != nil {
				return noSuchUser(err, name, users)
			}
			fmt.Fprintf(env.Stdout, "changed the password of %q in %s\n", name, users.Name())
			return nil
		},
	}
	pw.add(cmd)
	return cmd
}

func newUserDelCommand(env Env, where *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "del NAME",
		Short: "Delete an account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editUser(cmd.Context(), env, where, args[0], "deleted user %q from %s\n", userStore.Delete)
		},
	}
}

func newUserListCommand(env Env, where *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the accounts (never their password hashes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			users, err := where.open(cmd.Context(), auth.Argon2id, false)
			if err != nil {
				return err
			}
			defer users.Close()
			list, err := users.List(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(env.Stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tHOME\tWRITE\tDISABLED\tHASH")
			for _, u := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Home, yesNo(u.Write), yesNo(u.Disabled), u.Algorithm())
			}
			return w.Flush()
		},
	}
}

func newUserShowCommand(env Env, where *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show one account (never its password hash)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			users, err := where.open(cmd.Context(), auth.Argon2id, false)
			if err != nil {
				return err
			}
			defer users.Close()
			u, err := users.Lookup(cmd.Context(), name)
			if err != nil {
				return noSuchUser(err, name, users)
			}
			state := "enabled"
			if u.Disabled {
				state = "disabled (cannot log in)"
			}
			fmt.Fprintf(env.Stdout, "name:  %s\nhome:  %s\nwrite: %s\nstate: %s\nhash:  %s\n", u.Name, u.Home, yesNo(u.Write), state, u.Algorithm())
			fmt.Fprintf(env.Stdout, "quota: %s, %s\n", describeQuota(u.QuotaBytes, true), describeQuota(u.QuotaFiles, false))
			fmt.Fprint(env.Stdout, describeLimits(u))
			used, err := users.Used(cmd.Context(), name)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "used:  %s\n", used)
			return nil
		},
	}
}

// newUserDisableCommand is "ferry user disable" (disable true) or
// "ferry user enable".
func newUserDisableCommand(env Env, where *storeFlags, disable bool) *cobra.Command {
	verb, short := "enable", "Let a disabled account log in again"
	if disable {
		verb, short = "disable", "Stop an account from logging in (its files, quota and password stay)"
	}
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Long: short + `. Running servers apply it at the account's next
login; sessions already logged in go on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editUser(cmd.Context(), env, where, args[0], verb+"d user %q in %s\n", func(users userStore, ctx context.Context, name string) error {
				return users.SetDisabled(ctx, name, disable)
			})
		},
	}
}

// editUser applies change to name's account in the store where names,
// then prints done (formatted with the name and the store).
func editUser(ctx context.Context, env Env, where *storeFlags, name, done string, change func(userStore, context.Context, string) error) error {
	users, err := where.open(ctx, auth.Argon2id, false)
	if err != nil {
		return err
	}
	defer users.Close()
	if err := change(users, ctx, name); err != nil {
		return noSuchUser(err, name, users)
	}
	fmt.Fprintf(env.Stdout, done, name, users.Name())
	return nil
}

// noSuchUser says in which store name is missing.
func noSuchUser(err error, name string, users userStore) error {
	if errors.Is(err, auth.ErrNoSuchUser) {
		return fmt.Errorf("no user %q in %s", name, users.Name())
	}
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func access(write bool) string {
	if write {
		return "read-write"
	}
	return "read-only"
}

// maxPasswordLine bounds what --password-stdin reads.
const maxPasswordLine = 4096

// readNewPassword gets a new password: the first line of standard input
// with --password-stdin, else typed twice on the terminal without echo.
func readNewPassword(ctx context.Context, env Env, fromStdin bool) (string, error) {
	var pass string
	if fromStdin {
		var err error
		if pass, err = readPasswordLine(env.Stdin); err != nil {
			return "", err
		}
	} else {
		tty, ok := env.Stdin.(interface{ Fd() uintptr })
		if !ok || !term.IsTerminal(int(tty.Fd())) {
			return "", errors.New("standard input is not a terminal to ask for the password on; pipe the password in with --password-stdin")
		}
		fd := int(tty.Fd())
		first, err := promptPassword(ctx, env, fd, "New password: ")
		if err != nil {
			return "", err
		}
		second, err := promptPassword(ctx, env, fd, "Retype new password: ")
		if err != nil {
			return "", err
		}
		if first != second {
			return "", errors.New("the passwords do not match")
		}
		pass = first
	}
	if pass == "" {
		return "", errors.New("empty password")
	}
	return pass, nil
}

func readPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLine+1)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	if err == io.EOF && len(line) > maxPasswordLine {
		return "", fmt.Errorf("password on standard input longer than %d bytes", maxPasswordLine)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// promptPassword reads a line from the terminal without echo. Ctrl-C
// cancels ctx (the signal is caught for graceful shutdown) but cannot
// interrupt the read, so give up waiting then and turn echo back on.
func promptPassword(ctx context.Context, env Env, fd int, prompt string) (string, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return "", err
	}
	fmt.Fprint(env.Stderr, prompt)
	type result struct {
		pass []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		pass, err := term.ReadPassword(fd)
		done <- result{pass, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(env.Stderr)
		return string(r.pass), r.err
	case <-ctx.Done():
		term.Restore(fd, state)
		fmt.Fprintln(env.Stderr)
		return "", fmt.Errorf("interrupted: %w", ctx.Err())
	}
}

// userHome returns the home to store: an absolute host directory, or a
// clean s3:// URL.
func userHome(home string) (string, error) {
	if !s3fs.IsURL(home) {
		return filepath.Abs(home)
	}
	bucket, prefix, err := s3fs.ParseURL(home)
	if err != nil {
		return "", fmt.Errorf("--home: %w", err)
	}
	return "s3://" + bucket + "/" + prefix, nil
}
