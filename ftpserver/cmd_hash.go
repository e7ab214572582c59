package ftpserver

import (
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"

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

// fileHash hashes [start, end) of p (end < 0: to the end of the file),
// asking the backend first and reading the file otherwise.
func (s *session) fileHash(p, algo string, start, end int64) ([]byte, int64, error) {
	fi, err := s.acct.FS.Stat(s.ctx, p)
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, ftp.Errorf(ftp.CodeActionNotTaken, "Not a regular file.")
	}
	if err := s.mayRead(fi); err != nil {
		return nil, 0, err
	}
	if end < 0 || end > fi.Size() {
		end = fi.Size()
	}
	if start > end {
		return nil, 0, ftp.Errorf(ftp.CodeArgumentError, "Bad range.")
	}
	if h, ok := s.acct.FS.(Hasher); ok {
		sum, err := h.Hash(s.ctx, p, algo, start, end)
		if err == nil {
			return sum, end, nil
		}
		if !errors.Is(err, ErrNotSupported) {
			return nil, 0, err
		}
	}
	r, err := s.acct.FS.Open(s.ctx, p, start)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	hh := ftp.NewHash(algo)
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	if _, err := io.CopyBuffer(hh, readerOnly{io.LimitReader(r, end-start)}, *buf); err != nil {
		return nil, 0, err
	}
	return hh.Sum(nil), end, nil
}

func cmdHASH(s *session, arg string) error {
	p := s.resolve(arg)
	sum, end, err := s.fileHash(p, s.hashAlgo, 0, -1)
	if err != nil {
		return err
	}
	s.replyf(ftp.CodeFileStatus, "%s 0-%d %s %s", s.hashAlgo, end, hex.EncodeToString(sum), quoteName(arg))
	return nil
}

// hashVerb serves the older XSHA256/XSHA1/XMD5/XCRC commands, which take
// an optional byte range after the name: "XCRC file 0 1024".
func hashVerb(algo string) func(*session, string) error {
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
		sum, _, err := s.fileHash(s.resolve(name), algo, start, end)
		if err != nil {
			return err
		}
		s.reply(ftp.CodeFileActionOK, hex.EncodeToString(sum))
		return nil
	}
}
