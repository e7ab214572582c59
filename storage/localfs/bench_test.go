package localfs

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
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

// BenchmarkDurableUpload512M times an upload of 512 MiB from a loopback
// TCP connection, copied as the server does (256 KiB ReadFrom calls, so
// splice), until Commit has made it durable: the time to 226. (Writeback
// with sync_file_range during the transfer was tried against it and did not
// win: bench/RESULTS.md.)
func BenchmarkDurableUpload512M(b *testing.B) {
	const size = 512 << 20
	dir := b.TempDir()
	fsys, err := New(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer fsys.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i * 7)
	}
	b.SetBytes(size)
	for range b.N {
		b.StopTimer()
		os.Remove(filepath.Join(dir, "big"))
		syncFS(dir) // start each round with nothing left to write
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return
			}
			defer c.Close()
			for sent := 0; sent < size; sent += len(block) {
				if _, err := c.Write(block); err != nil {
					return
				}
			}
		}()
		conn, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		w, err := fsys.Create(context.Background(), "/big", ftpserver.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rf := w.(io.ReaderFrom)
		total := int64(0)
		for {
			n, err := rf.ReadFrom(&io.LimitedReader{R: conn, N: 256 << 10})
			total += n
			if err != nil {
				b.Fatal(err)
			}
			if n < 256<<10 {
				break
			}
		}
		if err := w.Commit(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		conn.Close()
		if total != size {
			b.Fatalf("received %d bytes", total)
		}
		b.StartTimer()
	}
}

// syncFS flushes the file system holding dir.
func syncFS(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
	exec.Command("sync").Run()
}
