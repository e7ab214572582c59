package ftpserver

import (
	"errors"
	"io"

	"github.com/ferry-ftp/ferry/ftp"
)

// MODE B, block mode (RFC 959 §3.4.2, §3.5).
//
// The data connection is closed after every transfer, as in stream mode,
// although block mode marks the end of a file by descriptor and would let
// it stay open (RFC 959 §3.3: outside the cases where it must, "the close
// is a server option", told by the 226 reply). Every client sends
// PASV/PORT before each transfer and none that speaks MODE B relies on a
// connection kept open; reusing one would also need the server to tell a
// client's next transfer from a late or hostile connection.
//
// Restart markers are byte offsets in the file, in decimal: the server's
// markers (sent during RETR, returned as mmmm in 110 MARK during STOR and
// APPE) are what REST already takes, so REST mmmm then RETR or STOR
// resumes there.

// markInterval is how many bytes of the file a MODE B download sends
// between two restart markers: a marker costs a few bytes, and a client
// restarting after a failure loses less than this.
const markInterval = 1 << 20

// fileCounter counts the bytes an upload has written to its file.
type fileCounter struct {
	w io.Writer
	n int64
}

func (fc *fileCounter) Write(p []byte) (int, error) {
	n, err := fc.w.Write(p)
	fc.n += int64(n)
	return n, err
}

// blockDecoder decodes a MODE B upload from conn. Each restart marker of
// the client is answered at once (c.marked) with the file offset that
// every byte before it has reached: where c's transfer started plus what
// stored, the writer next to the file, has taken. A TYPE A upload's
// decoder may still hold a CR whose LF has not arrived; it is not
// counted, so a marker between CR and LF restarts without that CR.
func (c coding) blockDecoder(conn io.Reader, stored *fileCounter) io.Reader {
	br := ftp.NewBlockReader(conn)
	br.OnMark = func(marker []byte) error {
		c.marked(marker, c.offset+stored.n)
		return nil
	}
	return blockErrors{br}
}

// restartMarked answers a client's restart marker with 110 MARK yyyy =
// mmmm, exact text (RFC 959 §4.2): yyyy the client's marker, mmmm the
// server's, a file offset that REST takes. ftp.BlockReader has checked
// that the marker is printable, so it cannot break the reply line.
func (s *session) restartMarked(marker []byte, at int64) {
	s.replyf(ftp.CodeRestartMarker, "MARK %s = %d", marker, at)
}

// blockErrors marks the errors of a block-mode stream that broke off or
// is malformed, so the transfer is answered for what it is (see
// blockStreamError).
type blockErrors struct{ r io.Reader }

func (b blockErrors) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && (errors.Is(err, ftp.ErrBlockIncomplete) || errors.Is(err, ftp.ErrBadBlock)) {
		err = netErr{blockStreamError{err}}
	}
	return n, err
}

// blockStreamError is a MODE B upload that ended without its EOF block or
// with a malformed block. Either way the client stopped sending a valid
// file: the upload is interrupted, as when its connection drops (the part
// received is kept where the upload mode keeps partials, so it can be
// resumed), and the reply says what was wrong.
type blockStreamError struct{ err error }

func (e blockStreamError) Error() string { return e.err.Error() }
func (e blockStreamError) Unwrap() error { return e.err }

// reply is the 426 text for the transfer.
func (e blockStreamError) reply() string {
	if errors.Is(e.err, ftp.ErrBadBlock) {
		return "Malformed block-mode data; transfer aborted."
	}
	return "Data connection closed before the end-of-file block; transfer aborted."
}
