package ftpclient

import (
	"io"
	"strconv"
	"sync"

	"github.com/ferry-ftp/ferry/ftp"
)

// DefaultMarkInterval is how many bytes an upload in block mode sends
// between its restart markers when Marks.Interval is zero.
const DefaultMarkInterval = 1 << 20

// BlockMode makes the transfer use MODE B, block mode (RFC 959 §3.4.2):
// the data is framed in blocks and its end is marked, so a transfer cut
// short is told from a complete one whatever the connection does, and
// restart markers (§3.5) say where a failed transfer can resume. marks,
// if not nil, records the markers (see Marks); with nil, an upload sends
// none. A server that refuses MODE B fails the transfer with an error
// wrapping ErrUnsupported. Listings always use stream mode.
func BlockMode(marks *Marks) TransferOption {
	return func(t *transferConfig) {
		t.block = true
		t.marks = marks
	}
}

// Marks records the restart markers of block-mode transfers: on a
// download, the markers the server sends; on an upload, the server's 110
// MARK replies to the markers the client sends every Interval bytes. A
// transfer that fails can be resumed from the last one (Last). It is safe
// for concurrent use; one Marks may serve several transfers in turn, and
// then holds the last marker of the last of them.
type Marks struct {
	// Interval is how many bytes an upload sends between two restart
	// markers at first; zero means DefaultMarkInterval. It doubles after
	// every marksPerInterval markers of a transfer: the server answers
	// each marker on the control connection, which the client reads only
	// after the data, so their number must stay within what the
	// connection buffers, whatever the size of the file.
	Interval int64

	mu   sync.Mutex
	last Mark
	set  bool
}

// A Mark is a point from which a block-mode transfer can restart.
type Mark struct {
	// Local is the offset in the local data: how many bytes of the file
	// the writer of a download had received, or the reader of an upload
	// had given, before the marker (counting from the file's start, so
	// a transfer that began at an offset includes it).
	Local int64
	// Server is the server's marker, the argument of REST that resumes
	// the transfer at Local.
	Server string
}

// Offset returns Server as a byte offset, the offset argument of
// Retrieve or Store that resumes at Local. ok is false for a server whose
// markers are not byte offsets in decimal (RFC 959 leaves their form to
// the server; ferry's are offsets).
func (m Mark) Offset() (offset int64, ok bool) {
	n, err := strconv.ParseInt(m.Server, 10, 64)
	return n, err == nil && n >= 0
}

// Last returns the last marker recorded; ok is false before the first.
func (m *Marks) Last() (mark Mark, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last, m.set
}

func (m *Marks) record(mark Mark) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last, m.set = mark, true
}

func (m *Marks) interval() int64 {
	if m == nil || m.Interval <= 0 {
		return DefaultMarkInterval
	}
	return m.Interval
}

// marksPerInterval is how many markers an upload sends before its
// interval doubles: a terabyte at 1 MiB then takes some 1,500 markers,
// whose replies (about 30 bytes each) fit in any control connection's
// buffers.
const marksPerInterval = 128

// schedule returns the function that places an upload's markers (see
// ftp.BlockWriter.MarkAt): on multiples of the interval, which doubles
// after every marksPerInterval markers.
func (m *Marks) schedule() func(pos int64) int64 {
	interval, calls := m.interval(), 0
	return func(pos int64) int64 {
		if calls > 0 && calls%marksPerInterval == 0 {
			interval *= 2
		}
		calls++
		return (pos/interval + 1) * interval
	}
}

// markReply records a 110 reply to one of our markers, whose text (yyyy,
// the decimal offset in the local data) we sent. A reply that does not
// parse is ignored: it is informational, and the transfer's final reply
// still decides its outcome.
func (m *Marks) markReply(msg string) {
	sent, server, err := ftp.ParseMarkReply(msg)
	if err != nil {
		return
	}
	if local, err := strconv.ParseInt(sent, 10, 64); err == nil {
		m.record(Mark{Local: local, Server: server})
	}
}

// setMode sends MODE when the transfer needs another than the
// connection's: B when block is asked for, else Z when compress is and
// the server offers it, else S. It returns the mode the transfer runs
// in: a server that announces MODE Z but refuses it gets S (and is not
// asked again); one that refuses MODE B is an error. A connection where
// MODE was never sent is in stream mode (RFC 959 §5.1).
func (cn *conn) setMode(block, compress bool) (byte, error) {
	want := byte('S')
	switch {
	case block:
		want = 'B'
	case cn.c.useModeZ(compress):
		want = 'Z'
	}
	if cn.mode == want || cn.mode == 0 && want == 'S' {
		return want, nil
	}
	if _, err := cn.ok("MODE %c", want); err != nil {
		switch {
		case want == 'B' && isUnsupported(err):
			return 0, unsupported("block mode (MODE B)", err)
		case want == 'Z' && isUnsupported(err):
			cn.c.log.Info("server announces MODE Z but refuses it; transferring uncompressed", "err", err)
			cn.c.noModeZ.Store(true)
			return cn.setMode(false, false)
		}
		return 0, err
	}
	cn.mode = want
	return want, nil
}

// blockDownload reads the data of a block-mode download from d; each
// server marker is recorded with the local offset all the data before it
// has reached: base plus what delivered says the caller has been given.
func blockDownload(d io.Reader, marks *Marks, base int64, delivered func() int64) io.Reader {
	br := ftp.NewBlockReader(d)
	br.OnMark = func(marker []byte) error {
		marks.record(Mark{Local: base + delivered(), Server: string(marker)})
		return nil
	}
	return br
}
