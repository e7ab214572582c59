package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/ftpclient"
)

func init() { register(newPutCommand) }

type putOptions struct {
	clientOptions
	resume    bool
	limitRate string
	noVerify  bool
}

func newPutCommand(env Env) *cobra.Command {
	var o putOptions
	cmd := &cobra.Command{
		Use:   "put [-c] [--limit-rate RATE] [--compress] LOCAL URL",
		Short: "Upload a file",
		Long: `Upload the local file LOCAL to URL. A URL naming a directory (an existing one,
or a path ending in "/") receives the file under LOCAL's base name.

-c continues an interrupted upload from the size the remote file has (REST and
STOR, or APPE when the server does not restart uploads). Broken transfers are
resumed the same way automatically on temporary errors. The remote file gets
the local modification time when the server offers MFMT (an SFTP server
always can), and is checked against the server's digest when it offers one
(HASH, XSHA256, ...).

sftp:// URLs name files on an SSH server: the path is absolute
(sftp://host/~/x is x in the login directory), the host key is checked
against ~/.ssh/known_hosts as ssh does (--known-hosts, --accept-new-host-key),
and the login uses the URL's or --user's password, -i keys, OpenSSH's
default keys or ssh-agent.`,
		Example: `  ferry put backup.tar ftp://alice@example.com/backups/
  ferry put -c --limit-rate 2M big.iso ftpes://alice@example.com/big.iso
  ferry put -i ~/.ssh/deploy_ed25519 site.tar sftp://deploy@example.com/srv/upload/`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPut(cmd.Context(), env, &o, args[0], args[1])
		},
	}
	fl := cmd.Flags()
	o.register(cmd)
	fl.BoolVarP(&o.resume, "continue", "c", false, "continue an interrupted upload from the remote file's size")
	fl.StringVar(&o.limitRate, "limit-rate", "", "limit the transfer rate to RATE bytes/s (500K, 8M, ...)")
	fl.BoolVar(&o.noVerify, "no-verify", false, "do not check the upload against the server's digest")
	o.remote.registerCompress(fl)
	return cmd
}

func runPut(ctx context.Context, env Env, o *putOptions, local, raw string) error {
	r, err := parseRemoteURL(raw)
	if err != nil {
		return err
	}
	rateBytes, err := parseRate(o.limitRate)
	if err != nil {
		return err
	}
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (ferry mirror -R uploads trees)", local)
	}
	pg, rt := o.transferProgress(env)
	c, err := connect(ctx, env, &o.remote, rt, r, 1)
	if err != nil {
		return err
	}
	defer c.Close()

	target := remoteTarget(ctx, c, r, filepath.Base(local))
	u := &upload{
		c:          c,
		remotePath: target.resolve(),
		display:    target.String(),
		limit:      newRateLimit(rateBytes),
		rt:         rt,
		bar:        pg.bar(filepath.Base(local), fi.Size()),
	}
	err = u.run(ctx, f, fi.Size(), o.resume)
	if err != nil {
		u.bar.abort()
		pg.wait()
		return fmt.Errorf("put %s: %w", u.display, err)
	}
	u.bar.done()
	pg.wait()

	if hasFeature(c, "MFMT") {
		if err := c.SetModTime(ctx, u.remotePath, fi.ModTime()); err != nil {
			fmt.Fprintf(env.Stderr, "ferry: warning: setting the modification time of %s: %v\n", u.display, err)
		}
	}
	if !o.noVerify {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		algo, err := verifyRemote(ctx, c, u.remotePath, f)
		if err := reportVerify(env, pg, u.display, algo, err); err != nil {
			return fmt.Errorf("put %s: %w", u.display, err)
		}
	}
	return nil
}

// upload is one file being sent.
type upload struct {
	c          remoteClient
	remotePath string
	display    string
	limit      *rateLimit
	rt         *retrier
	bar        *progressBar
}

// run sends src (size bytes, seekable) to the server, from the remote
// file's size when resume is set, and resumes broken transfers.
func (u *upload) run(ctx context.Context, src io.ReadSeeker, size int64, resume bool) error {
	// What the remote file had before: after a failure, a remote size
	// equal to it says nothing about how much of ours arrived.
	before, err := u.remoteSize(ctx)
	if err != nil {
		return err
	}
	var offset int64
	if resume && before > 0 {
		if before > size {
			return permanent(fmt.Errorf("the remote file has %d bytes, more than the local %d: not resuming", before, size))
		}
		offset = before
		if offset == size {
			u.bar.setCurrent(offset)
			return nil // already complete
		}
	}
	reached := offset // how far we have sent, at most
	return u.rt.do(ctx, "put "+u.display, func(attempt int) error {
		if attempt > 1 {
			n, err := u.remoteSize(ctx)
			if err != nil {
				return err
			}
			offset = 0
			if n > 0 && n <= reached && (n != before || resume) {
				offset = n
			}
		}
		if _, err := src.Seek(offset, io.SeekStart); err != nil {
			return permanent(err)
		}
		u.bar.setCurrent(offset)
		r := u.limit.reader(ctx, u.bar.reader(&localReader{src}))
		n, err := u.store(ctx, r, offset, src)
		reached = max(reached, offset+n)
		return err
	})
}

// remoteSize is the size of the remote file, -1 when there is none.
func (u *upload) remoteSize(ctx context.Context) (int64, error) {
	var n int64
	err := u.rt.do(ctx, "size "+u.display, func(int) error {
		var err error
		n, err = u.c.Size(ctx, u.remotePath)
		if isNotFound(err) {
			n, err = -1, nil
		}
		return err
	})
	return n, err
}

// store sends r from offset: STOR, REST+STOR, or APPE when the server
// cannot restart an upload at an offset.
func (u *upload) store(ctx context.Context, r io.Reader, offset int64, src io.Seeker) (int64, error) {
	n, err := u.c.Store(ctx, u.remotePath, r, offset)
	if offset > 0 && n == 0 && errors.Is(err, ftpclient.ErrUnsupported) {
		if _, err := src.Seek(offset, io.SeekStart); err != nil {
			return 0, permanent(err)
		}
		return u.c.Append(ctx, u.remotePath, r)
	}
	return n, err
}

// localReader marks the errors of reading the local file as local.
type localReader struct{ r io.Reader }

func (l *localReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = permanent(err)
	}
	return n, err
}
