package cli

import "github.com/spf13/pflag"

// registerCompress adds --compress, for the commands that move file data
// (get, put, mirror).
func (f *remoteFlags) registerCompress(fl *pflag.FlagSet) {
	fl.BoolVar(&f.compress, "compress", false, "compress transfers (MODE Z) when the server offers it: faster for text over slow links")
}
