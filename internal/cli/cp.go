package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

func init() { register(newCpCommand) }

type cpOptions struct {
	clientOptions
	noFXP     bool
	limitRate string
	noVerify  bool
}

func newCpCommand(env Env) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp SRC-URL DST-URL",
		Short: "Copy a file from one server (FTP or SFTP) to another",
		Long: `Copy the file SRC-URL names to DST-URL (a directory there receives it under its
base name). The servers are asked to send the file to each other directly
(FXP: PASV on the destination, PORT on the source; with ftps:// on both, one
server takes the TLS client role of the data connection through CPSV or SSCN).
When either refuses, as servers do by default for the sake of RFC 2577, or
only one URL uses TLS, the file streams through this client instead, resuming
on temporary errors; so it does when either URL is sftp://.

The copy gets the source's modification time when the destination offers
MFMT, and is checked when both servers offer the same digest (HASH, XSHA256).`,
		Example: `  ferry cp ftp://a.example.com/pub/file.iso ftp://alice@b.example.com/mirror/
  ferry cp sftp://alice@a.example.com/srv/data.csv ftp://alice@b.example.com/in/`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCp(cmd.Context(), env, &o, args[0], args[1])
		},
	}
	fl := cmd.Flags()
	o.register(cmd)
	fl.BoolVar(&o.noFXP, "no-fxp", false, "always stream through this client, never server to server")
	fl.StringVar(&o.limitRate, "limit-rate", "", "limit the rate of a streamed copy to RATE bytes/s (500K, 8M, ...)")
	fl.BoolVar(&o.noVerify, "no-verify", false, "do not compare the servers' digests of the two files")
	return cmd
}

func runCp(ctx context.Context, env Env, o *cpOptions, srcRaw, dstRaw string) error {
	if !isRemote(srcRaw) || !isRemote(dstRaw) {
		return fmt.Errorf("cp copies between servers: both arguments are URLs (ferry get and ferry put copy to and from local files)")
	}
	src, err := parseRemoteURL(srcRaw)
	if err != nil {
		return err
	}
	dst, err := parseRemoteURL(dstRaw)
	if err != nil {
		return err
	}
	base, err := remoteBase(src)
	if err != nil {
		return err
	}
	rateBytes, err := parseRate(o.limitRate)
	if err != nil {
		return err
	}
	o.remote.withFTP = src.Scheme != "sftp" || dst.Scheme != "sftp"
	pg, rt := o.transferProgress(env)
	sc, err := connect(ctx, env, &o.remote, rt, src, 1)
	if err != nil {
		return err
	}
	defer sc.Close()
	dc, err := connect(ctx, env, &o.remote, rt, dst, 1)
	if err != nil {
		return err
	}
	defer dc.Close()

	var st ftp.Entry
	err = rt.do(ctx, "stat "+src.String(), func(int) error {
		st, err = sc.Stat(ctx, src.resolve())
		return err
	})
	if err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("cp: %s is a directory", src)
	}
	target := remoteTarget(ctx, dc, dst, base)
	srcPath, dstPath := src.resolve(), target.resolve()
	bar := pg.bar(base, st.Size)

	streamed := true
	// Server to server only between FTP servers: SFTP has no FXP.
	if fsc, fdc := ftpOnly(sc), ftpOnly(dc); !o.noFXP && fsc != nil && fdc != nil {
		err := ftpclient.FXP(ctx, fsc, srcPath, fdc, dstPath, ftpclient.FXPOptions{})
		var te *ftpclient.TransferError
		switch {
		case err == nil:
			streamed = false
			bar.setCurrent(st.Size)
		case errors.Is(err, ftpclient.ErrFXPRefused) && errors.As(err, &te) && ctx.Err() == nil:
			fmt.Fprintf(pg.messages(), "ferry: cp: no server-to-server transfer (%s: %v); copying through this client\n", te.Side, te.Err)
		default:
			bar.abort()
			pg.wait()
			return fmt.Errorf("cp %s %s: %w", src, target, err)
		}
	}
	if streamed {
		err = streamCopy(ctx, sc, dc, srcPath, dstPath, st.Size, newRateLimit(rateBytes), bar, rt)
		if err != nil {
			bar.abort()
			pg.wait()
			return fmt.Errorf("cp %s %s: %w", src, target, err)
		}
	}
	bar.done()
	pg.wait()

	if !st.ModTime.IsZero() && hasFeature(dc, "MFMT") {
		if err := dc.SetModTime(ctx, dstPath, st.ModTime); err != nil {
			fmt.Fprintf(env.Stderr, "ferry: warning: setting the modification time of %s: %v\n", target, err)
		}
	}
	if !o.noVerify {
		algo, err := compareDigests(ctx, sc, dc, srcPath, dstPath)
		if err := reportVerify(env, pg, target.String(), algo, err); err != nil {
			return fmt.Errorf("cp %s %s: %w", src, target, err)
		}
	}
	return nil
}

// compareDigests asks both servers for a digest both offer and compares
// them. It returns "" when they have none in common.
func compareDigests(ctx context.Context, sc, dc remoteClient, srcPath, dstPath string) (string, error) {
	srcAlgo, dstAlgo := hashAlgo(sc), hashAlgo(dc)
	if srcAlgo == "" || srcAlgo != dstAlgo {
		return "", nil
	}
	a, err := ftpOnly(sc).Hash(ctx, srcPath, srcAlgo)
	if err != nil {
		return srcAlgo, fmt.Errorf("cannot verify: %w", err)
	}
	b, err := ftpOnly(dc).Hash(ctx, dstPath, dstAlgo)
	if err != nil {
		return srcAlgo, fmt.Errorf("cannot verify: %w", err)
	}
	if !bytes.Equal(a, b) {
		return srcAlgo, fmt.Errorf("%w: %s of the source is %s, of the copy %s", errChecksum, srcAlgo, hex.EncodeToString(a), hex.EncodeToString(b))
	}
	return srcAlgo, nil
}

// streamCopy pipes the source file into an upload on the destination,
// resuming both at the destination's size after a temporary failure.
func streamCopy(ctx context.Context, sc, dc remoteClient, srcPath, dstPath string, size int64, limit *rateLimit, bar *progressBar, rt *retrier) error {
	var reached int64
	canResume := hasFeature(sc, "REST") && hasFeature(dc, "REST")
	return rt.do(ctx, "cp "+srcPath, func(attempt int) error {
		var offset int64
		if attempt > 1 && canResume {
			n, err := dc.Size(ctx, dstPath)
			if err == nil && n > 0 && n <= reached {
				offset = n
			}
		}
		bar.setCurrent(offset)
		rd, err := sc.Open(ctx, srcPath, offset)
		if err != nil {
			return err
		}
		defer rd.Close()
		n, err := dc.Store(ctx, dstPath, limit.reader(ctx, bar.reader(&sourceReader{rd})), offset)
		reached = max(reached, offset+n)
		if err != nil {
			var se *sourceError
			if errors.As(err, &se) {
				return se.err
			}
			return err
		}
		if size > 0 && offset+n != size {
			return fmt.Errorf("copied %d bytes of %d: the source changed", offset+n, size)
		}
		return nil
	})
}

// sourceReader tags the source's errors so that they are told from the
// destination's; both may be temporary.
type sourceReader struct{ r io.Reader }

type sourceError struct{ err error }

func (e *sourceError) Error() string { return "source: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &sourceError{err}
	}
	return n, err
}
