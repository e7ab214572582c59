package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpserver"
)

type opKind int

const (
	opUpload    opKind = iota // STOR of a new name
	opOverwrite               // STOR over an existing file
	opAppend                  // APPE
	opResume                  // REST n + STOR
	opRename                  // RNFR + RNTO, within the worker's directory
	opDelete                  // DELE
	numOpKinds
)

var opNames = [numOpKinds]string{"upload", "overwrite", "append", "resume", "rename", "delete"}

func (k opKind) String() string { return opNames[k] }

// op is one operation of a worker: what it asks the server to do.
type op struct {
	kind   opKind
	name   string
	to     string  // rename
	offset int64   // resume: REST offset
	data   content // what is sent (for resume, from offset on)
}

func (o *op) String() string {
	switch o.kind {
	case opRename:
		return fmt.Sprintf("rename %s %s", o.name, o.to)
	case opDelete:
		return "delete " + o.name
	case opResume:
		return fmt.Sprintf("resume %s at %d with %d bytes", o.name, o.offset, o.data.size())
	}
	return fmt.Sprintf("%s %s with %d bytes", o.kind, o.name, o.data.size())
}

// worker runs operations in its own directory and keeps the model of what
// the server acknowledged there: name → content.
type worker struct {
	id    int
	dir   string // on the server, "/wN"; on the host, root/wN
	rng   *rand.Rand
	files map[string]content
	// pending is the operation that was running when the server was
	// killed (or failed): its outcome may be the state before or after.
	pending  *op
	nextName int
	maxSize  int64
	acked    [numOpKinds]int
}

// maxFiles bounds a worker's directory, which bounds the disk used.
const maxFiles = 12

func newWorker(id int, seed uint64, maxSize int64) *worker {
	return &worker{
		id: id, dir: fmt.Sprintf("w%d", id),
		rng:     rand.New(rand.NewPCG(seed, uint64(id)+1)),
		files:   map[string]content{},
		maxSize: maxSize,
	}
}

// names returns the model's names in a stable order, so that a seed picks
// the same operations.
func (w *worker) names() []string {
	names := make([]string, 0, len(w.files))
	for name := range w.files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (w *worker) newName() string {
	w.nextName++
	return fmt.Sprintf("f%05d", w.nextName)
}

// randomSize favours small files, as real traffic does, but reaches max.
func (w *worker) randomSize(limit int64) int64 {
	var n int64
	switch p := w.rng.IntN(100); {
	case p < 10:
		return 0
	case p < 55:
		n = w.rng.Int64N(64 << 10)
	case p < 85:
		n = w.rng.Int64N(1 << 20)
	default:
		n = w.rng.Int64N(w.maxSize + 1)
	}
	return min(n, limit)
}

func (w *worker) randomData(limit int64) content {
	n := w.randomSize(limit)
	if n == 0 {
		return nil
	}
	return content{{stream: w.rng.Uint64(), off: w.rng.Int64N(1 << 40), n: n}}
}

// next picks the next operation from the model.
func (w *worker) next() *op {
	names := w.names()
	if len(names) == 0 {
		return &op{kind: opUpload, name: w.newName(), data: w.randomData(w.maxSize)}
	}
	pick := names[w.rng.IntN(len(names))]
	old := w.files[pick]
	for {
		switch kind := opKind(w.rng.IntN(int(numOpKinds))); kind {
		case opUpload:
			if len(names) >= maxFiles {
				continue
			}
			return &op{kind: kind, name: w.newName(), data: w.randomData(w.maxSize)}
		case opOverwrite:
			return &op{kind: kind, name: pick, data: w.randomData(w.maxSize)}
		case opAppend:
			if old.size() >= w.maxSize {
				continue
			}
			return &op{kind: kind, name: pick, data: w.randomData(w.maxSize - old.size())}
		case opResume:
			if old.size() == 0 {
				continue
			}
			// Mostly where a broken upload would resume (the end),
			// sometimes inside the file, which cuts what followed.
			at := old.size()
			if w.rng.IntN(2) == 0 {
				at = 1 + w.rng.Int64N(old.size())
			}
			return &op{kind: kind, name: pick, offset: at, data: w.randomData(w.maxSize - at)}
		case opRename:
			to := w.newName()
			if len(names) > 1 && w.rng.IntN(3) == 0 {
				to = names[w.rng.IntN(len(names))] // replaces that file
			}
			if to == pick {
				continue
			}
			return &op{kind: kind, name: pick, to: to}
		case opDelete:
			return &op{kind: kind, name: pick}
		}
	}
}

// do runs o against the server.
func (w *worker) do(ctx context.Context, c *ftpclient.Client, o *op) error {
	p := func(name string) string { return "/" + path.Join(w.dir, name) }
	var err error
	switch o.kind {
	case opUpload, opOverwrite:
		_, err = c.Store(ctx, p(o.name), o.data.reader(), 0)
	case opAppend:
		_, err = c.Append(ctx, p(o.name), o.data.reader())
	case opResume:
		_, err = c.Store(ctx, p(o.name), o.data.reader(), o.offset)
	case opRename:
		err = c.Rename(ctx, p(o.name), p(o.to))
	case opDelete:
		err = c.Remove(ctx, p(o.name))
	}
	return err
}

// apply records in the model that the server acknowledged o.
func (w *worker) apply(o *op) {
	w.acked[o.kind]++
	switch o.kind {
	case opRename:
		w.files[o.to] = w.files[o.name]
		delete(w.files, o.name)
	case opDelete:
		delete(w.files, o.name)
	default:
		w.files[o.name] = o.result(w.files[o.name])
	}
}

// result is the content an upload o makes of a file holding old.
func (o *op) result(old content) content {
	switch o.kind {
	case opAppend:
		return old.concat(o.data)
	case opResume:
		return old.slice(0, o.offset).concat(o.data)
	}
	return o.data.concat()
}

// roundStats is what one worker did in one round.
type roundStats struct {
	dir      string
	acked    int
	inFlight bool  // an operation was running when the server was killed
	failure  error // an operation failed while the server was up
	failedOp *op
}

// run does operations until one fails. dead is closed when the server
// process has exited: a failure is expected once it is, and it is waited
// for a little, since the client may see the connection break before the
// server's parent sees it exit.
func (w *worker) run(ctx context.Context, c *ftpclient.Client, dead <-chan struct{}) roundStats {
	st := roundStats{dir: w.dir}
	for ctx.Err() == nil {
		o := w.next()
		err := w.do(ctx, c, o)
		if err == nil {
			w.apply(o)
			st.acked++
			continue
		}
		w.pending = o
		var killed bool
		select {
		case <-dead:
			killed = true
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
		}
		switch {
		case killed:
			// Also when it began after the kill: it then did nothing,
			// which the check confirms.
			st.inFlight = true
		case ctx.Err() != nil:
		default:
			st.failure, st.failedOp = err, o
		}
		return st
	}
	return st
}

// modeAllowsPartial says whether the in-flight op may leave a part of its
// data at the target, and whether what followed the write position may
// still be there (written in place, not yet cut).
func modeAllowsPartial(mode ftpserver.UploadMode, o *op, old content, existed bool) (partial, keepTail bool, at int64) {
	switch o.kind {
	case opUpload, opOverwrite:
		return mode == ftpserver.UploadDirect, false, 0
	case opAppend:
		if !existed || old.size() == 0 {
			// Appending to nothing is a plain upload.
			return mode == ftpserver.UploadDirect, false, 0
		}
		return mode != ftpserver.UploadAtomic, false, old.size()
	case opResume:
		switch mode {
		case ftpserver.UploadDirect:
			return true, false, o.offset
		case ftpserver.UploadAtomicResume:
			return true, true, o.offset
		}
	}
	return false, false, 0
}
