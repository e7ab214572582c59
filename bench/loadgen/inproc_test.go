package main

// In-process benchmarks: a real ferry server (ftpserver over
// storage/localfs) on 127.0.0.1:0, driven by the same client as the
// comparative runs, and the bare kernel paths ferry's transfers use, so a
// gap between the two shows where the time goes.
//
//	go test -bench . -benchtime 10x ./bench/loadgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
)

const benchFileSize = 64 << 20

// startFerry serves dir read-write to user "bench" (password "bench").
func startFerry(b *testing.B, dir string, mutate ...func(*ftpserver.Server)) dialOptions {
	b.Helper()
	fsys, err := localfs.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	srv := &ftpserver.Server{
		Logger:         slog.New(slog.DiscardHandler),
		LoginFailDelay: -1,
		Auth: ftpserver.AuthFunc(func(ctx context.Context, _ ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "bench" && pass == "bench" {
				return &ftpserver.Account{User: user, FS: fsys, Write: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		}),
	}
	for _, m := range mutate {
		m(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close(); fsys.Close() })
	return dialOptions{addr: ln.Addr().String(), user: "bench", pass: "bench"}
}

func writeTestFile(b *testing.B, name string, size int) {
	b.Helper()
	if err := os.WriteFile(name, randomBuffer(size, 3), 0o644); err != nil {
		b.Fatal(err)
	}
}

func benchDial(b *testing.B, o dialOptions) *client {
	b.Helper()
	cl, err := dial(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.quit)
	return cl
}

func BenchmarkFerryRETR(b *testing.B) {
	dir := b.TempDir()
	writeTestFile(b, filepath.Join(dir, "f"), benchFileSize)
	cl := benchDial(b, startFerry(b, dir))
	buf := make([]byte, readSize)
	b.SetBytes(benchFileSize)
	for b.Loop() {
		if n, err := cl.transferIn("RETR f", buf, nil); err != nil || n != benchFileSize {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkFerrySTOR(b *testing.B) {
	for _, mode := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadDirect} {
		b.Run(mode.String(), func(b *testing.B) {
			cl := benchDial(b, startFerry(b, b.TempDir(), func(s *ftpserver.Server) { s.Upload = mode }))
			buf := randomBuffer(readSize, 4)
			b.SetBytes(benchFileSize)
			for b.Loop() {
				if err := cl.store("f", benchFileSize, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFerrySmallRETR(b *testing.B) {
	dir := b.TempDir()
	writeTestFile(b, filepath.Join(dir, "f"), 4096)
	cl := benchDial(b, startFerry(b, dir))
	buf := make([]byte, readSize)
	b.SetBytes(4096)
	for b.Loop() {
		if n, err := cl.transferIn("RETR f", buf, nil); err != nil || n != 4096 {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkFerryListing(b *testing.B) {
	dir := b.TempDir()
	for i := range 10000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("entry-%05d.dat", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cl := benchDial(b, startFerry(b, dir))
	buf := make([]byte, readSize)
	for _, verb := range []string{"LIST", "MLSD"} {
		b.Run(verb, func(b *testing.B) {
			for b.Loop() {
				n, err := cl.transferIn(verb, buf, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(n)
			}
		})
	}
}

// loopbackPair returns the two ends of a loopback TCP connection.
func loopbackPair(b *testing.B) (*net.TCPConn, *net.TCPConn) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		b.Fatal("accept failed")
	}
	b.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// BenchmarkKernelReceive writes benchFileSize bytes from a loopback socket
// into a file the ways an FTP server can: splice(2) as os.File.ReadFrom
// does (ferry's STOR path), or read(2)+write(2) through a user buffer
// (vsftpd, Pure-FTPd). No fsync: this is the copy alone.
func BenchmarkKernelReceive(b *testing.B) {
	for _, tc := range []struct {
		name string
		buf  int
	}{{"splice", 0}, {"copy64KiB", 64 << 10}, {"copy1MiB", 1 << 20}} {
		b.Run(tc.name, func(b *testing.B) {
			sender, receiver := loopbackPair(b)
			src := randomBuffer(readSize, 5)
			f, err := os.Create(filepath.Join(b.TempDir(), "f"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var buf []byte
			if tc.buf > 0 {
				buf = make([]byte, tc.buf)
			}
			b.SetBytes(benchFileSize)
			for b.Loop() {
				go func() {
					for left := benchFileSize; left > 0; left -= len(src) {
						sender.Write(src)
					}
				}()
				f.Seek(0, io.SeekStart)
				lr := &io.LimitedReader{R: receiver, N: benchFileSize}
				var n int64
				if buf == nil {
					n, err = f.ReadFrom(lr)
				} else {
					n, err = io.CopyBuffer(writerOnly{f}, readerOnly{lr}, buf)
				}
				if err != nil || n != benchFileSize {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// BenchmarkKernelSend sends a cached file into a loopback socket drained
// with 1 MiB reads: sendfile(2) (ferry's RETR path) or read(2)+write(2).
func BenchmarkKernelSend(b *testing.B) {
	name := filepath.Join(b.TempDir(), "f")
	writeTestFile(b, name, benchFileSize)
	for _, tc := range []struct {
		name string
		buf  int
	}{{"sendfile", 0}, {"copy64KiB", 64 << 10}, {"copy1MiB", 1 << 20}} {
		b.Run(tc.name, func(b *testing.B) {
			sender, receiver := loopbackPair(b)
			var buf []byte
			if tc.buf > 0 {
				buf = make([]byte, tc.buf)
			}
			rbuf := make([]byte, readSize)
			b.SetBytes(benchFileSize)
			for b.Loop() {
				done := make(chan error, 1)
				go func() {
					f, err := os.Open(name)
					if err != nil {
						done <- err
						return
					}
					defer f.Close()
					if buf == nil {
						_, err = sender.ReadFrom(f)
					} else {
						_, err = io.CopyBuffer(writerOnly{sender}, readerOnly{f}, buf)
					}
					done <- err
				}()
				for left := int64(benchFileSize); left > 0; {
					n, err := receiver.Read(rbuf)
					if err != nil {
						b.Fatal(err)
					}
					left -= int64(n)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
