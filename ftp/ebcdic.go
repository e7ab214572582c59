package ftp

import "io"

// TYPE E (RFC 959 §3.1.1.2) sends text as 8-bit EBCDIC. ferry stores text
// as Latin-1 (of which ASCII is the lower half) with LF line ends, and
// speaks IBM code page 037 (CCSID 37, US/Canada EBCDIC) on the wire: like
// Latin-1 it has 256 code points, so every byte maps to exactly one byte
// and back.
//
// Line ends. RFC 959 says an EBCDIC end of line is <NL> (0x15), and z/OS
// FTP and the z/OS UNIX conversion tables (IBM-037 <-> ISO8859-1) pair NL
// with LF: 0x15 <-> 0x0A, and so EBCDIC LF 0x25 <-> U+0085 (NEL), the
// code point the strict code-page chart gives to 0x15. Swapping the two
// keeps the mapping one-to-one while an LF-terminated file travels as NL
// lines. Python's codecs 'cp037' is the strict chart (0x15 <-> U+0085,
// 0x25 <-> LF); the tests use it as an oracle for every other byte.
//
// ebcdicToLatin1 is the code page 037 chart, row by row: entry 0xXY is the
// Latin-1 (ISO 8859-1) code point of EBCDIC byte 0xXY, before the NL/LF
// swap above is applied.
var ebcdicToLatin1 = [256]byte{
	/* 0x00 */ 0x00, 0x01, 0x02, 0x03, 0x9C, 0x09, 0x86, 0x7F, 0x97, 0x8D, 0x8E, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
	/* 0x10 */ 0x10, 0x11, 0x12, 0x13, 0x9D, 0x85, 0x08, 0x87, 0x18, 0x19, 0x92, 0x8F, 0x1C, 0x1D, 0x1E, 0x1F,
	/* 0x20 */ 0x80, 0x81, 0x82, 0x83, 0x84, 0x0A, 0x17, 0x1B, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x05, 0x06, 0x07,
	/* 0x30 */ 0x90, 0x91, 0x16, 0x93, 0x94, 0x95, 0x96, 0x04, 0x98, 0x99, 0x9A, 0x9B, 0x14, 0x15, 0x9E, 0x1A,
	/* 0x40 */ 0x20, 0xA0, 0xE2, 0xE4, 0xE0, 0xE1, 0xE3, 0xE5, 0xE7, 0xF1, 0xA2, 0x2E, 0x3C, 0x28, 0x2B, 0x7C,
	/* 0x50 */ 0x26, 0xE9, 0xEA, 0xEB, 0xE8, 0xED, 0xEE, 0xEF, 0xEC, 0xDF, 0x21, 0x24, 0x2A, 0x29, 0x3B, 0xAC,
	/* 0x60 */ 0x2D, 0x2F, 0xC2, 0xC4, 0xC0, 0xC1, 0xC3, 0xC5, 0xC7, 0xD1, 0xA6, 0x2C, 0x25, 0x5F, 0x3E, 0x3F,
	/* 0x70 */ 0xF8, 0xC9, 0xCA, 0xCB, 0xC8, 0xCD, 0xCE, 0xCF, 0xCC, 0x60, 0x3A, 0x23, 0x40, 0x27, 0x3D, 0x22,
	/* 0x80 */ 0xD8, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0xAB, 0xBB, 0xF0, 0xFD, 0xFE, 0xB1,
	/* 0x90 */ 0xB0, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70, 0x71, 0x72, 0xAA, 0xBA, 0xE6, 0xB8, 0xC6, 0xA4,
	/* 0xA0 */ 0xB5, 0x7E, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0xA1, 0xBF, 0xD0, 0xDD, 0xDE, 0xAE,
	/* 0xB0 */ 0x5E, 0xA3, 0xA5, 0xB7, 0xA9, 0xA7, 0xB6, 0xBC, 0xBD, 0xBE, 0x5B, 0x5D, 0xAF, 0xA8, 0xB4, 0xD7,
	/* 0xC0 */ 0x7B, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0xAD, 0xF4, 0xF6, 0xF2, 0xF3, 0xF5,
	/* 0xD0 */ 0x7D, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F, 0x50, 0x51, 0x52, 0xB9, 0xFB, 0xFC, 0xF9, 0xFA, 0xFF,
	/* 0xE0 */ 0x5C, 0xF7, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0xB2, 0xD4, 0xD6, 0xD2, 0xD3, 0xD5,
	/* 0xF0 */ 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0xB3, 0xDB, 0xDC, 0xD9, 0xDA, 0x9F,
}

// EBCDIC control characters with a meaning for line ends.
const (
	EBCDICNewLine  = 0x15 // NL: the TYPE E end of line
	EBCDICLineFeed = 0x25 // LF: accepted after CR as a line end on upload
	ebcdicCR       = 0x0D // CR, the same byte as in ASCII
)

// fromEBCDIC and toEBCDIC are the conversions ferry applies: the chart
// with the NL/LF swap. They are inverse permutations of the 256 bytes.
var fromEBCDIC, toEBCDIC = ebcdicTables()

func ebcdicTables() (from, to [256]byte) {
	from = ebcdicToLatin1
	from[EBCDICNewLine], from[EBCDICLineFeed] = '\n', 0x85
	for e, l := range from {
		to[l] = byte(e)
	}
	return from, to
}

// TextToEBCDIC returns the TYPE E wire byte for a byte of stored text.
func TextToEBCDIC(b byte) byte { return toEBCDIC[b] }

// EBCDICToText returns the stored-text byte for a TYPE E wire byte taken on
// its own (an NL is LF; see NewEBCDICDecoder for CR LF).
func EBCDICToText(b byte) byte { return fromEBCDIC[b] }

// ebcdicEncoder converts stored text to TYPE E for sending.
type ebcdicEncoder struct {
	w   io.Writer
	buf []byte
	err error // sticky: after a failed write the stream is broken
}

// NewEBCDICEncoder returns a writer that converts stored text (Latin-1,
// LF line ends) to the network form of TYPE E and writes it to w: each
// byte through code page 037, each LF as NL. The conversion is a fixed
// byte-for-byte map, so it is correct across any split of the input and
// never changes the length. Every Write passes its data on to w before it
// returns; there is nothing to flush.
func NewEBCDICEncoder(w io.Writer) io.Writer { return &ebcdicEncoder{w: w} }

func (ew *ebcdicEncoder) Write(p []byte) (int, error) {
	if ew.err != nil {
		return 0, ew.err
	}
	if ew.buf == nil && len(p) > 0 {
		ew.buf = make([]byte, asciiBufSize)
	}
	written := 0
	for written < len(p) {
		chunk := p[written:min(len(p), written+len(ew.buf))]
		out := ew.buf[:len(chunk)]
		for i, b := range chunk {
			out[i] = toEBCDIC[b]
		}
		if err := writeAll(ew.w, out); err != nil {
			ew.err = err
			return written, err
		}
		written += len(chunk)
	}
	return written, nil
}

// EBCDICDecoder converts text received in TYPE E to stored form.
type EBCDICDecoder struct {
	out       batcher
	pendingCR bool // the last byte seen was CR: its meaning waits for the next
	err       error
}

// NewEBCDICDecoder returns a writer that converts TYPE E data to stored
// text and writes it to w: each byte through code page 037, NL (0x15) as
// LF, and the EBCDIC pair CR LF (0x0D 0x25), which some clients send, as
// one LF too. A CR that ends one Write is held until the next byte shows
// which it is; call Flush when the stream ends.
func NewEBCDICDecoder(w io.Writer) *EBCDICDecoder {
	return &EBCDICDecoder{out: batcher{w: w}}
}

// Write converts p and writes it to the underlying writer before it
// returns, except for a CR at the end of p, which is counted as written
// but held back (see Flush). After a failed write, every later one fails
// with the same error.
func (d *EBCDICDecoder) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if d.out.buf == nil {
		d.out.buf = make([]byte, 0, asciiBufSize)
	}
	for _, b := range p {
		if d.pendingCR {
			d.pendingCR = false
			if b == EBCDICLineFeed {
				if err := d.put('\n'); err != nil {
					return 0, err
				}
				continue
			}
			if err := d.put('\r'); err != nil {
				return 0, err
			}
		}
		if b == ebcdicCR {
			d.pendingCR = true
			continue
		}
		if err := d.put(fromEBCDIC[b]); err != nil {
			return 0, err
		}
	}
	if err := d.out.flush(); err != nil {
		return d.fail(err)
	}
	return len(p), nil
}

// put queues one converted byte, writing the buffer out when it is full.
func (d *EBCDICDecoder) put(b byte) error {
	if len(d.out.buf) == cap(d.out.buf) {
		if err := d.out.flush(); err != nil {
			d.fail(err)
			return err
		}
	}
	d.out.buf = append(d.out.buf, b)
	return nil
}

func (d *EBCDICDecoder) fail(err error) (int, error) {
	d.err = err
	return 0, err
}

// Flush writes a CR held back at the end of the last Write. It does not
// flush the underlying writer.
func (d *EBCDICDecoder) Flush() error {
	if d.err != nil {
		return d.err
	}
	if !d.pendingCR {
		return nil
	}
	d.pendingCR = false
	if err := writeAll(d.out.w, cr); err != nil {
		d.err = err
		return err
	}
	return nil
}
