package ftpclient

import (
	"io"

	"github.com/ferry-ftp/ferry/ftp"
)

// WithCompression makes every transfer (Retrieve, Open, Store, Append,
// List, NameList) use MODE Z, deflate compression of the data connection
// (draft-preston-ftpext-deflate, as lftp and FileZilla speak it), when the
// server announces it in FEAT; with a server that does not, or refuses
// it, transfers go in stream mode as usual. It pays on text over slow
// links, and costs CPU on both sides for data that is already compressed.
func WithCompression(on bool) Option {
	return func(c *config) { c.compress = on }
}

// Compress asks for MODE Z on this transfer alone, as WithCompression does
// for all of them.
func Compress() TransferOption {
	return func(t *transferConfig) { t.compress = true }
}

// useModeZ reports whether a transfer that wants compression can have it.
func (c *Client) useModeZ(want bool) bool {
	return want && c.feats.Has("MODE Z") && !c.noModeZ.Load()
}

// inflater reads a transfer's data from d: d itself, or in MODE Z its
// decompression. release gives back the decompressor.
func inflater(d io.Reader, z bool) (src io.Reader, release func()) {
	if !z {
		return d, func() {}
	}
	dr := ftp.NewDeflateReader(d)
	return dr, dr.Release
}

// deflater is the writer of a transfer's data to d: d itself, or in MODE Z
// a compressor; finish ends the stream (before the data connection
// closes) and release gives back the compressor.
func deflater(d io.Writer, z bool) (dst io.Writer, finish func() error, release func()) {
	if !z {
		return d, func() error { return nil }, func() {}
	}
	dw := ftp.NewDeflateWriter(d, ftp.DefaultDeflateLevel)
	return dw, dw.Close, dw.Release
}
