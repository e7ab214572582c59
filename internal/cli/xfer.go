package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpclient/mirror"
)

// Helpers shared by the transfer commands (get, put, cat, cp).

// remoteClient is what the commands need of a client: *ftpclient.Client
// and *sftpclient.Client (sftp.go) have it. What only FTP has (FEAT,
// digests, FXP) is reached through ftpOnly.
type remoteClient interface {
	mirror.Remote
	List(ctx context.Context, dir string) ([]ftp.Entry, error)
	Open(ctx context.Context, path string, offset int64, opts ...ftpclient.TransferOption) (io.ReadCloser, error)
	Append(ctx context.Context, path string, r io.Reader, opts ...ftpclient.TransferOption) (int64, error)
	Size(ctx context.Context, path string) (int64, error)
	Rename(ctx context.Context, from, to string) error
	Close() error
}

var _ remoteClient = (*ftpclient.Client)(nil)

// clientOptions are the flags of every command that talks to a server
// through one client: how to connect and how to retry.
type clientOptions struct {
	remote remoteFlags
	retry  retryFlags
}

func (o *clientOptions) register(cmd *cobra.Command) {
	o.remote.register(cmd.Flags())
	o.retry.register(cmd.Flags())
}

// withClient parses raw, connects, and calls fn with the client and URL.
func (o *clientOptions) withClient(ctx context.Context, env Env, raw string, fn func(c remoteClient, r *remoteURL, rt *retrier) error) error {
	r, err := parseRemoteURL(raw)
	if err != nil {
		return err
	}
	rt := o.retry.retrier(env.Stderr)
	c, err := connect(ctx, env, &o.remote, rt, r, 1)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c, r, rt)
}

// transferProgress returns the bars of a transfer command, silent with
// --debug (bars would garble the trace), and a retrier that reports above
// them.
func (o *clientOptions) transferProgress(env Env) (*progressGroup, *retrier) {
	pg := newProgress(env)
	if o.remote.debug {
		pg = silentProgress(env.Stderr)
	}
	return pg, o.retry.retrier(pg.messages())
}

// connect dials r, retrying on temporary failures (a refused connection,
// 421 "too many users").
func connect(ctx context.Context, env Env, rf *remoteFlags, rt *retrier, r *remoteURL, poolSize int) (remoteClient, error) {
	var c remoteClient
	err := rt.do(ctx, "connect to "+r.Addr(), func(int) error {
		var err error
		c, err = rf.dialAny(ctx, env, r, poolSize)
		return err
	})
	return c, err
}

// reportVerify tells what checking the copy named shown against a digest
// (algo, err) found. A mismatch is returned, for the command to fail with;
// failing to check is only a warning, and a match is noted when bars are
// drawn.
func reportVerify(env Env, pg *progressGroup, shown, algo string, err error) error {
	switch {
	case errors.Is(err, errChecksum):
		return err
	case err != nil:
		fmt.Fprintf(env.Stderr, "ferry: warning: %v\n", err)
	case algo != "" && pg.active():
		fmt.Fprintf(env.Stderr, "%s: %s verified\n", shown, algo)
	}
	return nil
}

// errChecksum is wrapped by the error of a transfer whose content does not
// match the server's digest of the file.
var errChecksum = errors.New("checksum mismatch")

// hashPreference lists digests from the strongest; the X-commands are the
// older, unannounced-parameter forms of the same.
var hashPreference = []struct{ algo, xverb string }{
	{"SHA-256", "XSHA256"},
	{"SHA-512", "XSHA512"},
	{"SHA-1", "XSHA1"},
	{"MD5", "XMD5"},
	{"CRC32", "XCRC"},
}

// hashAlgo is serverHashAlgo of an FTP server; "" for an SFTP one.
func hashAlgo(c remoteClient) string {
	if fc := ftpOnly(c); fc != nil {
		return serverHashAlgo(fc.Features())
	}
	return ""
}

// serverHashAlgo picks the strongest digest the server announces in FEAT:
// through HASH (draft-bryan-ftpext-hash) or an X-command. "" when none.
func serverHashAlgo(f ftpclient.Features) string {
	offered := map[string]bool{}
	if param, ok := f.Param("HASH"); ok {
		for _, a := range strings.Split(param, ";") {
			a = strings.ToUpper(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(a), "*")))
			offered[strings.ReplaceAll(a, "-", "")] = true
		}
	}
	for _, h := range hashPreference {
		if offered[strings.ReplaceAll(h.algo, "-", "")] || f.Has(h.xverb) {
			return h.algo
		}
	}
	return ""
}

// verifyRemote compares the server's digest of remotePath with the digest
// of local (a reader of the same content). It returns the algorithm used,
// "" when the server offers none. A mismatch is an error wrapping
// errChecksum; a server that fails to compute its digest is reported as
// a plain error, which callers treat as a warning.
func verifyRemote(ctx context.Context, c remoteClient, remotePath string, local io.Reader) (string, error) {
	algo := hashAlgo(c)
	if algo == "" {
		return "", nil
	}
	want, err := ftpOnly(c).Hash(ctx, remotePath, algo)
	if err != nil {
		return algo, fmt.Errorf("cannot verify %s: %w", remotePath, err)
	}
	h := ftp.NewHash(algo)
	if _, err := io.Copy(h, local); err != nil {
		return algo, permanent(err)
	}
	got := h.Sum(nil)
	if !bytes.Equal(got, want) {
		return algo, fmt.Errorf("%s: %w: %s of the local copy is %s, the server says %s",
			remotePath, errChecksum, algo, hex.EncodeToString(got), hex.EncodeToString(want))
	}
	return algo, nil
}

// verifyLocalFile is verifyRemote for a file on disk.
func verifyLocalFile(ctx context.Context, c remoteClient, remotePath, local string) (string, error) {
	if hashAlgo(c) == "" {
		return "", nil
	}
	f, err := os.Open(local)
	if err != nil {
		return "", permanent(err)
	}
	defer f.Close()
	return verifyRemote(ctx, c, remotePath, f)
}

// remoteBase is the last element of a URL's path, for naming a local copy.
func remoteBase(r *remoteURL) (string, error) {
	p := strings.TrimRight(r.Path, "/")
	if p == "" || strings.HasSuffix(r.Path, "/") {
		return "", fmt.Errorf("%s names a directory, not a file", r)
	}
	return path.Base(p), nil
}

// remoteTarget resolves where an upload of a file named base goes: into
// the directory dst names (a URL ending in "/", the login directory, or an
// existing directory), or to dst itself.
func remoteTarget(ctx context.Context, c remoteClient, dst *remoteURL, base string) *remoteURL {
	if dst.Path == "" || strings.HasSuffix(dst.Path, "/") {
		return dst.join(base)
	}
	if e, err := c.Stat(ctx, dst.resolve()); err == nil && e.IsDir() {
		return dst.join(base)
	}
	return dst
}

// hasFeature reports whether the server announced any of names; an SFTP
// server has what sftpHas says.
func hasFeature(c remoteClient, names ...string) bool {
	fc := ftpOnly(c)
	for _, n := range names {
		if fc != nil && fc.Features().Has(n) || fc == nil && sftpHas(n) {
			return true
		}
	}
	return false
}

// isNotFound reports whether err says the remote file does not exist.
func isNotFound(err error) bool {
	return ftpclient.IsNotExist(err)
}
