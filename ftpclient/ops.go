package ftpclient

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Mkdir creates the directory at path (MKD).
func (c *Client) Mkdir(ctx context.Context, path string) error {
	return c.simple(ctx, "mkdir", "MKD", path)
}

// Remove deletes the file at path (DELE).
func (c *Client) Remove(ctx context.Context, path string) error {
	return c.simple(ctx, "remove", "DELE", path)
}

// RemoveDir deletes the empty directory at path (RMD).
func (c *Client) RemoveDir(ctx context.Context, path string) error {
	return c.simple(ctx, "removedir", "RMD", path)
}

func (c *Client) simple(ctx context.Context, op, verb, path string) error {
	p, err := c.resolve(op, path)
	if err != nil {
		return err
	}
	return c.run(ctx, op, p, false, func(cn *conn) error {
		cn.committed = true
		_, err := cn.ok("%s %s", verb, p)
		return err
	})
}

// Rename renames or moves from to to (RNFR, RNTO).
func (c *Client) Rename(ctx context.Context, from, to string) error {
	f, err := c.resolve("rename", from)
	if err != nil {
		return err
	}
	t, err := c.resolve("rename", to)
	if err != nil {
		return err
	}
	return c.run(ctx, "rename", f, false, func(cn *conn) error {
		r, err := cn.cmd("RNFR %s", f)
		if err != nil {
			return err
		}
		if r.code != ftp.CodePendingFurtherInfo {
			return cn.unexpected(r)
		}
		cn.committed = true
		_, err = cn.ok("RNTO %s", t)
		return err
	})
}

// SetModTime sets the modification time of the file at path, to the
// second: MFMT (draft-somers-ftp-mfxx), or, with servers that do not know
// it, the two-argument MDTM of vsftpd and ProFTPD.
func (c *Client) SetModTime(ctx context.Context, path string, t time.Time) error {
	p, err := c.resolve("setmodtime", path)
	if err != nil {
		return err
	}
	stamp := ftp.FormatMDTM(t)
	return c.run(ctx, "setmodtime", p, true, func(cn *conn) error {
		_, err := cn.ok("MFMT %s %s", stamp, p)
		if isUnsupported(err) {
			if _, err2 := cn.ok("MDTM %s %s", stamp, p); err2 == nil {
				return nil
			} else if !isUnsupported(err2) && ftp.CodeOf(err2) != ftp.CodeActionNotTaken {
				return err2
			}
			return unsupported("setting modification times (MFMT)", err)
		}
		return err
	})
}

// Size returns the size of the file at path (SIZE, in binary mode so that
// it counts the bytes a download gets), or Stat's when the server does not
// know SIZE.
func (c *Client) Size(ctx context.Context, path string) (int64, error) {
	p, err := c.resolve("size", path)
	if err != nil {
		return 0, err
	}
	var size int64
	err = c.run(ctx, "size", p, true, func(cn *conn) error {
		if err := cn.setType(false); err != nil {
			return err
		}
		r, err := cn.cmd("SIZE %s", p)
		if isUnsupported(err) {
			e, err := cn.stat(ctx, p)
			size = e.Size
			return err
		}
		if err != nil {
			return err
		}
		size, err = parseSize(r.msg)
		return err
	})
	return size, err
}

// ModTime returns the modification time of the file at path (MDTM, UTC),
// or Stat's when the server does not know MDTM.
func (c *Client) ModTime(ctx context.Context, path string) (time.Time, error) {
	p, err := c.resolve("modtime", path)
	if err != nil {
		return time.Time{}, err
	}
	var mt time.Time
	err = c.run(ctx, "modtime", p, true, func(cn *conn) error {
		r, err := cn.cmd("MDTM %s", p)
		if isUnsupported(err) {
			e, err := cn.stat(ctx, p)
			if err == nil && e.ModTime.IsZero() {
				err = fmt.Errorf("%w: the server reports no modification time", ErrUnsupported)
			}
			mt = e.ModTime
			return err
		}
		if err != nil {
			return err
		}
		mt, err = parseMDTMReply(r.msg)
		return err
	})
	return mt, err
}

func parseSize(msg string) (int64, error) {
	f := strings.Fields(msg)
	if len(f) > 0 {
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: SIZE reply %q", ErrProtocol, clip(msg))
}

func parseMDTMReply(msg string) (time.Time, error) {
	f := strings.Fields(msg)
	if len(f) > 0 {
		if t, err := ftp.ParseMDTM(f[0]); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: MDTM reply %q", ErrProtocol, clip(msg))
}

// hashAlgos maps the canonical algorithm names to the older single-purpose
// commands and the digest lengths.
var hashAlgos = map[string]struct {
	verb string
	size int
}{
	"SHA-256": {"XSHA256", 32},
	"SHA-512": {"XSHA512", 64},
	"SHA-1":   {"XSHA1", 20},
	"MD5":     {"XMD5", 16},
	"CRC32":   {"XCRC", 4},
}

// canonicalHash spells an algorithm name the way HASH does: "sha256" →
// "SHA-256", "crc" → "CRC32".
func canonicalHash(algo string) string {
	a := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(algo), "-", ""))
	switch a {
	case "SHA256":
		return "SHA-256"
	case "SHA512":
		return "SHA-512"
	case "SHA1":
		return "SHA-1"
	case "CRC", "CRC32":
		return "CRC32"
	}
	return a
}

// Hash asks the server for a digest of the file at path without
// downloading it. algo is "SHA-256", "SHA-1", "MD5", "CRC32" or "SHA-512"
// (any case, dash optional). It uses HASH (draft-bryan-ftpext-hash, with
// OPTS HASH to choose the algorithm) when the server announces the
// algorithm, else XSHA256, XSHA1, XMD5, XCRC or XSHA512. A server that
// knows neither gives an error wrapping ErrUnsupported.
func (c *Client) Hash(ctx context.Context, path, algo string) ([]byte, error) {
	p, err := c.resolve("hash", path)
	if err != nil {
		return nil, err
	}
	algo = canonicalHash(algo)
	useHASH := false
	if param, ok := c.feats.Param("HASH"); ok {
		names, _ := factList(param)
		for _, n := range names {
			useHASH = useHASH || canonicalHash(n) == algo
		}
	}
	known, isKnown := hashAlgos[algo]
	if !useHASH && !isKnown {
		return nil, opError("hash", p, fmt.Errorf("%w: hash algorithm %q", ErrUnsupported, algo))
	}
	var sum []byte
	err = c.run(ctx, "hash", p, true, func(cn *conn) error {
		if useHASH {
			if cn.hashAlgo != algo {
				if _, err := cn.ok("OPTS HASH %s", algo); err != nil {
					return err
				}
				cn.hashAlgo = algo
			}
			r, err := cn.cmd("HASH %s", p)
			if err != nil {
				return err
			}
			sum, err = parseHashReply(r.msg, algo)
			return err
		}
		r, err := cn.ok("%s %s", known.verb, p)
		if isUnsupported(err) {
			return unsupported(known.verb, err)
		}
		if err != nil {
			return err
		}
		sum, err = parseXHashReply(r.msg, known.size)
		return err
	})
	return sum, err
}

// parseHashReply reads a 213 reply to HASH: "SHA-256 0-1234 <hex> name".
func parseHashReply(msg, algo string) ([]byte, error) {
	f := strings.Fields(msg)
	if len(f) < 3 || canonicalHash(f[0]) != algo {
		return nil, fmt.Errorf("%w: HASH reply %q", ErrProtocol, clip(msg))
	}
	sum, err := hex.DecodeString(f[2])
	if err != nil || len(sum) == 0 {
		return nil, fmt.Errorf("%w: HASH reply %q", ErrProtocol, clip(msg))
	}
	return sum, nil
}

// parseXHashReply finds the digest in a reply to XSHA256 and the like,
// which servers word differently ("250 <hex>", "213 <hex> name", ...): the
// first word that is a digest of the right size. CRC32 values may come
// without leading zeros.
func parseXHashReply(msg string, size int) ([]byte, error) {
	for _, w := range strings.Fields(msg) {
		if size == 4 && len(w) < 8 && len(w) > 0 {
			w = strings.Repeat("0", 8-len(w)) + w
		}
		if len(w) != 2*size {
			continue
		}
		if sum, err := hex.DecodeString(w); err == nil {
			return sum, nil
		}
	}
	return nil, fmt.Errorf("%w: no digest in reply %q", ErrProtocol, clip(msg))
}

// Quote sends a raw command and returns the server's final reply. A
// negative reply is also returned as an error wrapping *ftp.Error. Commands
// that need a data connection are refused, and a connection on which a
// command changed the session (login, directory, type, protection, ...)
// is not reused afterwards.
func (c *Client) Quote(ctx context.Context, command string) (code int, msg string, err error) {
	if strings.ContainsAny(command, "\r\n\x00") {
		return 0, "", errors.New("ftpclient: quote: command contains a line break or NUL")
	}
	verb, _, _ := strings.Cut(strings.TrimSpace(command), " ")
	verb = strings.ToUpper(verb)
	if dataVerbs[verb] {
		return 0, "", fmt.Errorf("ftpclient: quote: %s needs a data connection; use the Client's methods", verb)
	}
	err = c.run(ctx, "quote", "", false, func(cn *conn) error {
		cn.committed = true
		if sessionVerbs[verb] {
			cn.broken.Store(true) // its effect stays with the connection: do not reuse it
		}
		r, err := cn.cmd("%s", command)
		code, msg = r.code, r.msg
		return err
	})
	if code != 0 && err != nil {
		var fe *ftp.Error
		if errors.As(err, &fe) {
			return code, msg, &replyError{fe}
		}
	}
	return code, msg, err
}

var dataVerbs = map[string]bool{
	"RETR": true, "STOR": true, "STOU": true, "APPE": true,
	"LIST": true, "NLST": true, "MLSD": true,
}

var sessionVerbs = map[string]bool{
	"USER": true, "PASS": true, "ACCT": true, "REIN": true, "QUIT": true,
	"AUTH": true, "PBSZ": true, "PROT": true, "CCC": true,
	"CWD": true, "XCWD": true, "CDUP": true, "XCUP": true, "SMNT": true,
	"TYPE": true, "MODE": true, "STRU": true, "OPTS": true,
	"PASV": true, "EPSV": true, "PORT": true, "EPRT": true,
	"REST": true, "RNFR": true, "LANG": true,
}
