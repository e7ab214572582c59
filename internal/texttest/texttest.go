// Package texttest makes compressible text for tests of compressed
// transfers (MODE Z): numbered lines, so that a byte out of place shows.
package texttest

import (
	"bytes"
	"strconv"
)

// Lines returns n bytes of text in LF-ended lines that differ only in
// their number.
func Lines(n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 64)
	for i := 0; b.Len() < n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteString(" the quick brown fox jumps over the lazy dog; ferry MODE Z\n")
	}
	return b.Bytes()[:n]
}
