package ftpclient_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

func TestStoreRetrieveRoundTrip(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts.addr)
	ctx := testCtx(t)
	data := pattern(3<<20 + 17)
	n, err := c.Store(ctx, "/big.bin", bytes.NewReader(data), 0)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Store: %d, %v", n, err)
	}
	if got, _ := ts.fs.ReadFile("/big.bin"); !bytes.Equal(got, data) {
		t.Fatalf("server has %d bytes, want %d", len(got), len(data))
	}
	var buf bytes.Buffer
	n, err = c.Retrieve(ctx, "big.bin", 0, &buf) // relative to the login directory
	if err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("Retrieve: %d, %v (%d bytes)", n, err, buf.Len())
	}
	// An empty file.
	if _, err := c.Store(ctx, "/empty", strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if n, err := c.Retrieve(ctx, "/empty", 0, &buf); err != nil || n != 0 {
		t.Fatalf("Retrieve empty: %d, %v", n, err)
	}
}

func TestResume(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts.addr)
	ctx := testCtx(t)
	data := pattern(1<<20 + 3)
	ts.fs.WriteFile("/f", data)

	// Download the rest from an offset (REST + RETR).
	var buf bytes.Buffer
	n, err := c.Retrieve(ctx, "/f", 1000, &buf)
	if err != nil || n != int64(len(data)-1000) || !bytes.Equal(buf.Bytes(), data[1000:]) {
		t.Fatalf("Retrieve at 1000: %d, %v", n, err)
	}
	// At the very end: nothing.
	buf.Reset()
	if n, err := c.Retrieve(ctx, "/f", int64(len(data)), &buf); err != nil || n != 0 {
		t.Fatalf("Retrieve at the end: %d, %v", n, err)
	}
	// Past the end: the server refuses.
	if _, err := c.Retrieve(ctx, "/f", int64(len(data))+1, &buf); ftp.CodeOf(err) != ftp.CodeArgumentError {
		t.Fatalf("Retrieve past the end: %v", err)
	}

	// Upload a first part, then the rest at its offset (REST + STOR).
	half := len(data) / 2
	if _, err := c.Store(ctx, "/up", bytes.NewReader(data[:half]), 0); err != nil {
		t.Fatal(err)
	}
	n, err = c.Store(ctx, "/up", bytes.NewReader(data[half:]), int64(half))
	if err != nil || n != int64(len(data)-half) {
		t.Fatalf("Store at %d: %d, %v", half, n, err)
	}
	if got, _ := ts.fs.ReadFile("/up"); !bytes.Equal(got, data) {
		t.Fatalf("resumed upload: %d bytes, want %d", len(got), len(data))
	}
}

func TestFileOperations(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts.addr)
	ctx := testCtx(t)

	if err := c.Mkdir(ctx, "/dir"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mkdir(ctx, "dir/sub"); err != nil {
		t.Fatal(err)
	}
	err := c.Mkdir(ctx, "/dir")
	if ftp.CodeOf(err) != ftp.CodeActionNotTaken || ftpclient.IsNotExist(err) {
		t.Fatalf("Mkdir of an existing directory: %v (IsNotExist %v)", err, ftpclient.IsNotExist(err))
	}
	if _, err := c.Store(ctx, "/dir/a.txt", strings.NewReader("hello"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, "/dir/a.txt", strings.NewReader(", world")); err != nil {
		t.Fatal(err)
	}
	if got, _ := ts.fs.ReadFile("/dir/a.txt"); string(got) != "hello, world" {
		t.Fatalf("after Append: %q", got)
	}
	if size, err := c.Size(ctx, "/dir/a.txt"); err != nil || size != 12 {
		t.Fatalf("Size: %d, %v", size, err)
	}

	when := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := c.SetModTime(ctx, "/dir/a.txt", when); err != nil {
		t.Fatal(err)
	}
	if mt, err := c.ModTime(ctx, "/dir/a.txt"); err != nil || !mt.Equal(when) {
		t.Fatalf("ModTime: %v, %v", mt, err)
	}

	e, err := c.Stat(ctx, "/dir/a.txt")
	if err != nil || e.Name != "a.txt" || e.Type != "file" || e.Size != 12 || !e.ModTime.Equal(when) {
		t.Fatalf("Stat file: %+v, %v", e, err)
	}
	if e, err := c.Stat(ctx, "/dir"); err != nil || !e.IsDir() || e.Name != "dir" {
		t.Fatalf("Stat dir: %+v, %v", e, err)
	}
	if e, err := c.Stat(ctx, "/"); err != nil || !e.IsDir() {
		t.Fatalf("Stat root: %+v, %v", e, err)
	}
	_, err = c.Stat(ctx, "/dir/missing")
	if !ftpclient.IsNotExist(err) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat missing: %v", err)
	}
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != ftp.CodeActionNotTaken {
		t.Fatalf("Stat missing: %v is not a 550 *ftp.Error", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/dir/missing" {
		t.Fatalf("Stat missing: %v does not name the path", err)
	}

	entries, err := c.List(ctx, "/dir")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(entries); !slices.Equal(got, []string{"a.txt", "sub"}) {
		t.Fatalf("List: %v", got)
	}
	for _, e := range entries {
		if e.Name == "a.txt" && (e.Size != 12 || e.Type != "file" || !e.ModTime.Equal(when)) {
			t.Fatalf("List entry: %+v", e)
		}
		if e.Name == "sub" && !e.IsDir() {
			t.Fatalf("List entry: %+v", e)
		}
	}
	nl, err := c.NameList(ctx, "/dir")
	slices.Sort(nl)
	if err != nil || !slices.Equal(nl, []string{"a.txt", "sub"}) {
		t.Fatalf("NameList: %v, %v", nl, err)
	}

	if err := c.Rename(ctx, "/dir/a.txt", "/dir/sub/b.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.fs.ReadFile("/dir/sub/b.txt"); err != nil {
		t.Fatalf("after Rename: %v", err)
	}
	if err := c.Rename(ctx, "/nope", "/x"); !ftpclient.IsNotExist(err) {
		t.Fatalf("Rename of a missing file: %v", err)
	}
	if err := c.RemoveDir(ctx, "/dir/sub"); ftp.CodeOf(err) != ftp.CodeActionNotTaken || ftpclient.IsNotExist(err) {
		t.Fatalf("RemoveDir of a non-empty directory: %v", err)
	}
	if err := c.Remove(ctx, "/dir/sub/b.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "/dir/sub/b.txt"); !ftpclient.IsNotExist(err) {
		t.Fatalf("Remove of a missing file: %v", err)
	}
	if err := c.RemoveDir(ctx, "/dir/sub"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, "/dir/sub"); !ftpclient.IsNotExist(err) {
		t.Fatalf("removed directory: %v", err)
	}
}

func names(entries []ftp.Entry) []string {
	var n []string
	for _, e := range entries {
		n = append(n, e.Name)
	}
	slices.Sort(n)
	return n
}

func TestPermissionErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/f", []byte("x"))
	ctx := testCtx(t)
	c, err := ftpclient.Dial(ctx, ts.addr, ftpclient.WithLogin("bob", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Remove(ctx, "/f")
	if !ftpclient.IsPermission(err) || ftpclient.IsNotExist(err) || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Remove as read-only user: %v", err)
	}
	if _, err := c.Store(ctx, "/g", strings.NewReader("x"), 0); !ftpclient.IsPermission(err) {
		t.Fatalf("Store as read-only user: %v", err)
	}
}

func TestLoginFailure(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	_, err := ftpclient.Dial(testCtx(t), ts.addr, ftpclient.WithLogin("alice", "wrong"))
	if ftp.CodeOf(err) != ftp.CodeNotLoggedIn {
		t.Fatalf("Dial with a wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestAnonymousDefault(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/pub.txt", []byte("public"))
	ctx := testCtx(t)
	c, err := ftpclient.Dial(ctx, ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var buf bytes.Buffer
	if _, err := c.Retrieve(ctx, "/pub.txt", 0, &buf); err != nil || buf.String() != "public" {
		t.Fatalf("anonymous Retrieve: %q, %v", buf.String(), err)
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts.addr)
	ctx := testCtx(t)
	data := pattern(100000)
	ts.fs.WriteFile("/h", data)
	sha := sha256.Sum256(data)
	s1 := sha1.Sum(data)
	m5 := md5.Sum(data)
	crc := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	for _, tc := range []struct {
		algo string
		want []byte
	}{
		{"SHA-256", sha[:]}, {"sha1", s1[:]}, {"MD5", m5[:]}, {"crc32", crc}, {"sha256", sha[:]},
	} {
		got, err := c.Hash(ctx, "/h", tc.algo)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("Hash %s: %x, %v; want %x", tc.algo, got, err, tc.want)
		}
	}
	if _, err := c.Hash(ctx, "/h", "whirlpool"); !errors.Is(err, ftpclient.ErrUnsupported) {
		t.Errorf("Hash with an unknown algorithm: %v", err)
	}
	if _, err := c.Hash(ctx, "/missing", "SHA-256"); !ftpclient.IsNotExist(err) {
		t.Errorf("Hash of a missing file: %v", err)
	}
}

func TestFeaturesAndQuote(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts.addr)
	ctx := testCtx(t)
	f := c.Features()
	for _, name := range []string{"MLST", "EPSV", "SIZE", "mdtm", "REST", "HASH"} {
		if !f.Has(name) {
			t.Errorf("Features lacks %s: %v", name, f.Names())
		}
	}
	if p, _ := f.Param("REST"); p != "STREAM" {
		t.Errorf("REST parameter %q", p)
	}
	if c.Home() != "/" {
		t.Errorf("Home %q", c.Home())
	}
	code, msg, err := c.Quote(ctx, "SYST")
	if err != nil || code != ftp.CodeSystemType || !strings.Contains(msg, "UNIX") {
		t.Fatalf("Quote SYST: %d %q %v", code, msg, err)
	}
	code, _, err = c.Quote(ctx, "BOGUS")
	var fe *ftp.Error
	if code != 500 || !errors.As(err, &fe) || fe.Code != 500 {
		t.Fatalf("Quote BOGUS: %d %v", code, err)
	}
	if _, _, err := c.Quote(ctx, "RETR x"); err == nil {
		t.Fatal("Quote RETR was allowed")
	}
	if _, _, err := c.Quote(ctx, "NOOP\r\nDELE x"); err == nil {
		t.Fatal("Quote with a line break was allowed")
	}
	// A session-changing command does not poison the pool.
	if code, _, err := c.Quote(ctx, "TYPE A"); err != nil || code != 200 {
		t.Fatalf("Quote TYPE A: %d %v", code, err)
	}
	ts.fs.WriteFile("/crlf", []byte("a\r\nb\r\n"))
	var buf bytes.Buffer
	if _, err := c.Retrieve(ctx, "/crlf", 0, &buf); err != nil || buf.String() != "a\r\nb\r\n" {
		t.Fatalf("binary Retrieve after Quote TYPE A: %q, %v", buf.String(), err)
	}
}

func TestWalk(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for _, f := range []string{"/w/a", "/w/b/c", "/w/b/d/e", "/w/f/g"} {
		ts.fs.WriteFile(f, []byte(f))
	}
	c := dial(t, ts.addr)
	ctx := testCtx(t)
	var seen []string
	err := c.Walk(ctx, "/w", func(p string, e ftp.Entry, err error) error {
		if err != nil {
			return err
		}
		seen = append(seen, p)
		if p == "/w/f" {
			return fs.SkipDir
		}
		return nil
	})
	want := []string{"/w", "/w/a", "/w/b", "/w/b/c", "/w/b/d", "/w/b/d/e", "/w/f"}
	if err != nil || !slices.Equal(seen, want) {
		t.Fatalf("Walk: %v, %v; want %v", seen, err, want)
	}
	err = c.Walk(ctx, "/nothing", func(p string, e ftp.Entry, err error) error { return err })
	if !ftpclient.IsNotExist(err) {
		t.Fatalf("Walk of a missing root: %v", err)
	}
	seen = nil
	c.Walk(ctx, "/w", func(p string, e ftp.Entry, err error) error {
		seen = append(seen, p)
		if p == "/w/b/c" {
			return fs.SkipAll
		}
		return nil
	})
	if !slices.Equal(seen, want[:4]) {
		t.Fatalf("Walk with SkipAll: %v", seen)
	}
}

func TestPoolConcurrency(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	const poolSize = 3
	c := dial(t, ts.addr, ftpclient.WithPoolSize(poolSize))
	ctx := testCtx(t)
	concurrently(t, 8, 20, func(g, i int) error {
		name := fmt.Sprintf("/g%d-%d", g, i)
		data := pattern(1000 + g*100 + i)
		var err error
		switch i % 4 {
		case 0:
			_, err = c.Store(ctx, name, bytes.NewReader(data), 0)
		case 1:
			_, err = c.List(ctx, "/")
		case 2:
			_, err = c.Stat(ctx, "/incoming")
		case 3:
			if _, err = c.Store(ctx, name, bytes.NewReader(data), 0); err == nil {
				var buf bytes.Buffer
				if _, err = c.Retrieve(ctx, name, 0, &buf); err == nil && !bytes.Equal(buf.Bytes(), data) {
					err = fmt.Errorf("%s: got %d bytes, want %d", name, buf.Len(), len(data))
				}
			}
		}
		return err
	})
	if peak := ts.ln.peak.Load(); peak > poolSize || peak < 2 {
		t.Errorf("peak of %d control connections, want 2..%d", peak, poolSize)
	}
	c.Close()
	testwait.For(t, "every control connection to be closed after Close", func() bool { return ts.ln.open.Load() == 0 })
	if _, err := c.List(ctx, "/"); !errors.Is(err, ftpclient.ErrClosed) {
		t.Errorf("List after Close: %v", err)
	}
}

func TestPoolAdaptsToServerLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) { s.MaxSessionsPerIP = 2 })
	c := dial(t, ts.addr, ftpclient.WithPoolSize(6))
	ctx := testCtx(t)
	concurrently(t, 6, 5, func(int, int) error {
		entries, err := c.List(ctx, "/")
		if err == nil && (len(entries) != 1 || entries[0].Name != "incoming" || !entries[0].IsDir()) {
			err = fmt.Errorf("List / = %+v, want the directory incoming alone", entries)
		}
		return err
	})
	if n := ts.srv.SessionCount(); n > 2 {
		t.Errorf("%d sessions open, the server allows 2", n)
	}
}

func TestActiveMode(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	trace := &syncBuffer{}
	c := dial(t, ts.addr, ftpclient.WithActive(true), ftpclient.WithDebug(trace))
	ctx := testCtx(t)
	data := pattern(200000)
	if _, err := c.Store(ctx, "/act", bytes.NewReader(data), 0); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.Retrieve(ctx, "/act", 0, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("active Retrieve: %v", err)
	}
	if entries, err := c.List(ctx, "/"); err != nil || len(entries) != 2 {
		t.Fatalf("active List: %v, %v", entries, err)
	}
	if !strings.Contains(trace.String(), "> EPRT |1|127.0.0.1|") || strings.Contains(trace.String(), "> PASV") || strings.Contains(trace.String(), "> EPSV") {
		t.Fatalf("trace does not show active mode:\n%s", trace)
	}
}

func TestASCIITransfers(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts.addr)
	ctx := testCtx(t)
	// Stored with CRLF on the server: ASCII mode hands LF to the caller,
	// binary mode the bytes as they are.
	ts.fs.WriteFile("/dos.txt", []byte("one\r\ntwo\r\n"))
	var buf bytes.Buffer
	if _, err := c.Retrieve(ctx, "/dos.txt", 0, &buf, ftpclient.ASCII()); err != nil || buf.String() != "one\ntwo\n" {
		t.Fatalf("ASCII Retrieve: %q, %v", buf.String(), err)
	}
	r, err := c.Open(ctx, "/dos.txt", 0, ftpclient.ASCII())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "one\ntwo\n" {
		t.Fatalf("ASCII Open: %q, %v", got, err)
	}
	buf.Reset()
	if _, err := c.Retrieve(ctx, "/dos.txt", 0, &buf); err != nil || buf.String() != "one\r\ntwo\r\n" {
		t.Fatalf("binary Retrieve: %q, %v", buf.String(), err)
	}
	// Uploaded as text: the server stores its own (LF) form.
	if _, err := c.Store(ctx, "/up.txt", strings.NewReader("x\ny\n"), 0, ftpclient.ASCII()); err != nil {
		t.Fatal(err)
	}
	if got, _ := ts.fs.ReadFile("/up.txt"); string(got) != "x\ny\n" {
		t.Fatalf("ASCII Store: server has %q", got)
	}
	if _, err := c.Retrieve(ctx, "/up.txt", 5, &buf, ftpclient.ASCII()); err == nil {
		t.Fatal("ASCII Retrieve at an offset was allowed")
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	data := pattern(2 << 20)
	ts.fs.WriteFile("/o", data)
	trace := &syncBuffer{}
	c := dial(t, ts.addr, ftpclient.WithPoolSize(1), ftpclient.WithDebug(trace))
	ctx := testCtx(t)

	r, err := c.Open(ctx, "/o", 100)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data[100:]) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Closed early: the transfer is aborted and the connection reused.
	r, err = c.Open(ctx, "/o", 0)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 1000)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, data[:1000]) {
		t.Fatalf("ReadFull: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("early Close: %v", err)
	}
	if _, err := r.Read(head); err == nil {
		t.Fatal("Read after Close succeeded")
	}
	if size, err := c.Size(ctx, "/o"); err != nil || size != int64(len(data)) {
		t.Fatalf("Size after an aborted download: %d, %v", size, err)
	}
	if !strings.Contains(trace.String(), "> ABOR") {
		t.Fatalf("no ABOR in the trace:\n%s", trace)
	}
	if strings.Contains(trace.String(), "ftp[2]") {
		t.Fatalf("the aborted connection was not reused:\n%s", trace)
	}
	if _, err := c.Open(ctx, "/missing", 0); !ftpclient.IsNotExist(err) {
		t.Fatalf("Open of a missing file: %v", err)
	}
}

func TestDebugTraceMasksPassword(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	trace := &syncBuffer{}
	c := dial(t, ts.addr, ftpclient.WithDebug(trace))
	c.Close()
	out := trace.String()
	if strings.Contains(out, "secret") || !strings.Contains(out, "ftp[1] > PASS ****") || !strings.Contains(out, "ftp[1] > USER alice") {
		t.Fatalf("trace:\n%s", out)
	}
	if !strings.Contains(out, "ftp[1] < 230 ") || !strings.Contains(out, "ftp[1] > QUIT") {
		t.Fatalf("trace lacks replies or QUIT:\n%s", out)
	}
}

func TestLISTFallbackWithoutMLSx(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	// Recent, to the minute: that is what ls -l shows.
	when := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Minute)
	ts.fs.WriteFile("/l/file.txt", pattern(1234))
	ts.fs.WriteFile("/l/with space", []byte("x"))
	ts.fs.SetModTime(context.Background(), "/l/file.txt", when)
	ts.fs.Mkdir(context.Background(), "/l/dir")
	trace := &syncBuffer{}
	c := dial(t, ts.addr, ftpclient.WithMLSx(false), ftpclient.WithDebug(trace))
	ctx := testCtx(t)

	entries, err := c.List(ctx, "/l")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(entries); !slices.Equal(got, []string{"dir", "file.txt", "with space"}) {
		t.Fatalf("List: %v", got)
	}
	for _, e := range entries {
		switch e.Name {
		case "file.txt":
			if e.Type != "file" || e.Size != 1234 || !e.ModTime.Equal(when) {
				t.Errorf("LIST entry %+v", e)
			}
		case "dir":
			if !e.IsDir() {
				t.Errorf("LIST entry %+v", e)
			}
		}
	}
	// Stat: SIZE and MDTM for a file, the parent's listing for a directory.
	e, err := c.Stat(ctx, "/l/file.txt")
	if err != nil || e.Type != "file" || e.Size != 1234 || !e.ModTime.Equal(when) {
		t.Fatalf("Stat file: %+v, %v", e, err)
	}
	if e, err := c.Stat(ctx, "/l/dir"); err != nil || !e.IsDir() || e.Name != "dir" {
		t.Fatalf("Stat dir: %+v, %v", e, err)
	}
	if _, err := c.Stat(ctx, "/l/none"); !ftpclient.IsNotExist(err) {
		t.Fatalf("Stat missing: %v", err)
	}
	if strings.Contains(trace.String(), "MLSD") || strings.Contains(trace.String(), "> MLST") {
		t.Fatalf("MLSx used:\n%s", trace)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/big", pattern(8<<20))
	c := dial(t, ts.addr, ftpclient.WithPoolSize(1))
	ctx, cancel := context.WithCancel(context.Background())
	w := &slowWriter{delay: 2 * time.Millisecond, after: func(n int64) {
		if n > 1<<20 {
			cancel()
		}
	}}
	_, err := c.Retrieve(ctx, "/big", 0, w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Retrieve: %v", err)
	}
	// The client goes on working with a new connection.
	if size, err := c.Size(testCtx(t), "/big"); err != nil || size != 8<<20 {
		t.Fatalf("Size after cancel: %d, %v", size, err)
	}

	// An upload whose context ends must not leave a complete-looking file.
	ctx, cancel = context.WithCancel(context.Background())
	r := &slowReader{data: pattern(4 << 20), chunk: 64 << 10, delay: time.Millisecond, after: func(n int) {
		if n > 1<<20 {
			cancel()
		}
	}}
	if _, err := c.Store(ctx, "/partial", r, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Store: %v", err)
	}
	// In the default upload mode the bytes that arrived become the file
	// once the server has seen the upload end; they must be a true prefix.
	var got []byte
	testwait.For(t, "the cancelled upload to end on the server", func() bool {
		var err error
		got, err = ts.fs.ReadFile("/partial")
		return err == nil
	})
	if want := pattern(4 << 20); len(got) >= len(want) || !bytes.Equal(got, want[:len(got)]) {
		t.Fatalf("a cancelled upload left %d bytes, not a true prefix of %d", len(got), len(want))
	}
}

// slowWriter accepts writes slowly.
type slowWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	delay time.Duration
	after func(total int64)
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.delay)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.after != nil {
		w.after(int64(w.buf.Len()))
	}
	return len(p), nil
}

// slowReader yields data in chunks with a pause before each.
type slowReader struct {
	data  []byte
	off   int
	chunk int
	delay time.Duration
	after func(total int)
	err   error // returned after the data, instead of io.EOF
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	time.Sleep(r.delay)
	n := copy(p[:min(len(p), r.chunk)], r.data[r.off:])
	r.off += n
	if r.after != nil {
		r.after(r.off)
	}
	return n, nil
}

func TestFailedUploadIsAborted(t *testing.T) {
	t.Parallel()
	// In atomic mode the server keeps an upload only if it completes.
	ts := startServer(t, func(s *ftpserver.Server) { s.Upload = ftpserver.UploadAtomic })
	trace := &syncBuffer{}
	c := dial(t, ts.addr, ftpclient.WithPoolSize(1), ftpclient.WithDebug(trace))
	ctx := testCtx(t)
	boom := errors.New("disk on fire")
	r := &slowReader{data: pattern(300000), chunk: 32 << 10, err: boom}
	if _, err := c.Store(ctx, "/broken", r, 0); !errors.Is(err, boom) {
		t.Fatalf("Store with a failing reader: %v", err)
	}
	if _, err := ts.fs.ReadFile("/broken"); err == nil {
		t.Fatal("the server took the failed upload for a complete one")
	}
	// The connection was kept and still works.
	entries, err := c.List(ctx, "/")
	if err != nil || len(entries) != 1 || entries[0].Name != "incoming" {
		t.Fatalf("List after the failed upload: %+v, %v", entries, err)
	}
	if out := trace.String(); strings.Contains(out, "ftp[2]") {
		t.Fatalf("the connection was replaced:\n%s", out)
	}
}

func TestKeepAliveNOOPsAfterTransfer(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	data := pattern(4 << 20)
	ts.fs.WriteFile("/k", data)
	trace := &syncBuffer{}
	c := dial(t, ts.addr, ftpclient.WithPoolSize(1), ftpclient.WithKeepAlive(10*time.Millisecond), ftpclient.WithDebug(trace))
	ctx := testCtx(t)

	w := &slowWriter{delay: 5 * time.Millisecond}
	if _, err := c.Retrieve(ctx, "/k", 0, w); err != nil || !bytes.Equal(w.buf.Bytes(), data) {
		t.Fatalf("Retrieve: %v", err)
	}
	r := &slowReader{data: data, chunk: 128 << 10, delay: 5 * time.Millisecond}
	if _, err := c.Store(ctx, "/k2", r, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := ts.fs.ReadFile("/k2"); !bytes.Equal(got, data) {
		t.Fatal("upload with keep-alives corrupted")
	}
	// Every reply was read in order: the next commands get their own.
	if size, err := c.Size(ctx, "/k2"); err != nil || size != int64(len(data)) {
		t.Fatalf("Size after keep-alives: %d, %v", size, err)
	}
	if mt, err := c.ModTime(ctx, "/k2"); err != nil || mt.IsZero() {
		t.Fatalf("ModTime after keep-alives: %v, %v", mt, err)
	}
	out := trace.String()
	if n := strings.Count(out, "> NOOP"); n < 4 {
		t.Fatalf("%d NOOPs sent, want several:\n%s", n, out)
	}
	if strings.Contains(out, "ftp[2]") {
		t.Fatalf("the connection was replaced:\n%s", out)
	}
}

func TestStaleIdleConnectionIsReplaced(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *ftpserver.Server) { s.IdleTimeout = 100 * time.Millisecond })
	var logs syncBuffer
	c := dial(t, ts.addr, ftpclient.WithPoolSize(1),
		ftpclient.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ctx := testCtx(t)
	testwait.For(t, "the server to drop the idle session", func() bool { return ts.srv.SessionCount() == 0 })
	if entries, err := c.List(ctx, "/"); err != nil || len(entries) != 1 || entries[0].Name != "incoming" {
		t.Fatalf("List on a stale pool: %+v, %v", entries, err)
	}
	if !strings.Contains(logs.String(), "retrying on another connection") {
		t.Fatalf("no retry logged:\n%s", logs.String())
	}
	testwait.For(t, "the server to drop the idle session", func() bool { return ts.srv.SessionCount() == 0 })
	// Not idempotent, but a 421 says the command was not carried out.
	if err := c.Mkdir(ctx, "/after-timeout"); err != nil {
		t.Fatalf("Mkdir on a stale pool: %v", err)
	}
	if fi, err := ts.fs.Stat(ctx, "/after-timeout"); err != nil || !fi.IsDir() {
		t.Fatalf("after Mkdir on a stale pool the server has %v, %v", fi, err)
	}
}

func TestIdleConnectionsAreCheckedBeforeUse(t *testing.T) {
	// Not parallel: the idle check is package state. Zero makes every
	// reuse of a pooled connection check it.
	defer ftpclient.SetIdleCheck(0)()
	ts := startServer(t, func(s *ftpserver.Server) { s.IdleTimeout = time.Second })
	trace := &syncBuffer{}
	c := dial(t, ts.addr, ftpclient.WithPoolSize(1), ftpclient.WithDebug(trace))
	ctx := testCtx(t)

	// Idle, but alive: one NOOP, and the same connection goes on.
	if err := c.Mkdir(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	if out := trace.String(); !strings.Contains(out, "ftp[1] > NOOP\nftp[1] < 200") || strings.Contains(out, "ftp[2]") {
		t.Fatalf("trace:\n%s", out)
	}
	// Dropped by the server: found dead before the command is sent, so
	// the command goes once, on a new connection.
	testwait.For(t, "the server to drop the idle session", func() bool { return ts.srv.SessionCount() == 0 })
	if err := c.Mkdir(ctx, "/b"); err != nil {
		t.Fatal(err)
	}
	out := trace.String()
	if n := strings.Count(out, "> MKD /b"); n != 1 || !strings.Contains(out, "ftp[2] > MKD /b") || strings.Contains(out, "retrying") {
		t.Fatalf("MKD /b sent %d times:\n%s", n, out)
	}
}

func TestWithoutEPSV(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.fs.WriteFile("/f", []byte("x"))
	trace := &syncBuffer{}
	c := dial(t, ts.addr, ftpclient.WithoutEPSV(), ftpclient.WithDebug(trace))
	if _, err := c.Retrieve(testCtx(t), "/f", 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out := trace.String(); strings.Contains(out, "> EPSV") || !strings.Contains(out, "> PASV") {
		t.Fatalf("trace:\n%s", out)
	}
}
