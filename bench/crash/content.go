package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
)

// A file's content is described, not stored: a list of slices of
// pseudo-random streams that can be regenerated at any offset. The model of
// eight workers with a dozen files of up to 8 MiB each then costs a few
// bytes per file, and the in-flight operation's partial outcomes (an append
// or resume cut short) are still checked byte for byte.
type segment struct {
	stream uint64 // which stream
	off, n int64  // the bytes [off, off+n) of that stream
}

type content []segment

// streamWord returns the 8 bytes at offset 8*block of stream s: SplitMix64
// of the pair, so that any offset can be generated without the ones before.
func streamWord(s uint64, block int64) uint64 {
	z := s*0xD1B54A32D192ED03 + uint64(block+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (c content) size() int64 {
	var n int64
	for _, s := range c {
		n += s.n
	}
	return n
}

// slice returns the bytes [from, to) of c.
func (c content) slice(from, to int64) content {
	var out content
	var pos int64
	for _, s := range c {
		lo, hi := max(from, pos), min(to, pos+s.n)
		if lo < hi {
			out = append(out, segment{stream: s.stream, off: s.off + lo - pos, n: hi - lo})
		}
		pos += s.n
	}
	return out
}

// concat returns c followed by more, without sharing c's backing array.
func (c content) concat(more ...content) content {
	out := append(content(nil), c...)
	for _, m := range more {
		out = append(out, m...)
	}
	return out
}

func (c content) reader() io.Reader { return &contentReader{segs: c} }

func (c content) bytes() []byte {
	b := make([]byte, c.size())
	io.ReadFull(c.reader(), b)
	return b
}

func (c content) sum() [sha256.Size]byte {
	h := sha256.New()
	io.Copy(h, c.reader())
	var s [sha256.Size]byte
	h.Sum(s[:0])
	return s
}

type contentReader struct {
	segs content
	done int64 // bytes of segs[0] already read
}

func (r *contentReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(r.segs) > 0 {
		s := r.segs[0]
		if r.done == s.n {
			r.segs, r.done = r.segs[1:], 0
			continue
		}
		k := fill(p[n:min(int64(len(p)), int64(n)+s.n-r.done)], s.stream, s.off+r.done)
		n += k
		r.done += int64(k)
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// fill writes the bytes of stream s from offset off into p.
func fill(p []byte, s uint64, off int64) int {
	var word [8]byte
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		binary.LittleEndian.PutUint64(word[:], streamWord(s, pos/8))
		n += copy(p[n:], word[pos%8:])
	}
	return n
}

// overlayPrefix reports whether got is old with a prefix of data written
// over it from offset at, that is old[:at] + data[:m] + tail for some m,
// where tail is old[at+m:] when keepTail (the file was written in place
// and not yet cut) and empty otherwise (the file was cut at at first, or
// grows past old's end). It returns m.
func overlayPrefix(got, old, data []byte, at int64, keepTail bool) (int64, bool) {
	if int64(len(got)) < at || int64(len(old)) < at || !bytes.Equal(got[:at], old[:at]) {
		return 0, false
	}
	rest := got[at:]
	common := int64(0) // how much of data follows old[:at]
	for common < int64(len(rest)) && common < int64(len(data)) && rest[common] == data[common] {
		common++
	}
	switch {
	case !keepTail || len(got) > len(old):
		// Nothing of old past at survives: got is old[:at] + data[:m].
		return common, common == int64(len(rest))
	case len(got) < len(old):
		return 0, false
	}
	// In place and within old's length: got[at+m:] must still be old's.
	// j is where the unchanged tail begins; any m in [j-at, common] works.
	j := int64(len(old))
	for j > at && got[j-1] == old[j-1] {
		j--
	}
	if m := j - at; m <= common {
		return m, true
	}
	return 0, false
}
