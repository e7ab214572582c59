package cli

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
)

func init() { register(newAdminCommand) }

func newAdminCommand(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Set up the admin HTTP server (metrics, API, dashboard)",
	}
	cmd.AddCommand(newAdminTokenCommand(env))
	return cmd
}

func newAdminTokenCommand(env Env) *cobra.Command {
	var (
		file  string
		force bool
		show  bool
	)
	cmd := &cobra.Command{
		Use:   "token --file FILE",
		Short: "Make a random API token in a file readable by its owner only",
		Long: `Make a random API token (32 random bytes, base64url) and write it to
FILE with mode 0600, for [admin] token_file in the server configuration.
API clients send it as "Authorization: Bearer TOKEN"; "ferry status"
reads it with --token-file. An existing file is kept unless --force.
The token is printed only with --print.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var raw [32]byte
			rand.Read(raw[:]) // never fails (crypto/rand)
			token := base64.RawURLEncoding.EncodeToString(raw[:])
			if err := writeTokenFile(file, token+"\n", force); err != nil {
				return err
			}
			fmt.Fprintf(env.Stderr, "wrote a new admin token to %s (mode 0600)\n", file)
			if show {
				fmt.Fprintln(env.Stdout, token)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "file to write the token to (required)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing file")
	cmd.Flags().BoolVar(&show, "print", false, "print the token on standard output too")
	cmd.MarkFlagRequired("file")
	return cmd
}

// writeTokenFile writes data to path, created with mode 0600. Without
// force an existing file is an error; with it the file is replaced by a
// new one, so that a file once readable by others is not reused.
func writeTokenFile(path, data string, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists; --force replaces it (clients using the old token stop working)", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
