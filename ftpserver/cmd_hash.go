package ftpserver

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ferry-ftp/ferry/ftp"
)

// hashAlgos are the algorithms the server offers for HASH, in FEAT order
// (SHA-512 is left out: clients rarely ask for it and it is the slowest).
var hashAlgos = []string{"SHA-256", "SHA-1", "MD5", "CRC32"}

// hashAlgoName normalises a client's spelling ("sha256", "SHA-256") to an
// algorithm the server offers.
func hashAlgoName(s string) (string, bool) {
	name, ok := ftp.HashAlgorithmName(s)
	return name, ok && slices.Contains(hashAlgos, name)
}

// hashFeat is the FEAT line body: every algorithm, the selected one
// starred.
func hashFeat(selected string) string {
	parts := make([]string, len(hashAlgos))
	for i, a := range hashAlgos {
		parts[i] = a
		if a == selected {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, ";")
}

// startHash checks [start, end) of p (end < 0: to the end of the file)
// and hashes it beside the control loop (see startLocal), asking the
// backend first and reading the file otherwise; answer sends the reply
// with the sum and the range's end. A range larger than MaxHashSize is
// refused: hashing costs the server a read of every byte.
func (s *session) startHash(verb, p, algo string, start, end int64, answer func(sum []byte, end int64)) error {
	if err := s.allow(p, PermDownload); err != nil {
		return err
	}
	fsys := s.acct.FS
	fi, err := fsys.Stat(s.ctx, p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return ftp.Errorf(ftp.CodeActionNotTaken, "Not a regular file.")
	}
	if err := s.mayRead(fi); err != nil {
		return err
	}
	if end < 0 || end > fi.Size() {
		end = fi.Size()
	}
	if start > end {
		return ftp.Errorf(ftp.CodeArgumentError, "Bad range.")
	}
	if limit := s.srv.maxHashSize(); limit >= 0 && end-start > limit {
		return ftp.Errorf(ftp.CodeParamNotImplemented, "Too large to hash: this server hashes at most %d bytes at a time.", limit)
	}
	s.startLocal(verb, p, end-start, func(ctx context.Context, t *transfer) error {
		sum, err := hashRange(ctx, fsys, t, p, algo, start, end)
		if err != nil {
			return err
		}
		t.replying.Store(true)
		answer(sum, end)
		return nil
	})
	return nil
}

// hashRange computes the hash of [start, end) of p, counting the bytes
// read in t for STAT, until ctx is cancelled.
func hashRange(ctx context.Context, fsys FileSystem, t *transfer, p, algo string, start, end int64) ([]byte, error) {
	if h, ok := fsys.(Hasher); ok {
		sum, err := h.Hash(ctx, p, algo, start, end)
		if err == nil {
			return sum, nil
		}
		if !errors.Is(err, ErrNotSupported) {
			return nil, err
		}
	}
	r, err := fsys.Open(ctx, p, start)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	hh := ftp.NewHash(algo)
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	src := &ctxReader{ctx: ctx, r: io.LimitReader(r, end-start), n: &t.bytes}
	if _, err := io.CopyBuffer(hh, src, *buf); err != nil {
		return nil, err
	}
	return hh.Sum(nil), nil
}

// ctxReader stops reading once ctx is cancelled (ABOR, QUIT, a hang-up)
// and counts what it read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	n   *atomic.Int64
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func cmdHASH(s *session, arg string) error {
	algo := s.hashAlgo
	return s.startHash("HASH", s.resolve(arg), algo, 0, -1, func(sum []byte, end int64) {
		s.replyf(ftp.CodeFileStatus, "%s 0-%d %s %s", algo, end, hex.EncodeToString(sum), quoteName(arg))
	})
}

// hashVerb serves the older XSHA256/XSHA1/XMD5/XCRC commands, which take
// an optional byte range after the name: "XCRC file 0 1024".
func hashVerb(verb, algo string) func(*session, string) error {
	return func(s *session, arg string) error {
		name, start, end := arg, int64(0), int64(-1)
		if f := strings.Fields(arg); len(f) >= 3 {
			a, errA := strconv.ParseInt(f[len(f)-2], 10, 64)
			b, errB := strconv.ParseInt(f[len(f)-1], 10, 64)
			if errA == nil && errB == nil && a >= 0 && b >= 0 {
				// Only a range if the whole argument is not itself a name.
				if _, err := s.acct.FS.Stat(s.ctx, s.resolve(arg)); errors.Is(err, fs.ErrNotExist) {
					name = strings.Join(f[:len(f)-2], " ")
					start, end = a, b
				}
			}
		}
		return s.startHash(verb, s.resolve(name), algo, start, end, func(sum []byte, _ int64) {
			s.reply(ftp.CodeFileActionOK, hex.EncodeToString(sum))
		})
	}
}
