package s3fs

import (
	"errors"
	"io"
	"sync"
)

// bufChunk is the unit of memory that uploads and downloads hold. A part
// being uploaded or a range read ahead is a list of chunks, so memory
// follows the data (a 10-byte upload holds one chunk, not a whole part)
// and one pool serves every part size.
const bufChunk = 1 << 20

var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, bufChunk)
	return &b
}}

// chunkBuf holds bytes in pooled chunks. It reads back its content as an
// io.ReadSeeker, so minio-go can retry a request by seeking to the start.
type chunkBuf struct {
	chunks []*[]byte
	size   int64 // bytes held
	off    int64 // read position
}

// tail returns the free space at the end, at most limit-size bytes,
// taking a new chunk when the last one is full. It is empty once size
// reaches limit.
func (b *chunkBuf) tail(limit int64) []byte {
	room := limit - b.size
	if room <= 0 {
		return nil
	}
	used := int(b.size % bufChunk)
	if used == 0 && b.size == int64(len(b.chunks))*bufChunk {
		b.chunks = append(b.chunks, chunkPool.Get().(*[]byte))
	}
	last := *b.chunks[len(b.chunks)-1]
	free := last[used:]
	if int64(len(free)) > room {
		free = free[:room]
	}
	return free
}

// write appends as much of p as fits below limit.
func (b *chunkBuf) write(p []byte, limit int64) int {
	n := 0
	for len(p) > 0 {
		t := b.tail(limit)
		if len(t) == 0 {
			break
		}
		c := copy(t, p)
		b.size += int64(c)
		p = p[c:]
		n += c
	}
	return n
}

// readOnce makes one Read from r into the free space below limit, so the
// data goes straight from the connection into the buffer.
func (b *chunkBuf) readOnce(r io.Reader, limit int64) (int64, error) {
	t := b.tail(limit)
	if len(t) == 0 {
		return 0, nil
	}
	n, err := r.Read(t)
	b.size += int64(n)
	return int64(n), err
}

// fill reads exactly n bytes from r.
func (b *chunkBuf) fill(r io.Reader, n int64) error {
	limit := b.size + n
	for empty := 0; b.size < limit; {
		got, err := b.readOnce(r, limit)
		switch {
		case b.size == limit:
			return nil
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		case err != nil:
			return err
		case got == 0:
			if empty++; empty > 100 {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// Read implements io.Reader over the held bytes.
func (b *chunkBuf) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	n := 0
	for len(p) > 0 && b.off < b.size {
		c := (*b.chunks[b.off/bufChunk])[b.off%bufChunk:]
		if rest := b.size - b.off; int64(len(c)) > rest {
			c = c[:rest]
		}
		k := copy(p, c)
		p = p[k:]
		n += k
		b.off += int64(k)
	}
	return n, nil
}

var errSeek = errors.New("s3fs: seek outside the buffer")

// Seek implements io.Seeker.
func (b *chunkBuf) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	}
	if offset < 0 || offset > b.size {
		return b.off, errSeek
	}
	b.off = offset
	return offset, nil
}

// release gives the chunks back to the pool. Only call it when nothing
// else can still read them.
func (b *chunkBuf) release() {
	for _, c := range b.chunks {
		chunkPool.Put(c)
	}
	b.drop()
}

// drop forgets the chunks without pooling them: after a failed request,
// the HTTP transport may still be reading the body in the background
// (net/http allows RoundTrip to return before it is done with it), so
// the memory must not be reused.
func (b *chunkBuf) drop() {
	clear(b.chunks)
	b.chunks = b.chunks[:0]
	b.size, b.off = 0, 0
}
