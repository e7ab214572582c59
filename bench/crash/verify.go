package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Kinds of violation.
const (
	violMissing    = "missing"     // an acknowledged file is gone
	violCorrupt    = "corrupt"     // a file's content is neither state the model allows
	violTempFile   = "temp-file"   // a .ferry-upload-* file exists
	violStray      = "stray"       // a file nobody created exists
	violNotRegular = "not-regular" // a name the model knows is not a regular file
	violOpError    = "op-error"    // the server refused an operation while up
)

// tempPrefix is the name localfs gives the temporary files it stages
// uploads in when it cannot use unnamed ones.
const tempPrefix = ".ferry-upload-"

type violation struct {
	round  int
	kind   string
	path   string // host path relative to the root
	detail string
}

func (v violation) String() string {
	return fmt.Sprintf("round %d: %s: %s: %s", v.round, v.kind, v.path, v.detail)
}

// checker verifies the host directory against the workers' models.
type checker struct {
	root     string // the served directory
	evidence string // where offending files are moved, out of the root
	mode     ftpserver.UploadMode
	round    int

	files      int
	bytes      int64
	violations []violation
	// outcomes counts what the operations in flight were found to have
	// done: outcomeBefore, outcomeAfter, outcomePartial.
	outcomes [3]int
}

const (
	outcomeBefore  = iota // nothing
	outcomeAfter          // all of it
	outcomePartial        // a part of its data, written in place
)

func (c *checker) violate(kind, rel, format string, args ...any) {
	c.violations = append(c.violations, violation{round: c.round, kind: kind, path: rel, detail: fmt.Sprintf(format, args...)})
}

// seize moves an offending file out of the root, so that it is kept for
// inspection and does not count again in the next rounds.
func (c *checker) seize(rel string) {
	if err := os.MkdirAll(c.evidence, 0o755); err != nil {
		c.violate(violStray, rel, "cannot keep it: %v", err)
		return
	}
	dst := filepath.Join(c.evidence, fmt.Sprintf("round%03d-%s", c.round, strings.ReplaceAll(rel, "/", "-")))
	if err := os.Rename(filepath.Join(c.root, rel), dst); err != nil {
		c.violate(violStray, rel, "cannot move it out of the root: %v", err)
	}
}

// checkRoot checks that the root holds the workers' directories and
// nothing else.
func (c *checker) checkRoot(workers []*worker) error {
	entries, err := os.ReadDir(c.root)
	if err != nil {
		return fmt.Errorf("reading the root: %w", err)
	}
	dirs := map[string]bool{}
	for _, w := range workers {
		dirs[w.dir] = true
	}
	for _, e := range entries {
		if dirs[e.Name()] && e.IsDir() {
			delete(dirs, e.Name())
			continue
		}
		c.stray(e.Name(), e, "")
	}
	for name := range dirs {
		return fmt.Errorf("worker directory %s is gone", name)
	}
	return nil
}

// stray reports e, which nobody created, and moves it out of the root;
// note adds to the report.
func (c *checker) stray(rel string, e fs.DirEntry, note string) {
	kind := violStray
	if strings.HasPrefix(e.Name(), tempPrefix) {
		kind = violTempFile
	}
	info, _ := e.Info()
	var size int64
	if info != nil {
		size = info.Size()
	}
	what := "file"
	if e.Type() != 0 {
		what = e.Type().String()
	}
	c.violate(kind, rel, "%s of %d bytes, not in the model%s", what, size, note)
	c.seize(rel)
}

// diskFile is what the host directory holds under one name.
type diskFile struct {
	exists  bool
	regular bool
	size    int64
	sum     [sha256.Size]byte
}

func (c *checker) read(rel string) (diskFile, error) {
	f, err := os.Open(filepath.Join(c.root, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return diskFile{}, nil
	}
	if err != nil {
		return diskFile{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return diskFile{}, err
	}
	d := diskFile{exists: true, regular: info.Mode().IsRegular()}
	if !d.regular {
		return d, nil
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return diskFile{}, err
	}
	h.Sum(d.sum[:0])
	d.size = n
	c.files++
	c.bytes += n
	return d, nil
}

// checkWorker checks w's directory against its model, resolves its
// pending operation to the outcome found on disk and leaves the model
// equal to the directory.
func (c *checker) checkWorker(w *worker) error {
	entries, err := os.ReadDir(filepath.Join(c.root, w.dir))
	if err != nil {
		return fmt.Errorf("reading %s: %w", w.dir, err)
	}
	var involved []string
	if o := w.pending; o != nil {
		involved = append(involved, o.name)
		if o.kind == opRename {
			involved = append(involved, o.to)
		}
	}
	onDisk := map[string]fs.DirEntry{}
	for _, e := range entries {
		onDisk[e.Name()] = e
	}
	for _, e := range entries {
		if _, known := w.files[e.Name()]; !known && !slices.Contains(involved, e.Name()) {
			note := ""
			if w.pending != nil {
				note = fmt.Sprintf(" (in flight: %s)", w.pending)
			}
			c.stray(w.dir+"/"+e.Name(), e, note)
		}
	}
	for _, name := range w.names() {
		if slices.Contains(involved, name) {
			continue
		}
		rel := w.dir + "/" + name
		d, err := c.read(rel)
		if err != nil {
			return err
		}
		if !c.expect(rel, d, w.files[name]) {
			c.forget(w, name, d)
		}
	}
	if w.pending != nil {
		if err := c.resolve(w); err != nil {
			return err
		}
	}
	w.pending = nil
	return nil
}

// expect checks that d holds want, reporting a violation if not.
func (c *checker) expect(rel string, d diskFile, want content) bool {
	switch {
	case !d.exists:
		c.violate(violMissing, rel, "acknowledged with %d bytes, not on disk", want.size())
	case !d.regular:
		c.violate(violNotRegular, rel, "acknowledged as a file")
	case d.sum != want.sum():
		c.violate(violCorrupt, rel, "%d bytes on disk, %d acknowledged, sha256 differs", d.size, want.size())
	default:
		return true
	}
	return false
}

// forget drops name from the model and its file from the root after a
// violation, so that the run goes on from a known state.
func (c *checker) forget(w *worker, name string, d diskFile) {
	delete(w.files, name)
	if d.exists {
		c.seize(w.dir + "/" + name)
	}
}

// resolve decides what the operation in flight did: its state before, its
// state after, or (an upload written in place or directly) a part of its
// data; anything else is a violation.
func (c *checker) resolve(w *worker) error {
	o := w.pending
	rel := w.dir + "/" + o.name
	d, err := c.read(rel)
	if err != nil {
		return err
	}
	old, existed := w.files[o.name]
	if o.kind == opRename {
		return c.resolveRename(w, d)
	}
	if o.kind == opDelete {
		switch {
		case !d.exists:
			c.outcomes[outcomeAfter]++
			delete(w.files, o.name)
		case c.expect(rel, d, old):
			c.outcomes[outcomeBefore]++
		default:
			c.forget(w, o.name, d)
		}
		return nil
	}
	now := o.result(old)
	switch {
	case !d.exists:
		if existed {
			c.violate(violMissing, rel, "%s was in flight; the file it changes is gone", o)
			delete(w.files, o.name)
		} else {
			c.outcomes[outcomeBefore]++
		}
		return nil
	case !d.regular:
		c.violate(violNotRegular, rel, "%s was in flight", o)
		c.forget(w, o.name, d)
		return nil
	case existed && d.sum == old.sum():
		c.outcomes[outcomeBefore]++
		return nil
	case d.sum == now.sum():
		c.outcomes[outcomeAfter]++
		w.files[o.name] = now
		return nil
	}
	partial, keepTail, at := modeAllowsPartial(c.mode, o, old, existed)
	if partial {
		got, err := os.ReadFile(filepath.Join(c.root, rel))
		if err != nil {
			return err
		}
		if m, ok := overlayPrefix(got, old.bytes(), o.data.bytes(), at, keepTail); ok {
			result := old.slice(0, at).concat(o.data.slice(0, m))
			if keepTail && at+m < old.size() {
				result = result.concat(old.slice(at+m, old.size()))
			}
			if !bytes.Equal(result.bytes(), got) {
				return fmt.Errorf("%s: the partial outcome does not rebuild (bench bug)", rel)
			}
			c.outcomes[outcomePartial]++
			w.files[o.name] = result
			return nil
		}
	}
	c.violate(violCorrupt, rel, "%s was in flight; %d bytes on disk are neither the state before (%d bytes) nor after (%d bytes)%s",
		o, d.size, old.size(), now.size(), map[bool]string{true: " nor a part of it", false: ""}[partial])
	c.forget(w, o.name, d)
	return nil
}

func (c *checker) resolveRename(w *worker, from diskFile) error {
	o := w.pending
	relFrom, relTo := w.dir+"/"+o.name, w.dir+"/"+o.to
	to, err := c.read(relTo)
	if err != nil {
		return err
	}
	src := w.files[o.name]
	dst, dstExisted := w.files[o.to]
	srcSum := src.sum()
	switch {
	case !from.exists && to.exists && to.regular && to.sum == srcSum:
		c.outcomes[outcomeAfter]++
		w.files[o.to] = src
		delete(w.files, o.name)
		return nil
	case from.exists && from.regular && from.sum == srcSum &&
		(dstExisted && to.exists && to.regular && to.sum == dst.sum() || !dstExisted && !to.exists):
		c.outcomes[outcomeBefore]++
		return nil
	}
	c.violate(violCorrupt, relFrom, "%s was in flight; found from %s, to %s", o, describe(from), describe(to))
	for _, name := range []string{o.name, o.to} {
		d := from
		if name == o.to {
			d = to
		}
		c.forget(w, name, d)
	}
	return nil
}

func describe(d diskFile) string {
	switch {
	case !d.exists:
		return "absent"
	case !d.regular:
		return "not a regular file"
	}
	return fmt.Sprintf("%d bytes sha256 %x", d.size, d.sum[:6])
}
