package ftpserver_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/localfs"
	"github.com/ferry-ftp/ferry/storage/memfs"
	"github.com/ferry-ftp/ferry/storage/storagetest"
)

// Over a storage whose calls fail, write short and stall at random, every
// failure is an error reply: a 226 always means the bytes were stored (or
// sent) whole, a failed upload leaves the previous version, nothing
// panics, and the server keeps serving. Each client works in its own
// directory and keeps a model of what it must find there.
func TestServerUnderStorageFaults(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("memfs/seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			faultRun(t, seed, memfs.New(), "")
		})
		// On disk, the directory as the host sees it also shows any
		// temporary file an upload left behind.
		t.Run("localfs/seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			lfs, err := localfs.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			faultRun(t, seed, lfs, dir)
		})
	}
}

// faultRun runs the clients over inner with faults injected; hostDir is
// inner's directory on the host, if it has one.
func faultRun(t *testing.T, seed uint64, inner ftpserver.FileSystem, hostDir string) {
	ffs := storagetest.NewFaultFS(inner, storagetest.Faults{
		Seed: seed, Error: 0.08, ShortWrite: 0.02, Slow: 0.02, Delay: 2 * time.Millisecond,
	})
	logs := &panicCatcher{}
	ts := startServer(t, func(s *ftpserver.Server) {
		s.Logger = slog.New(logs)
		s.Auth = ftpserver.AuthFunc(func(ctx context.Context, c ftpserver.ConnInfo, user, pass string) (*ftpserver.Account, error) {
			if user == "alice" && pass == "secret" {
				return &ftpserver.Account{User: "alice", FS: ffs, Write: true}, nil
			}
			return nil, ftpserver.ErrAuthFailed
		})
	})
	const workers, ops = 4, 60
	models := make([]map[string][]byte, workers)
	var wg sync.WaitGroup
	for w := range workers {
		dir := fmt.Sprintf("/w%d", w)
		if err := inner.Mkdir(context.Background(), dir); err != nil {
			t.Fatal(err)
		}
		models[w] = map[string][]byte{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fw := &faultWorker{t: t, ts: ts, dir: dir, model: models[w], rng: rand.New(rand.NewPCG(seed, uint64(w)))}
			fw.run(ops)
		}()
	}
	wg.Wait()
	if ffs.Injected() == 0 {
		t.Fatal("no fault was injected: the test proves nothing")
	}
	ffs.SetEnabled(false)
	for w, model := range models {
		dir := fmt.Sprintf("/w%d", w)
		var stored []string
		names := listNames(t, inner, dir)
		if hostDir != "" {
			names = dirNames(t, hostDir+dir)
		}
		for _, name := range names {
			stored = append(stored, name)
			data, ok := model[name]
			if !ok {
				t.Errorf("%s/%s exists, but no upload of it was acknowledged (or it was deleted or renamed)", dir, name)
				continue
			}
			if got := readAll(t, inner, dir+"/"+name); !bytes.Equal(got, data) {
				t.Errorf("%s/%s holds %d bytes, not the %d acknowledged", dir, name, len(got), len(data))
			}
		}
		if want := slices.Sorted(maps.Keys(model)); !slices.Equal(stored, want) {
			t.Errorf("%s holds %v, want %v", dir, stored, want)
		}
	}
	if panics := logs.take(); len(panics) > 0 {
		t.Errorf("the server recovered from panics: %v", panics)
	}
	// Still serving.
	c := ts.login(t)
	c.cmd(250, "CWD /w0")
	c.listing("NLST")
}

func listNames(t *testing.T, fsys ftpserver.FileSystem, dir string) []string {
	t.Helper()
	l, err := fsys.List(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var names []string
	for {
		batch, err := l.Next(100)
		for _, fi := range batch {
			names = append(names, fi.Name())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(names)
	return names
}

func readAll(t *testing.T, fsys ftpserver.FileSystem, name string) []byte {
	t.Helper()
	r, err := fsys.Open(context.Background(), name, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// faultWorker runs random commands in its own directory and checks each
// reply against its model of the directory.
type faultWorker struct {
	t     *testing.T
	ts    *testServer
	dir   string
	model map[string][]byte
	rng   *rand.Rand
	c     *client
	n     int
}

var faultNames = []string{"a", "b", "c", "d"}

func (w *faultWorker) run(ops int) {
	w.c = w.ts.login(w.t)
	// The CWD looks the directory up through the faulty storage too, so
	// it may be refused now and then; the workers share the faults'
	// random sequence, so when depends on how they interleave.
	for try := 1; ; try++ {
		w.c.send("CWD %s", w.dir)
		code, msg := w.c.read()
		if code == 250 {
			break
		}
		if !isError(code) || try == 20 {
			w.fail("CWD: %d %q", code, msg)
			return
		}
	}
	w.c.cmd(200, "TYPE I")
	for range ops {
		name := faultNames[w.rng.IntN(len(faultNames))]
		switch op := w.rng.IntN(7); op {
		case 0, 1:
			w.upload("STOR", name)
		case 2:
			w.upload("APPE", name)
		case 3:
			w.download(name)
		case 4:
			w.simple(name, "DELE %s", func() { delete(w.model, name) })
		case 5:
			w.rename(name, faultNames[w.rng.IntN(len(faultNames))])
		case 6:
			w.list()
		}
	}
	w.c.cmd(221, "QUIT")
}

// isError reports whether code is a 4xx or 5xx reply.
func isError(code int) bool { return code >= 400 && code < 600 }

func (w *faultWorker) fail(format string, args ...any) {
	w.t.Helper()
	w.t.Errorf("%s: %s", w.dir, fmt.Sprintf(format, args...))
}

func (w *faultWorker) upload(verb, name string) {
	w.n++
	data := make([]byte, w.rng.IntN(300<<10))
	for i := range data {
		data[i] = byte(w.n + i/7)
	}
	conn := w.c.pasv()
	w.c.send("%s %s", verb, name)
	code, msg := w.c.read()
	if code != ftp.CodeFileStatusOK {
		if !isError(code) {
			w.fail("%s %s: %d %q", verb, name, code, msg)
		}
		conn.Close()
		return
	}
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, werr := conn.Write(data)
	conn.Close()
	code, msg = w.c.read()
	switch {
	case code == ftp.CodeClosingData && werr != nil:
		w.fail("%s %s: 226 although the data could not all be sent (%v)", verb, name, werr)
	case code == ftp.CodeClosingData && verb == "APPE":
		w.model[name] = append(slices.Clone(w.model[name]), data...)
	case code == ftp.CodeClosingData:
		w.model[name] = data
	case !isError(code):
		w.fail("%s %s: final reply %d %q", verb, name, code, msg)
	}
}

func (w *faultWorker) download(name string) {
	conn := w.c.pasv()
	w.c.send("RETR %s", name)
	code, msg := w.c.read()
	want, exists := w.model[name]
	if code != ftp.CodeFileStatusOK {
		if !isError(code) {
			w.fail("RETR %s: %d %q", name, code, msg)
		}
		conn.Close()
		return
	}
	if !exists {
		w.fail("RETR %s: 150 for a file that must not exist", name)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(conn)
	conn.Close()
	code, msg = w.c.read()
	switch {
	case code == ftp.CodeClosingData && !bytes.Equal(got, want):
		w.fail("RETR %s: 226 with %d bytes, want %d", name, len(got), len(want))
	case code != ftp.CodeClosingData && !isError(code):
		w.fail("RETR %s: final reply %d %q", name, code, msg)
	}
}

// simple runs a command answered with one reply; success applies the
// change to the model.
func (w *faultWorker) simple(name, format string, change func()) {
	w.c.send(format, name)
	code, msg := w.c.read()
	_, exists := w.model[name]
	switch {
	case code < 300 && !exists:
		w.fail(format+": %d %q for a file that must not exist", name, code, msg)
	case code < 300:
		change()
	case !isError(code):
		w.fail(format+": %d %q", name, code, msg)
	}
}

func (w *faultWorker) rename(from, to string) {
	w.c.send("RNFR %s", from)
	code, msg := w.c.read()
	data, exists := w.model[from]
	if code != ftp.CodePendingFurtherInfo {
		if !isError(code) {
			w.fail("RNFR %s: %d %q", from, code, msg)
		}
		return
	}
	if !exists {
		w.fail("RNFR %s: 350 for a file that must not exist", from)
		return
	}
	w.c.send("RNTO %s", to)
	code, msg = w.c.read()
	switch {
	case code == ftp.CodeFileActionOK:
		delete(w.model, from)
		w.model[to] = data
	case !isError(code):
		w.fail("RNTO %s: %d %q", to, code, msg)
	}
}

func (w *faultWorker) list() {
	conn := w.c.pasv()
	w.c.send("NLST")
	code, msg := w.c.read()
	if code != ftp.CodeFileStatusOK && code != ftp.CodeAlreadyOpen {
		if !isError(code) {
			w.fail("NLST: %d %q", code, msg)
		}
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var names []string
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		names = append(names, strings.TrimSuffix(sc.Text(), "\r"))
	}
	conn.Close()
	code, msg = w.c.read()
	slices.Sort(names)
	if want := slices.Sorted(maps.Keys(w.model)); code == ftp.CodeClosingData && !slices.Equal(names, want) {
		w.fail("NLST: 226 listing %v, want %v", names, want)
	} else if code != ftp.CodeClosingData && !isError(code) {
		w.fail("NLST: final reply %d %q", code, msg)
	}
}
