// Package modez measures `ferry get --compress` (MODE Z) against a plain
// download of a text corpus over a rate-limited transfer: the server's
// download limit stands for a slow link (in MODE Z it counts the bytes on
// the wire). Run:
//
//	go test -run - -bench . -benchtime 3x ./bench/modez
//	go test -run - -bench . -benchtime 3x ./bench/modez -rate 1M -corpus-mib 16
//
// It reports the file's MB/s and the bytes on the wire per byte of file
// (wire/file). Figures belong in bench/RESULTS.md.
package modez

import (
	"bytes"
	"context"
	"flag"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/cli"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

var (
	rateFlag  = flag.Int("rate", 2<<20, "server download limit, bytes/s")
	corpusMiB = flag.Int("corpus-mib", 8, "size of the text corpus, MiB")
)

// corpus is real text: the Go standard library's sources, concatenated up
// to size.
func corpus(b *testing.B, size int) []byte {
	var out bytes.Buffer
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatalf("go env GOROOT: %v", err)
	}
	root := filepath.Join(strings.TrimSpace(string(goroot)), "src")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || out.Len() >= size {
			return filepath.SkipAll
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			data, err := os.ReadFile(p)
			if err == nil {
				out.Write(data)
			}
		}
		return nil
	})
	if out.Len() < size {
		b.Fatalf("corpus: only %d bytes of Go sources under %s", out.Len(), root)
	}
	return out.Bytes()[:size]
}

func BenchmarkGet(b *testing.B) {
	root := b.TempDir()
	data := corpus(b, *corpusMiB<<20)
	if err := os.WriteFile(filepath.Join(root, "corpus.txt"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	lfs, err := localfs.New(root)
	if err != nil {
		b.Fatal(err)
	}
	defer lfs.Close()
	srv := &ftpserver.Server{
		Logger:         slog.New(slog.DiscardHandler),
		LoginFailDelay: -1,
		Auth: ftpserver.AuthFunc(func(ctx context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			// A limiter per login: one user alone on a slow link.
			lim := rate.NewLimiter(rate.Limit(*rateFlag), max(4<<10, *rateFlag/4))
			return &ftpserver.Account{User: user, FS: lfs, DownloadLimit: lim}, nil
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	url := "ftp://bench:bench@" + ln.Addr().String() + "/corpus.txt"

	// What MODE Z puts on the wire for this corpus, at the server's level.
	var wire countingWriter
	dw := ftp.NewDeflateWriter(&wire, ftp.DefaultDeflateLevel)
	dw.Write(data)
	dw.Close()
	dw.Release()

	for _, mode := range []struct {
		name  string
		flags []string
		wire  int64
	}{
		{"plain", nil, int64(len(data))},
		{"compress", []string{"--compress"}, wire.n},
	} {
		b.Run(mode.name, func(b *testing.B) {
			local := filepath.Join(b.TempDir(), "corpus.txt")
			args := append([]string{"get", "--no-verify"}, mode.flags...)
			args = append(args, url, local)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var stderr bytes.Buffer
				env := cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr}
				if err := cli.Run(context.Background(), env, args); err != nil {
					b.Fatalf("ferry %v: %v\n%s", args, err, stderr.String())
				}
			}
			b.StopTimer()
			got, err := os.ReadFile(local)
			if err != nil || !bytes.Equal(got, data) {
				b.Fatalf("the download differs from the corpus (%d bytes, %v)", len(got), err)
			}
			b.ReportMetric(float64(mode.wire)/float64(len(data)), "wire/file")
		})
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
