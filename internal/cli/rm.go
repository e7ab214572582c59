package cli

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/spf13/cobra"
)

func init() {
	register(newRmCommand)
	register(newMkdirCommand)
	register(newRmdirCommand)
	register(newMvCommand)
}

func newRmCommand(env Env) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "rm URL...",
		Short: "Delete remote files",
		Long: `Delete the files the URLs name (DELE). URLs after the first may be paths on
the first URL's server, relative to its login directory. Every file is tried;
the command fails if any could not be deleted.`,
		Example: `  ferry rm ftp://alice@example.com/old.log ftp://alice@example.com/tmp/x`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return o.withClient(ctx, env, args[0], func(c remoteClient, first *remoteURL, rt *retrier) error {
				var failed []error
				for _, arg := range args {
					r, err := sameServer(first, arg)
					if err == nil {
						err = rt.do(ctx, "rm "+r.String(), func(int) error { return c.Remove(ctx, r.resolve()) })
					}
					if err != nil {
						name := arg
						if r != nil {
							name = r.String() // without a password
						}
						fmt.Fprintf(env.Stderr, "ferry: rm %s: %v\n", name, err)
						failed = append(failed, err)
					}
				}
				if len(failed) > 0 {
					return fmt.Errorf("rm: %d of %d not deleted", len(failed), len(args))
				}
				return nil
			})
		},
	}
	o.register(cmd)
	return cmd
}

// sameServer parses arg as a URL on first's server, or as a path there.
func sameServer(first *remoteURL, arg string) (*remoteURL, error) {
	if !isRemote(arg) {
		c := *first
		c.Path = strings.TrimPrefix(arg, "/")
		if strings.HasPrefix(arg, "/") {
			c.Path = arg // absolute on the server
		}
		return &c, nil
	}
	r, err := parseRemoteURL(arg)
	if err != nil {
		return nil, err
	}
	if r.Scheme != first.Scheme || r.Addr() != first.Addr() || (r.User != "" && r.User != first.User) {
		return nil, fmt.Errorf("%s is not on the server of %s", r, first)
	}
	return r, nil
}

func newMkdirCommand(env Env) *cobra.Command {
	var o clientOptions
	var parents bool
	cmd := &cobra.Command{
		Use:   "mkdir [-p] URL",
		Short: "Create a remote directory",
		Long: `Create the directory URL names (MKD). With -p, create missing parents too and
do not fail when the directory exists.`,
		Example: `  ferry mkdir -p ftp://alice@example.com/backups/2024/06`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return o.withClient(ctx, env, args[0], func(c remoteClient, r *remoteURL, rt *retrier) error {
				p := strings.TrimRight(r.resolve(), "/")
				if p == "" || p == "." {
					return fmt.Errorf("mkdir: %s names no directory to create", r)
				}
				if !parents {
					err := rt.do(ctx, "mkdir "+r.String(), func(int) error { return c.Mkdir(ctx, p) })
					if err != nil {
						return fmt.Errorf("mkdir %s: %w", r, err)
					}
					return nil
				}
				for _, dir := range pathPrefixes(p) {
					err := rt.do(ctx, "mkdir "+dir, func(int) error { return mkdirExisting(ctx, c, dir) })
					if err != nil {
						return fmt.Errorf("mkdir %s: %w", dir, err)
					}
				}
				return nil
			})
		},
	}
	o.register(cmd)
	cmd.Flags().BoolVarP(&parents, "parents", "p", false, "create missing parent directories; an existing directory is no error")
	return cmd
}

// pathPrefixes returns "a", "a/b", "a/b/c" for "a/b/c" (and "/a", "/a/b"
// for "/a/b").
func pathPrefixes(p string) []string {
	var out []string
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if pre := p[:i]; pre != "/" && !strings.HasSuffix(pre, "/") {
				out = append(out, path.Clean(pre))
			}
		}
	}
	return out
}

// mkdirExisting creates dir unless it is already a directory.
func mkdirExisting(ctx context.Context, c remoteClient, dir string) error {
	err := c.Mkdir(ctx, dir)
	if err == nil {
		return nil
	}
	if e, serr := c.Stat(ctx, dir); serr == nil && e.IsDir() {
		return nil
	}
	return err
}

func newRmdirCommand(env Env) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "rmdir URL",
		Short: "Delete an empty remote directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return o.withClient(ctx, env, args[0], func(c remoteClient, r *remoteURL, rt *retrier) error {
				err := rt.do(ctx, "rmdir "+r.String(), func(int) error { return c.RemoveDir(ctx, r.resolve()) })
				if err != nil {
					return fmt.Errorf("rmdir %s: %w", r, err)
				}
				return nil
			})
		},
	}
	o.register(cmd)
	return cmd
}

func newMvCommand(env Env) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "mv URL NEWPATH",
		Short: "Rename or move a remote file or directory",
		Long: `Rename what URL names on its server (RNFR, RNTO). NEWPATH is relative to the
directory of URL, or absolute when it starts with "/". A NEWPATH naming an
existing directory (or ending in "/") receives the file under its name.`,
		Example: `  ferry mv ftp://alice@example.com/inbox/a.txt b.txt        # inbox/b.txt
  ferry mv ftp://alice@example.com/inbox/a.txt ../done/     # done/a.txt
  ferry mv ftp://alice@example.com/inbox/a.txt /srv/a.txt`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return o.withClient(ctx, env, args[0], func(c remoteClient, r *remoteURL, rt *retrier) error {
				from := r.resolve()
				to, err := renameTarget(ctx, c, from, args[1])
				if err != nil {
					return err
				}
				err = rt.do(ctx, "mv "+r.String(), func(int) error { return c.Rename(ctx, from, to) })
				if err != nil {
					return fmt.Errorf("mv %s: %w", r, err)
				}
				return nil
			})
		},
	}
	o.register(cmd)
	return cmd
}

// renameTarget resolves NEWPATH for a rename of from.
func renameTarget(ctx context.Context, c remoteClient, from, newPath string) (string, error) {
	if isRemote(newPath) {
		return "", fmt.Errorf("mv: NEWPATH is a path on the same server, not a URL (ferry cp copies between servers)")
	}
	if newPath == "" {
		return "", fmt.Errorf("mv: empty NEWPATH")
	}
	name := path.Base(strings.TrimRight(from, "/"))
	intoDir := strings.HasSuffix(newPath, "/")
	to := newPath
	if !strings.HasPrefix(newPath, "/") {
		to = path.Join(path.Dir(strings.TrimRight(from, "/")), newPath)
	} else {
		to = path.Clean(newPath)
	}
	if !intoDir {
		if e, err := c.Stat(ctx, to); err == nil && e.IsDir() {
			intoDir = true
		}
	}
	if intoDir {
		to = path.Join(to, name)
	}
	return to, nil
}
