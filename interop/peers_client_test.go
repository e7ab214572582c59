package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testcert"
)

// Our client library (ftpclient) against every peer: the same calls, the
// same expectations, checked on the bytes the server wrote to disk.

// bigData is 64 MiB, made once for every test that needs it.
var bigData = sync.OnceValue(func() []byte { return testData(4, 64<<20) })

func peerContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// hashWriter counts and digests what a download writes.
type hashWriter struct {
	n int64
	w interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func newHashWriter() *hashWriter { return &hashWriter{w: sha256.New()} }

func (hw *hashWriter) Write(p []byte) (int, error) {
	hw.n += int64(len(p))
	return hw.w.Write(p)
}

func (hw *hashWriter) sum() string { return hex.EncodeToString(hw.w.Sum(nil)) }

// wantFileSum is wantFile for large files: it compares digests.
func wantFileSum(t *testing.T, name string, want []byte) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Errorf("opening %s: %v", name, err)
		return
	}
	defer f.Close()
	hw := newHashWriter()
	if _, err := io.Copy(hw, f); err != nil {
		t.Fatal(err)
	}
	if got := hw.sum(); hw.n != int64(len(want)) || got != sum(want) {
		t.Errorf("%s: got %d bytes (sha256 %s), want %d bytes (sha256 %s)", name, hw.n, got, len(want), sum(want))
	}
}

// retrieveSum downloads path and fails the test unless it is want.
func retrieveSum(t *testing.T, ctx context.Context, c *ftpclient.Client, path string, want []byte) {
	t.Helper()
	hw := newHashWriter()
	n, err := c.Retrieve(ctx, path, 0, hw)
	if err != nil {
		t.Errorf("Retrieve(%q): %v", path, err)
		return
	}
	if n != int64(len(want)) || hw.n != n || hw.sum() != sum(want) {
		t.Errorf("Retrieve(%q): got %d bytes (sha256 %s), want %d bytes (sha256 %s)", path, hw.n, hw.sum(), len(want), sum(want))
	}
}

// TestPeersTransfer uploads and downloads files from empty to 64 MiB,
// in directories whose names have spaces and non-ASCII letters, in
// passive and in active mode.
func TestPeersTransfer(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		ctx := peerContext(t)
		for _, mode := range []struct {
			name   string
			active bool
		}{{"passive", false}, {"active", true}} {
			t.Run(mode.name, func(t *testing.T) {
				c := p.dial(t, ftpclient.WithActive(mode.active))
				dir := mode.name + " ünï 名前"
				if err := c.Mkdir(ctx, dir); err != nil {
					t.Fatalf("Mkdir: %v", err)
				}
				files := []struct {
					name string
					data []byte
				}{
					{"empty", nil},
					{"one byte", []byte{'\n'}},
					{"with space é.bin", testData(1, 1<<20+7)},
				}
				if !mode.active {
					files = append(files, struct {
						name string
						data []byte
					}{"big.bin", bigData()})
				}
				for _, f := range files {
					remote := dir + "/" + f.name
					n, err := c.Store(ctx, remote, bytes.NewReader(f.data), 0)
					if err != nil || n != int64(len(f.data)) {
						t.Fatalf("Store(%q): %d bytes, %v", remote, n, err)
					}
					wantFileSum(t, p.local(remote), f.data)
					retrieveSum(t, ctx, c, remote, f.data)
				}
				// A file the test put there, not the client.
				data := testData(2, 300001)
				p.writeFile(t, dir+"/from disk.bin", data)
				retrieveSum(t, ctx, c, dir+"/from disk.bin", data)
			})
		}
	})
}

// TestPeersListStat lists a directory and describes its entries.
func TestPeersListStat(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		ctx := peerContext(t)
		mtime := time.Date(2021, 7, 8, 9, 10, 11, 0, time.UTC)
		files := map[string]int{"a.bin": 1234, "with space.txt": 0, "ünï 名前.txt": 70000}
		for name, size := range files {
			writeFile(t, p.local("list/"+name), testData(uint64(size), size))
			if err := os.Chtimes(p.local("list/"+name), mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(p.local("list/sub dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		p.settle(t)
		c := p.dial(t)

		entries, err := c.List(ctx, "list")
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name)
			switch size, isFile := files[e.Name]; {
			case e.Name == "sub dir":
				if !e.IsDir() {
					t.Errorf("%q listed as %q, not a directory", e.Name, e.Type)
				}
			case isFile:
				if e.IsDir() || e.Size != int64(size) {
					t.Errorf("%q listed as type %q size %d, want a file of %d bytes", e.Name, e.Type, e.Size, size)
				}
				// LIST shows a date this old to the day at best.
				if y, m, d := e.ModTime.Date(); y != 2021 || m != 7 || d != 8 {
					t.Errorf("%q listed with time %v, want %v", e.Name, e.ModTime, mtime)
				}
			}
		}
		slices.Sort(names)
		if want := []string{"a.bin", "sub dir", "with space.txt", "ünï 名前.txt"}; !slices.Equal(names, want) {
			t.Errorf("List = %q, want %q", names, want)
		}

		e, err := c.Stat(ctx, "list/ünï 名前.txt")
		if err != nil {
			t.Fatalf("Stat of a file: %v", err)
		}
		if e.Name != "ünï 名前.txt" || e.IsDir() || e.Size != 70000 || !e.ModTime.Equal(mtime) {
			t.Errorf("Stat of a file = %+v, want a file of 70000 bytes modified %v", e, mtime)
		}
		if e, err := c.Stat(ctx, "list/sub dir"); err != nil || !e.IsDir() {
			t.Errorf("Stat of a directory = %+v, %v", e, err)
		}
		if _, err := c.Stat(ctx, "list/missing"); !ftpclient.IsNotExist(err) {
			t.Errorf("Stat of a missing file: %v, want a not-exist error", err)
		}
		if size, err := c.Size(ctx, "list/a.bin"); err != nil || size != 1234 {
			t.Errorf("Size = %d, %v; want 1234", size, err)
		}
		if mt, err := c.ModTime(ctx, "list/a.bin"); err != nil || !mt.Equal(mtime) {
			t.Errorf("ModTime = %v, %v; want %v", mt, err, mtime)
		}

		// What mirror does to keep times: MFMT, or vsftpd's MDTM with
		// two arguments.
		newTime := time.Date(2020, 2, 29, 23, 59, 58, 0, time.UTC)
		if err := c.SetModTime(ctx, "list/a.bin", newTime); err != nil {
			t.Fatalf("SetModTime: %v", err)
		}
		fi, err := os.Stat(p.local("list/a.bin"))
		if err != nil || !fi.ModTime().Equal(newTime) {
			t.Errorf("after SetModTime the file on disk has time %v (%v), want %v", fi.ModTime(), err, newTime)
		}
		if mt, err := c.ModTime(ctx, "list/a.bin"); err != nil || !mt.Equal(newTime) {
			t.Errorf("ModTime after SetModTime = %v, %v; want %v", mt, err, newTime)
		}
	})
}

// TestPeersDirectories makes, renames and removes files and directories.
func TestPeersDirectories(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		ctx := peerContext(t)
		c := p.dial(t)
		must := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		must("Mkdir", c.Mkdir(ctx, "new dir ü"))
		must("Mkdir nested", c.Mkdir(ctx, "new dir ü/inner"))
		if _, err := os.Stat(p.local("new dir ü/inner")); err != nil {
			t.Errorf("Mkdir made nothing on disk: %v", err)
		}
		if err := c.Mkdir(ctx, "new dir ü"); err == nil {
			t.Error("Mkdir of an existing directory succeeded")
		}
		data := testData(3, 5000)
		_, err := c.Store(ctx, "new dir ü/inner/f.bin", bytes.NewReader(data), 0)
		must("Store", err)

		must("Rename a file", c.Rename(ctx, "new dir ü/inner/f.bin", "new dir ü/moved 名前.bin"))
		wantFile(t, p.local("new dir ü/moved 名前.bin"), data)
		wantNoFile(t, p.local("new dir ü/inner/f.bin"))
		must("Rename a directory", c.Rename(ctx, "new dir ü/inner", "renamed dir"))
		if fi, err := os.Stat(p.local("renamed dir")); err != nil || !fi.IsDir() {
			t.Errorf("the renamed directory is not on disk: %v", err)
		}
		if err := c.Rename(ctx, "no such file", "x"); !ftpclient.IsNotExist(err) {
			t.Errorf("Rename of a missing file: %v, want a not-exist error", err)
		}

		if err := c.RemoveDir(ctx, "new dir ü"); err == nil {
			t.Error("RemoveDir of a directory that is not empty succeeded")
		}
		must("Remove", c.Remove(ctx, "new dir ü/moved 名前.bin"))
		wantNoFile(t, p.local("new dir ü/moved 名前.bin"))
		if err := c.Remove(ctx, "new dir ü/moved 名前.bin"); !ftpclient.IsNotExist(err) {
			t.Errorf("Remove of a missing file: %v, want a not-exist error", err)
		}
		must("RemoveDir", c.RemoveDir(ctx, "new dir ü"))
		must("RemoveDir", c.RemoveDir(ctx, "renamed dir"))
		wantNoFile(t, p.local("new dir ü"))
		wantNoFile(t, p.local("renamed dir"))
		var fe *ftp.Error
		if err := c.RemoveDir(ctx, "renamed dir"); !errors.As(err, &fe) || fe.Code != 550 {
			t.Errorf("RemoveDir of a missing directory: %v, want a 550 reply", err)
		}
	})
}

// TestPeersResume downloads from an offset (REST + RETR) and completes an
// upload from an offset (REST + STOR), and appends (APPE).
func TestPeersResume(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		ctx := peerContext(t)
		c := p.dial(t)
		data := testData(5, 3<<20+11)
		p.writeFile(t, "r/data.bin", data)

		for _, offset := range []int64{1, 1 << 20, int64(len(data)) - 1, int64(len(data))} {
			var b bytes.Buffer
			n, err := c.Retrieve(ctx, "r/data.bin", offset, &b)
			if err != nil || n != int64(len(data))-offset || !bytes.Equal(b.Bytes(), data[offset:]) {
				t.Errorf("Retrieve at %d: %d bytes, %v; want the last %d bytes", offset, n, err, int64(len(data))-offset)
			}
		}
		// Open at an offset, read a little, close early: the session
		// goes on.
		r, err := c.Open(ctx, "r/data.bin", 2<<20)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		head := make([]byte, 1000)
		if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, data[2<<20:2<<20+1000]) {
			t.Errorf("Open at 2 MiB read %v", err)
		}
		r.Close()

		// What an interrupted upload left: its first 1 MiB + 5 bytes.
		up := testData(6, 2<<20+3)
		cut := int64(1<<20 + 5)
		p.writeFile(t, "r/up.bin", up[:cut])
		n, err := c.Store(ctx, "r/up.bin", bytes.NewReader(up[cut:]), cut)
		if err != nil || n != int64(len(up))-cut {
			t.Fatalf("Store at %d: %d bytes, %v", cut, n, err)
		}
		wantFileSum(t, p.local("r/up.bin"), up)

		// APPE: the same from the end of the file.
		p.writeFile(t, "r/appended.bin", up[:cut])
		if _, err := c.Append(ctx, "r/appended.bin", bytes.NewReader(up[cut:])); err != nil {
			t.Fatalf("Append: %v", err)
		}
		wantFileSum(t, p.local("r/appended.bin"), up)
		retrieveSum(t, ctx, c, "r/appended.bin", up)
	})
}

// TestPeersAbort stops downloads early (ABOR) in the middle of a large
// file, and at its very end, and goes on using the connection. Pure-FTPd
// answers an ABOR that interrupts a blocked send with a stray "150" line
// and a single 226 (no 426 for the transfer).
func TestPeersAbort(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		ctx := peerContext(t)
		data := testData(15, 32<<20)
		p.writeFile(t, "big.bin", data)
		small := testData(16, 70000)
		p.writeFile(t, "small.bin", small)
		// One connection, so that every call reuses the aborted one; a
		// short timeout, so that a reply that never comes fails fast.
		c := p.dial(t, ftpclient.WithPoolSize(1), ftpclient.WithTimeout(10*time.Second))
		for _, tc := range []struct {
			name         string
			offset, read int64
		}{
			{"after 1 KiB", 0, 1 << 10},
			{"after 8 MiB", 0, 8 << 20},
			{"1 KiB before the end", int64(len(data)) - 2<<10, 1 << 10},
		} {
			r, err := c.Open(ctx, "big.bin", tc.offset)
			if err != nil {
				t.Fatalf("%s: Open: %v", tc.name, err)
			}
			got := make([]byte, tc.read)
			if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, data[tc.offset:tc.offset+tc.read]) {
				t.Errorf("%s: reading: %v", tc.name, err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("%s: Close (ABOR): %v", tc.name, err)
			}
			retrieveSum(t, ctx, c, "small.bin", small)
		}
	})
}

// TestPeersConcurrent runs transfers on several pooled connections at
// once.
func TestPeersConcurrent(t *testing.T) {
	t.Parallel()
	forEachPeer(t, func(t *testing.T, p *peer) {
		ctx := peerContext(t)
		c := p.dial(t, ftpclient.WithPoolSize(6))
		if err := c.Mkdir(ctx, "c"); err != nil {
			t.Fatalf("Mkdir: %v", err)
		}
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				data := testData(uint64(100+i), 200000+i)
				name := "c/file " + strings.Repeat("é", i%3) + string(rune('a'+i)) + ".bin"
				if _, err := c.Store(ctx, name, bytes.NewReader(data), 0); err != nil {
					t.Errorf("Store(%q): %v", name, err)
					return
				}
				retrieveSum(t, ctx, c, name, data)
			})
		}
		wg.Wait()
	})
}

// TestPeersTLS transfers over explicit FTPS: PROT P data connections
// that must resume their control connection's TLS session (vsftpd's
// require_ssl_reuse=YES; ferry always checks it). The servers refuse
// logins and transfers in clear.
func TestPeersTLS(t *testing.T) {
	t.Parallel()
	starts := []peerKind{
		{"ferry", func(t *testing.T) *peer {
			ts := startTLSServer(t, ftpserver.TLSPolicy{RequireLogin: true, RequireData: true})
			return &peer{name: "ferry", host: ts.host, port: ts.port, user: user, pass: password,
				home: ts.root, caFile: ts.caFile, uid: -1, gid: -1, logs: ts.logs.String}
		}},
		{"vsftpd", func(t *testing.T) *peer { return startVsftpd(t, testcert.New(t)) }},
	}
	for _, kind := range starts {
		t.Run(kind.name, func(t *testing.T) {
			p := kind.start(t)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s log (last 8 KiB):\n%s", p.name, lastBytes(p.logs(), 8<<10))
				}
			})
			ctx := peerContext(t)
			roots, err := os.ReadFile(p.caFile)
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(roots) {
				t.Fatalf("no certificate in %s", p.caFile)
			}
			conf := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

			// In clear: refused.
			if _, err := ftpclient.Dial(ctx, p.addr(), ftpclient.WithLogin(p.user, p.pass)); err == nil {
				t.Error("a login in clear succeeded")
			}

			c := p.dial(t, ftpclient.WithTLS(conf), ftpclient.WithPoolSize(3))
			data := testData(7, 8<<20+1)
			if _, err := c.Store(ctx, "tls ü.bin", bytes.NewReader(data), 0); err != nil {
				t.Fatalf("Store over TLS: %v", err)
			}
			wantFileSum(t, p.local("tls ü.bin"), data)
			retrieveSum(t, ctx, c, "tls ü.bin", data)
			var b bytes.Buffer
			if _, err := c.Retrieve(ctx, "tls ü.bin", 5<<20, &b); err != nil || !bytes.Equal(b.Bytes(), data[5<<20:]) {
				t.Errorf("Retrieve at an offset over TLS: %d bytes, %v", b.Len(), err)
			}
			entries, err := c.List(ctx, ".")
			if err != nil || !slices.ContainsFunc(entries, func(e ftp.Entry) bool { return e.Name == "tls ü.bin" }) {
				t.Errorf("List over TLS = %v, %v", entries, err)
			}
			// Several data connections at once, each resuming its own
			// control connection's session.
			var wg sync.WaitGroup
			for i := range 3 {
				wg.Go(func() {
					name := "tls-" + string(rune('a'+i))
					d := testData(uint64(8+i), 1<<20+i)
					if _, err := c.Store(ctx, name, bytes.NewReader(d), 0); err != nil {
						t.Errorf("Store(%s): %v", name, err)
						return
					}
					retrieveSum(t, ctx, c, name, d)
				})
			}
			wg.Wait()
		})
	}
}
