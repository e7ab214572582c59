package ftp

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Descriptor bits of a block header in block mode (RFC 959 §3.4.2). A
// descriptor may combine several; the low four bits are unassigned.
const (
	BlockEOR     = 128 // the block ends a record
	BlockEOF     = 64  // the block ends the file
	BlockSuspect = 32  // the block's data may contain errors
	BlockRestart = 16  // the block's data is a restart marker (§3.5)
)

// blockAssigned are the descriptor bits RFC 959 defines.
const blockAssigned = BlockEOR | BlockEOF | BlockSuspect | BlockRestart

// MaxBlockData is the most data one block carries: its count is 16 bits.
const MaxBlockData = 65535

// MaxMarker bounds a restart marker. RFC 959 sets no limit, but a marker
// is echoed in a reply line (110 MARK yyyy = mmmm), which must stay short.
const MaxMarker = 256

// blockHeader is the size of a block header: a descriptor byte and a
// 16-bit big-endian byte count.
const blockHeader = 3

var (
	// ErrBlockIncomplete reports block-mode data that ended (at the end
	// of the stream) before a block with the EOF descriptor: in block
	// mode only that block ends a file, so the transfer was cut short.
	ErrBlockIncomplete = errors.New("ftp: block-mode data ended before the end-of-file block")
	// ErrBadBlock reports a block header or restart marker that breaks
	// RFC 959 §3.4.2/§3.5 (unassigned descriptor bits, an empty, overlong
	// or unprintable marker).
	ErrBadBlock = errors.New("ftp: malformed block-mode data")
)

// ValidMarker reports whether m can be a restart marker: RFC 959 §5.3.2
// makes it a <pr string>, ASCII 33 through 126 (no space, which also keeps
// the 110 reply, whose markers are separated by spaces, unambiguous), and
// MaxMarker bounds it.
func ValidMarker(m []byte) bool {
	if len(m) == 0 || len(m) > MaxMarker {
		return false
	}
	for _, c := range m {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// BlockWriter frames data in block mode (RFC 959 §3.4.2). Writes are
// gathered into blocks of up to MaxBlockData bytes, so small writes cost
// no header each; Flush, Mark and Close end the pending block. Close
// sends the EOF descriptor, without which the receiver must take the
// transfer as incomplete. It does not close the underlying writer.
type BlockWriter struct {
	w   io.Writer
	buf []byte // header room then pending data; allocated on first use
	err error  // sticky: after a failed write the framing is lost
}

// NewBlockWriter returns a BlockWriter that writes blocks to w.
func NewBlockWriter(w io.Writer) *BlockWriter {
	return &BlockWriter{w: w}
}

// Write queues p as block data, sending every block that fills up.
func (bw *BlockWriter) Write(p []byte) (int, error) {
	if bw.err != nil {
		return 0, bw.err
	}
	if bw.buf == nil {
		bw.buf = make([]byte, blockHeader, blockHeader+MaxBlockData)
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), cap(bw.buf)-len(bw.buf))
		bw.buf = append(bw.buf, p[:n]...)
		p = p[n:]
		written += n
		if len(bw.buf) == cap(bw.buf) {
			if err := bw.emit(0); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// emit sends the pending data as one block with descriptor desc; with no
// data pending it sends nothing unless desc says something.
func (bw *BlockWriter) emit(desc byte) error {
	if bw.err != nil {
		return bw.err
	}
	if bw.buf == nil {
		if desc == 0 {
			return nil
		}
		bw.buf = make([]byte, blockHeader, blockHeader+MaxBlockData)
	}
	n := len(bw.buf) - blockHeader
	if n == 0 && desc == 0 {
		return nil
	}
	bw.buf[0] = desc
	bw.buf[1] = byte(n >> 8)
	bw.buf[2] = byte(n)
	bw.err = writeAll(bw.w, bw.buf)
	bw.buf = bw.buf[:blockHeader]
	return bw.err
}

// Flush sends the pending data as a block.
func (bw *BlockWriter) Flush() error {
	return bw.emit(0)
}

// Mark sends the pending data, then a restart-marker block holding marker,
// which must satisfy ValidMarker. The receiver learns that everything
// before the marker can be restarted from it (RFC 959 §3.5).
func (bw *BlockWriter) Mark(marker string) error {
	if !ValidMarker([]byte(marker)) {
		return fmt.Errorf("%w: restart marker %q", ErrBadBlock, marker)
	}
	if err := bw.emit(0); err != nil {
		return err
	}
	hdr := [blockHeader]byte{BlockRestart, byte(len(marker) >> 8), byte(len(marker))}
	if bw.err = writeAll(bw.w, append(hdr[:], marker...)); bw.err != nil {
		return bw.err
	}
	return nil
}

// Close sends the pending data in a block marked EOF (an empty one if
// nothing is pending), ending the file. Later writes fail.
func (bw *BlockWriter) Close() error {
	if err := bw.emit(BlockEOF); err != nil {
		return err
	}
	bw.err = errBlockWriterClosed
	return nil
}

var errBlockWriterClosed = errors.New("ftp: write after the end-of-file block")

// BlockReader reads block-mode data (RFC 959 §3.4.2) and returns the data
// bytes. It returns io.EOF only after a block with the EOF descriptor; a
// stream that ends before one is ErrBlockIncomplete. Errors of the
// underlying reader are returned as they are (wrapped only to say where
// the stream ended), so a network error stays recognisable.
//
// Record ends (EOR) and suspected errors are not reported: in file
// structure the data is the file whatever the flags say. Reading stops
// at the EOF block: what follows it is not read.
type BlockReader struct {
	r    io.Reader
	left int  // data bytes left in the current block
	last bool // the current block ends the file
	err  error
	hdr  [blockHeader]byte
	mark []byte

	// OnMark, if set, is called with each restart marker as it is read,
	// when every data byte before the marker has been returned by Read
	// and none after it. Its error ends the reading (returned by Read).
	// The slice is valid until the next marker.
	OnMark func(marker []byte) error
}

// NewBlockReader returns a BlockReader reading blocks from r.
func NewBlockReader(r io.Reader) *BlockReader {
	return &BlockReader{r: r}
}

// Marker returns the last restart marker read, nil before the first.
func (br *BlockReader) Marker() []byte {
	return br.mark
}

// Read returns data bytes of at most one block.
func (br *BlockReader) Read(p []byte) (int, error) {
	for br.left == 0 {
		if br.err != nil {
			return 0, br.err
		}
		if br.last {
			br.err = io.EOF
			return 0, io.EOF
		}
		if err := br.next(); err != nil {
			br.err = err
			return 0, err
		}
	}
	if len(p) > br.left {
		p = p[:br.left]
	}
	n, err := br.r.Read(p)
	br.left -= n
	switch {
	case err == io.EOF && n > 0:
		// The next Read meets the end again and judges it.
		err = nil
	case err == io.EOF:
		err = fmt.Errorf("%w (inside a block)", ErrBlockIncomplete)
	}
	if err != nil {
		br.err = err
	}
	return n, err
}

// next reads the next block header and any restart marker that follows;
// it leaves left and last describing the data block.
func (br *BlockReader) next() error {
	if err := readFull(br.r, br.hdr[:], "header"); err != nil {
		return err
	}
	desc := br.hdr[0]
	count := int(br.hdr[1])<<8 | int(br.hdr[2])
	if desc&^blockAssigned != 0 {
		return fmt.Errorf("%w: descriptor %#02x has unassigned bits", ErrBadBlock, desc)
	}
	if desc&BlockRestart != 0 {
		if count == 0 || count > MaxMarker {
			return fmt.Errorf("%w: restart marker of %d bytes", ErrBadBlock, count)
		}
		if cap(br.mark) < count {
			br.mark = make([]byte, count, MaxMarker)
		}
		br.mark = br.mark[:count]
		if err := readFull(br.r, br.mark, "restart marker"); err != nil {
			return err
		}
		if !ValidMarker(br.mark) {
			return fmt.Errorf("%w: restart marker %q is not printable", ErrBadBlock, br.mark)
		}
		if br.OnMark != nil {
			if err := br.OnMark(br.mark); err != nil {
				return err
			}
		}
		count = 0
	}
	br.left = count
	br.last = desc&BlockEOF != 0
	return nil
}

// readFull fills p from r; the end of the stream anywhere is
// ErrBlockIncomplete, saying which part (what) it cut.
func readFull(r io.Reader, p []byte, what string) error {
	n, err := io.ReadFull(r, p)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		if n == 0 && what == "header" {
			return ErrBlockIncomplete
		}
		return fmt.Errorf("%w (inside a block %s)", ErrBlockIncomplete, what)
	}
	return err
}

// MarkEvery returns a writer for the file bytes of a block-mode transfer
// that starts at offset in the file: it passes them on to w and, each time
// the file offset reaches a multiple of interval, sends a restart marker
// into bw holding that offset in decimal, which REST takes as it is. w
// writes into bw, directly or through a representation-type encoder that
// must pass every write on before it returns (TYPE A's does), or a marker
// would overtake the data before it. An interval <= 0 sends no marker.
func (bw *BlockWriter) MarkEvery(w io.Writer, offset, interval int64) io.Writer {
	if interval <= 0 {
		return w
	}
	return bw.MarkAt(w, offset, func(pos int64) int64 { return (pos/interval + 1) * interval })
}

// MarkAt is MarkEvery with the marker offsets chosen by next, which
// returns the offset of the first marker after pos (greater than pos).
func (bw *BlockWriter) MarkAt(w io.Writer, offset int64, next func(pos int64) int64) io.Writer {
	return &blockMarker{w: w, bw: bw, pos: offset, nextAfter: next, next: max(next(offset), offset+1)}
}

type blockMarker struct {
	w         io.Writer
	bw        *BlockWriter
	pos       int64 // file offset of the next byte
	nextAfter func(pos int64) int64
	next      int64 // file offset of the next marker
}

func (m *blockMarker) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(int64(len(p)), m.next-m.pos)
		k, err := m.w.Write(p[:n])
		written += k
		m.pos += int64(k)
		if err != nil {
			return written, err
		}
		p = p[n:]
		if m.pos == m.next {
			if err := m.bw.Mark(strconv.FormatInt(m.pos, 10)); err != nil {
				return written, err
			}
			m.next = max(m.nextAfter(m.pos), m.pos+1)
		}
	}
	return written, nil
}

// ParseMarkReply parses the text of a 110 reply, "MARK yyyy = mmmm" (RFC
// 959 §4.2, exact), into the sender's marker yyyy and the receiver's
// marker mmmm.
func ParseMarkReply(msg string) (sender, receiver string, err error) {
	rest, ok := strings.CutPrefix(msg, "MARK ")
	if ok {
		sender, receiver, ok = strings.Cut(rest, " = ")
	}
	if !ok || !ValidMarker([]byte(sender)) || !ValidMarker([]byte(receiver)) {
		return "", "", fmt.Errorf("%w: restart marker reply %q", ErrBadBlock, msg)
	}
	return sender, receiver, nil
}
