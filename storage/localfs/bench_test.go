package localfs

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkList10000 lists a 10,000-entry directory with the entries
// stat'ed one after the other and side by side through os.Root, and with
// the Linux pipeline (elsewhere "pipelined" is the os.Root lister again).
func BenchmarkList10000(b *testing.B) {
	dir := b.TempDir()
	for i := range 10000 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d", i)), nil, 0o644)
	}
	fsys, err := New(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer fsys.Close()
	for _, mode := range []struct {
		name string
		min  int
		fast bool
	}{{"sequential", math.MaxInt, false}, {"parallel", 64, false}, {"pipelined", 64, true}} {
		b.Run(mode.name, func(b *testing.B) {
			defer func(old int, fast bool) { parallelStatMin, fastListing = old, fast }(parallelStatMin, fastListing)
			parallelStatMin, fastListing = mode.min, mode.fast
			for range b.N {
				l, err := fsys.List(context.Background(), "/")
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					batch, err := l.Next(256)
					n += len(batch)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				l.Close()
				if n != 10000 {
					b.Fatalf("listed %d", n)
				}
			}
		})
	}
}
