package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goftp "github.com/jlaffaye/ftp"
)

// dialGoFTP logs in as alice with github.com/jlaffaye/ftp and quits when
// the test ends.
func dialGoFTP(t *testing.T, ts *testServer, opts ...goftp.DialOption) *goftp.ServerConn {
	t.Helper()
	opts = append([]goftp.DialOption{goftp.DialWithTimeout(20 * time.Second)}, opts...)
	c, err := goftp.Dial(ts.addr(), opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if err := c.Login(user, password); err != nil {
		c.Quit()
		t.Fatalf("Login: %v", err)
	}
	t.Cleanup(func() { c.Quit() })
	return c
}

// wantCode fails the test unless err is an FTP reply with code.
func wantCode(t *testing.T, what string, err error, code int) {
	t.Helper()
	var te *textproto.Error
	if !errors.As(err, &te) {
		t.Errorf("%s: got error %v, want a %d reply", what, err, code)
		return
	}
	if te.Code != code {
		t.Errorf("%s: got reply %d %q, want %d", what, te.Code, te.Msg, code)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func retr(t *testing.T, c *goftp.ServerConn, name string, offset uint64) []byte {
	t.Helper()
	r, err := c.RetrFrom(name, offset)
	if err != nil {
		t.Fatalf("RetrFrom(%q, %d): %v", name, offset, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("closing %s: %v", name, err)
	}
	return b
}

// wantGoFTPReads checks what jlaffaye/ftp reads of the file name, which
// holds data: its SIZE, the whole file, the part from offset and from its
// end, and 550 for a missing file.
func wantGoFTPReads(t *testing.T, c *goftp.ServerConn, name string, data []byte, offset uint64) {
	t.Helper()
	size, err := c.FileSize(name)
	mustOK(t, "FileSize", err)
	if size != int64(len(data)) {
		t.Errorf("FileSize = %d, want %d", size, len(data))
	}
	_, err = c.FileSize("missing.bin")
	wantCode(t, "FileSize of a missing file", err, 550)

	if got := retr(t, c, name, 0); !bytes.Equal(got, data) {
		t.Errorf("Retr: got %d bytes, want %d identical bytes", len(got), len(data))
	}
	if got := retr(t, c, name, offset); !bytes.Equal(got, data[offset:]) {
		t.Errorf("RetrFrom(%d): got %d bytes, want the last %d", offset, len(got), uint64(len(data))-offset)
	}
	if got := retr(t, c, name, uint64(len(data))); len(got) != 0 {
		t.Errorf("RetrFrom at the end: got %d bytes, want none", len(got))
	}
	_, err = c.Retr("missing.bin")
	wantCode(t, "Retr of a missing file", err, 550)
}

func TestGoFTP(t *testing.T) {
	t.Parallel()
	variants := []struct {
		name string
		opts []goftp.DialOption
	}{
		{"EPSV MLSD", nil},
		{"PASV LIST", []goftp.DialOption{goftp.DialWithDisabledEPSV(true), goftp.DialWithDisabledMLSD(true)}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			ts := startServer(t)
			testGoFTP(t, ts, dialGoFTP(t, ts, v.opts...), v.name == "EPSV MLSD")
		})
	}
}

func testGoFTP(t *testing.T, ts *testServer, c *goftp.ServerConn, mlsd bool) {
	data := testData(30, 2<<20+13)

	dir, err := c.CurrentDir()
	mustOK(t, "CurrentDir", err)
	if dir != "/" {
		t.Errorf("CurrentDir = %q, want /", dir)
	}
	mustOK(t, "MakeDir", c.MakeDir("dir ü"))
	wantCode(t, "MakeDir again", c.MakeDir("dir ü"), 550)
	mustOK(t, "ChangeDir", c.ChangeDir("dir ü"))
	dir, err = c.CurrentDir()
	mustOK(t, "CurrentDir", err)
	if dir != "/dir ü" {
		t.Errorf("CurrentDir = %q, want /dir ü", dir)
	}

	mustOK(t, "Stor", c.Stor("data.bin", bytes.NewReader(data)))
	wantFile(t, ts.local("/dir ü/data.bin"), data)
	wantGoFTPReads(t, c, "data.bin", data, 1<<20+1)

	// StorFrom resumes an upload that left a prefix on the server.
	writeFile(t, ts.local("/dir ü/resumed.bin"), data[:500000])
	mustOK(t, "StorFrom", c.StorFrom("resumed.bin", bytes.NewReader(data[500000:]), 500000))
	wantFile(t, ts.local("/dir ü/resumed.bin"), data)

	mustOK(t, "Append", c.Append("resumed.bin", bytes.NewReader([]byte("tail"))))
	wantFile(t, ts.local("/dir ü/resumed.bin"), append(slices.Clip(data), "tail"...))

	mustOK(t, "Rename", c.Rename("resumed.bin", "/名前.bin"))
	wantNoFile(t, ts.local("/dir ü/resumed.bin"))
	if fi, err := os.Stat(ts.local("/名前.bin")); err != nil || fi.Size() != int64(len(data)+4) {
		t.Errorf("renamed file: %v", err)
	}
	wantCode(t, "Rename of a missing file", c.Rename("resumed.bin", "x"), 550)

	names, err := c.NameList("")
	mustOK(t, "NameList", err)
	if !slices.Equal(names, []string{"data.bin"}) {
		t.Errorf("NameList = %q, want [data.bin]", names)
	}

	mustOK(t, "ChangeDirToParent", c.ChangeDirToParent())
	entries, err := c.List("")
	mustOK(t, "List", err)
	got := map[string]*goftp.Entry{}
	for _, e := range entries {
		got[e.Name] = e
	}
	if len(got) != 3 || got["dir ü"] == nil || got["名前.bin"] == nil || got["incoming"] == nil {
		t.Fatalf("List = %v, want dir ü, 名前.bin and incoming", names)
	}
	if e := got["dir ü"]; e.Type != goftp.EntryTypeFolder {
		t.Errorf("dir ü: type %v", e.Type)
	}
	if e := got["名前.bin"]; e.Type != goftp.EntryTypeFile || e.Size != uint64(len(data)+4) {
		t.Errorf("名前.bin: type %v size %d", e.Type, e.Size)
	}
	fi, err := os.Stat(ts.local("/名前.bin"))
	mustOK(t, "stat", err)
	precision := time.Minute // LIST shows minutes
	if mlsd {
		precision = time.Second
	}
	// MLSD may add fractions of a second (RFC 3659 allows them).
	if e := got["名前.bin"]; !e.Time.Truncate(precision).Equal(fi.ModTime().Truncate(precision)) {
		t.Errorf("名前.bin: listed time %v, file time %v", e.Time, fi.ModTime())
	}

	if !c.IsGetTimeSupported() || !c.IsSetTimeSupported() {
		t.Errorf("server announces no MDTM (%v) or MFMT (%v)", c.IsGetTimeSupported(), c.IsSetTimeSupported())
	}
	mtime, err := c.GetTime("名前.bin")
	mustOK(t, "GetTime", err)
	if !mtime.Equal(fi.ModTime().Truncate(time.Second)) {
		t.Errorf("GetTime = %v, file time %v", mtime, fi.ModTime())
	}
	stamp := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	mustOK(t, "SetTime", c.SetTime("名前.bin", stamp))
	if fi, err := os.Stat(ts.local("/名前.bin")); err != nil || !fi.ModTime().Equal(stamp) {
		t.Errorf("after SetTime: mtime %v (err %v), want %v", fi.ModTime(), err, stamp)
	}
	mtime, err = c.GetTime("名前.bin")
	mustOK(t, "GetTime", err)
	if !mtime.Equal(stamp) {
		t.Errorf("GetTime after SetTime = %v, want %v", mtime, stamp)
	}

	wantCode(t, "RemoveDir of a non-empty directory", c.RemoveDir("dir ü"), 550)
	mustOK(t, "Delete", c.Delete("dir ü/data.bin"))
	wantNoFile(t, ts.local("/dir ü/data.bin"))
	wantCode(t, "Delete of a missing file", c.Delete("dir ü/data.bin"), 550)
	mustOK(t, "RemoveDir", c.RemoveDir("dir ü"))
	wantNoFile(t, ts.local("/dir ü"))
	wantCode(t, "ChangeDir to a removed directory", c.ChangeDir("dir ü"), 550)

	// RemoveDirRecur walks a tree with Delete and RemoveDir.
	writeFile(t, ts.local("/tree/a/b/f1"), []byte("1"))
	writeFile(t, ts.local("/tree/a/f2"), []byte("2"))
	writeFile(t, ts.local("/tree/f3"), []byte("3"))
	mustOK(t, "RemoveDirRecur", c.RemoveDirRecur("/tree"))
	wantNoFile(t, ts.local("/tree"))
	mustOK(t, "NoOp", c.NoOp())
}

// TestGoFTPEarlyClose closes a download's data connection early: the
// server reports the transfer aborted (426) and the session stays usable.
func TestGoFTPEarlyClose(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	writeFile(t, ts.local("/big.bin"), testData(31, 32<<20))
	c := dialGoFTP(t, ts)
	r, err := c.Retr("big.bin")
	mustOK(t, "Retr", err)
	if _, err := io.ReadFull(r, make([]byte, 64<<10)); err != nil {
		t.Fatalf("reading: %v", err)
	}
	wantCode(t, "Close of an unfinished download", r.Close(), 426)
	size, err := c.FileSize("big.bin")
	mustOK(t, "FileSize after the early close", err)
	if size != 32<<20 {
		t.Errorf("FileSize = %d", size)
	}
}

// TestGoFTPConcurrent runs several sessions at once, each uploading and
// downloading its own files.
func TestGoFTPConcurrent(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	const sessions, files = 6, 8
	content := func(i, j int) []byte { return testData(uint64(1000+i*files+j), 100000+j*4099) }
	storRetrConcurrently(t, ts, sessions, files, content)
	for i := range sessions {
		for j := range files {
			wantFile(t, ts.local(fmt.Sprintf("/s%d-f%d.bin", i, j)), content(i, j))
		}
	}
}

// storRetrConcurrently runs sessions sessions at once, each of which
// stores files files named sI-fJ.bin with content(I, J) and reads each
// back, byte-identical.
func storRetrConcurrently(t *testing.T, ts *testServer, sessions, files int, content func(i, j int) []byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		c := dialGoFTP(t, ts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range files {
				name := fmt.Sprintf("s%d-f%d.bin", i, j)
				data := content(i, j)
				if err := c.Stor(name, bytes.NewReader(data)); err != nil {
					errs <- fmt.Errorf("Stor %s: %w", name, err)
					return
				}
				r, err := c.Retr(name)
				if err != nil {
					errs <- fmt.Errorf("Retr %s: %w", name, err)
					return
				}
				got, err := io.ReadAll(r)
				if cerr := r.Close(); err == nil {
					err = cerr
				}
				if err != nil || !bytes.Equal(got, data) {
					errs <- fmt.Errorf("Retr %s: %d bytes back of %d, err %v", name, len(got), len(data), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestGoFTPShutdownDrains shuts the server down while a download runs:
// no new connection is accepted, the download completes intact with 226,
// and then every session is told 421.
func TestGoFTPShutdownDrains(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	big := testData(32, 16<<20)
	writeFile(t, ts.local("/big.bin"), big)
	busy := dialGoFTP(t, ts)
	idle := dialGoFTP(t, ts)

	r, err := busy.Retr("big.bin")
	mustOK(t, "Retr", err)
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatalf("reading: %v", err)
	}

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shutdown <- ts.srv.Shutdown(ctx)
	}()
	// Shutdown has begun once the listener refuses connections.
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err := net.DialTimeout("tcp", ts.addr(), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after Shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v while a download was running", err)
	default:
	}

	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading during shutdown: %v", err)
	}
	if got := append(head, rest...); !bytes.Equal(got, big) {
		t.Errorf("download during shutdown: got %d bytes, want %d identical bytes", len(got), len(big))
	}
	mustOK(t, "Close (226) during shutdown", r.Close())
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wantCode(t, "NOOP on the idle session after shutdown", idle.NoOp(), 421)
	wantCode(t, "NOOP on the busy session after shutdown", busy.NoOp(), 421)
}

// TestGoFTPLargeDirectory lists a directory of a few thousand entries with
// MLSD, LIST and NLST.
func TestGoFTPLargeDirectory(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	const n = 3000
	if err := os.Mkdir(ts.local("/big dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := make([]string, 0, n)
	for i := range n {
		name := fmt.Sprintf("entry %04d ü.txt", i)
		want = append(want, name)
		if err := os.WriteFile(ts.local("/big dir/"+name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range [][]goftp.DialOption{nil, {goftp.DialWithDisabledMLSD(true)}} {
		c := dialGoFTP(t, ts, opts...)
		entries, err := c.List("/big dir")
		mustOK(t, "List", err)
		got := make([]string, 0, len(entries))
		for _, e := range entries {
			got = append(got, e.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("List (MLSD %v) returned %d entries, want %d", opts == nil, len(got), len(want))
		}
		names, err := c.NameList("/big dir")
		mustOK(t, "NameList", err)
		for i, name := range names {
			names[i] = strings.TrimPrefix(name, "/big dir/")
		}
		slices.Sort(names)
		if !slices.Equal(names, want) {
			t.Errorf("NameList returned %d names, want %d (first %q)", len(names), len(want), names[:min(3, len(names))])
		}
	}
}
