package sftpserver

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"

	"github.com/pkg/sftp"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpserver"
)

// checkFileAlgorithms are the hash algorithms check-file offers
// (draft-ietf-secsh-filexfer-extensions-00 §3 names), with the name the
// FTP side and ftpserver.Hasher use where there is one. A client lists
// those it accepts in its order of preference; the first one offered
// here is used.
var checkFileAlgorithms = []struct {
	name string // on the wire
	ftp  string // ftp.NewHash's and ftpserver.Hasher's name, "" if none
	new  func() hash.Hash
}{
	{"md5", "MD5", nil},
	{"sha1", "SHA-1", nil},
	{"sha224", "", sha256.New224},
	{"sha256", "SHA-256", nil},
	{"sha384", "", sha512.New384},
	{"sha512", "SHA-512", nil},
	{"crc32", "CRC32", nil},
}

// checkFileAlgorithmList is the VERSION extension's data: the names,
// comma-separated.
const checkFileAlgorithmList = "md5,sha1,sha224,sha256,sha384,sha512,crc32"

// minCheckBlock is the smallest block size the draft allows (0 aside).
const minCheckBlock = 256

// checkFileRequest is a parsed check-file-handle or check-file-name.
type checkFileRequest struct {
	byHandle   bool
	target     string // the handle or the file name
	algorithms []string
	start      uint64
	length     uint64 // 0: to the end of the file
	blockSize  uint32 // 0: one hash of the whole range
}

var errBadCheckFile = errors.New("malformed check-file request")

// parseCheckFile parses a check-file request's fields after its name:
// string handle-or-name, string hash-algorithm-list, uint64 start-offset,
// uint64 length, uint32 block-size.
func parseCheckFile(name string, args []byte) (checkFileRequest, error) {
	target, rest, ok := sshString(args)
	if !ok {
		return checkFileRequest{}, errBadCheckFile
	}
	algos, rest, ok := sshString(rest)
	if !ok || len(rest) < 20 {
		return checkFileRequest{}, errBadCheckFile
	}
	return checkFileRequest{
		byHandle:   name == "check-file-handle",
		target:     string(target),
		algorithms: strings.Split(string(algos), ","),
		start:      binary.BigEndian.Uint64(rest),
		length:     binary.BigEndian.Uint64(rest[8:]),
		blockSize:  binary.BigEndian.Uint32(rest[16:]),
	}, nil
}

// pickAlgorithm is the index in checkFileAlgorithms of the first of the
// client's algorithms offered here, -1 if none is.
func pickAlgorithm(names []string) int {
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		for i, a := range checkFileAlgorithms {
			if a.name == n {
				return i
			}
		}
	}
	return -1
}

// checkFile serves check-file-handle and check-file-name: the hash of a
// range of a file, or one per block of it, checked as a download is (the
// download permission; o+r for world-readable-only accounts). A range
// larger than ftpserver.DefaultMaxHashSize is refused, as FTP's HASH
// refuses it: each byte costs the server a read.
func (e *extensions) checkFile(f *filter, id uint32, req checkFileRequest) []byte {
	h := e.h
	p := req.target
	if req.byHandle {
		info := f.handle(req.target)
		switch {
		case info == nil:
			return statusPacket(id, fxFailure, "No such handle")
		case info.dir || info.file.w != nil:
			return statusPacket(id, fxPermission, "Handle not open for reading")
		}
		p = info.file.path
	}
	algo := pickAlgorithm(req.algorithms)
	if algo < 0 {
		return statusFor(id, h.status("check-file", p, errNoAlgorithm))
	}
	if req.blockSize != 0 && req.blockSize < minCheckBlock {
		return statusPacket(id, fxFailure, "Block size too small")
	}
	sums, err := e.hashFile(p, algo, req)
	if err != nil {
		return statusFor(id, err)
	}
	b := packetHead(fxpExtendedReply, id)
	b = appendString(b, "check-file")
	b = appendString(b, checkFileAlgorithms[algo].name)
	b = append(b, sums...)
	return finishPacket(b)
}

// hashFile returns the hashes of req's range of p, concatenated, or an
// error from handlers.status.
func (e *extensions) hashFile(p string, algo int, req checkFileRequest) (_ []byte, err error) {
	h := e.h
	defer h.c.recoverPanic(&err)
	v, err := vpath(p)
	if err == nil {
		err = h.allowed(v, ftpserver.PermDownload)
	}
	if err != nil {
		return nil, h.status("check-file", p, err)
	}
	fsys := h.acct.FS
	fi, err := fsys.Stat(e.ctx, v)
	switch {
	case err != nil:
	case fi.IsDir():
		err = ftpserver.ErrIsDir
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%w: not a regular file", fs.ErrPermission)
	case h.acct.WorldReadableOnly && fi.Mode().Perm()&0o004 == 0:
		err = fmt.Errorf("%w: not readable by everyone", fs.ErrPermission)
	}
	if err != nil {
		return nil, h.status("check-file", v, err)
	}
	size := uint64(fi.Size())
	if req.start > size {
		return nil, &codeError{sftp.ErrSSHFxFailure, "Start offset beyond the end of the file"}
	}
	end := size
	if req.length != 0 && req.length < size-req.start {
		end = req.start + req.length
	}
	n := end - req.start
	if n > ftpserver.DefaultMaxHashSize {
		return nil, &codeError{sftp.ErrSSHFxOpUnsupported, fmt.Sprintf("Too large to hash: at most %d bytes at a time", int64(ftpserver.DefaultMaxHashSize))}
	}
	a := checkFileAlgorithms[algo]
	sumSize := newHash(algo).Size()
	blocks := uint64(1)
	if req.blockSize != 0 && n > 0 {
		blocks = (n + uint64(req.blockSize) - 1) / uint64(req.blockSize)
	}
	if blocks*uint64(sumSize) > maxPacket-1024 {
		return nil, &codeError{sftp.ErrSSHFxFailure, "Too many blocks: use a larger block size"}
	}
	start, stop := int64(req.start), int64(end)
	if hs, ok := fsys.(ftpserver.Hasher); ok && blocks == 1 && a.ftp != "" && a.ftp != "SHA-512" {
		sum, err := hs.Hash(e.ctx, v, a.ftp, start, stop)
		if err == nil {
			return sum, nil
		}
		if !errors.Is(err, ftpserver.ErrNotSupported) {
			return nil, h.status("check-file", v, err)
		}
	}
	rc, err := fsys.Open(e.ctx, v, start)
	if err != nil {
		return nil, h.status("check-file", v, err)
	}
	defer rc.Close()
	blockSize := int64(n)
	if req.blockSize != 0 {
		blockSize = int64(req.blockSize)
	}
	sums := make([]byte, 0, blocks*uint64(sumSize))
	buf := make([]byte, 64<<10)
	for pos := start; pos < stop || len(sums) == 0; {
		hh := newHash(algo)
		want := min(blockSize, stop-pos)
		if err := copyCtx(e.ctx, hh, &io.LimitedReader{R: rc, N: want}, buf); err != nil {
			return nil, h.status("check-file", v, err)
		}
		sums = hh.Sum(sums)
		pos += want
	}
	return sums, nil
}

// newHash returns a new hash of checkFileAlgorithms[i].
func newHash(i int) hash.Hash {
	if a := checkFileAlgorithms[i]; a.new != nil {
		return a.new()
	}
	return ftp.NewHash(checkFileAlgorithms[i].ftp)
}

// copyCtx copies src to dst until EOF, stopping when ctx ends (the
// session is over); a source shorter than promised (the file shrank) is
// an error.
func copyCtx(ctx context.Context, dst io.Writer, src *io.LimitedReader, buf []byte) error {
	for src.N > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := src.Read(buf)
		dst.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			if src.N > 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
