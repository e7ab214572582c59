// Package storagetest is the conformance suite every ftpserver.FileSystem
// backend must pass:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) ftpserver.FileSystem {
//			return memfs.New()
//		}, storagetest.WithCapabilities(storagetest.AllCapabilities()...))
//	}
//
// A backend declares what it can do beyond the core contract (writing in
// place, partial overwrite, append, chmod, ...: see Capability); the cases
// that need what it does not declare are skipped by name, so an object
// store that refuses them with ftpserver.ErrNotSupported can pass.
//
// Each subtest gets a fresh, empty file system from newFS. The suite only
// goes through the FileSystem interface (and the optional Chmoder and
// SpaceReporter when the backend has them), and checks what a client would
// notice: content, names, error kinds (with errors.Is) and what an
// interrupted upload leaves behind in each upload mode.
//
// Beyond the letter of ftpserver.FileSystem, the suite pins down these
// choices, which the server relies on:
//
//   - A name that is not clean and absolute ("rel", "/a/../b", "/a/") fails
//     with ftpserver.ErrInvalidName. A backslash is an ordinary byte.
//   - A path through a file ("/file/x") does not exist (fs.ErrNotExist).
//   - WriteAt with Offset 0 is WriteTruncate; with Offset > 0 the file must
//     exist (fs.ErrNotExist) and be at least Offset bytes long (fs.ErrInvalid).
//   - UploadAtomicResume and UploadAtomic leave the target as it was while a
//     WriteTruncate upload runs and when it is aborted before any byte
//     arrived; UploadAtomic also while a WriteAppend or WriteAt upload runs.
//   - Abort with ftpserver.AbortFailed (a server-side failure) never
//     publishes: the atomic modes leave the target as it was before the
//     upload; UploadAtomicResume writing in place (WriteAppend, WriteAt on
//     an existing file) cuts it back to where the upload began.
//   - An upload that writes into the target (UploadDirect, or in place)
//     holds it: another such upload of the file fails with
//     ftpserver.ErrBusy until the first one ends.
//   - Exclusive in the atomic modes fails at Commit with fs.ErrExist if a
//     file appeared at the name meanwhile, and leaves that file alone.
//   - Rename replaces files only: onto a directory it fails and changes
//     nothing.
//   - Every method fails with the context's error once its context is done,
//     and a DirLister's Next once the context of its List call is done.
//   - Chmod keeps the permission bits only, and a file replaced by an upload
//     keeps its permission bits.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Option adds backend-specific hooks to Run.
type Option func(*config)

type config struct {
	symlink func(t *testing.T, fsys ftpserver.FileSystem, target, link string)
	caps    map[Capability]bool
}

// Capability is something beyond the core contract that a backend on a
// POSIX file system does and an object store may not. The cases that need
// one run only for a backend that declares it (WithCapabilities); the
// others are skipped by name, so an object store can pass the suite while
// a disk backend is held to everything.
type Capability string

const (
	// WriteInPlace: data shows at the target while an upload runs
	// (UploadDirect, and UploadAtomicResume appending to or resuming an
	// existing file in place).
	WriteInPlace Capability = "write-in-place"
	// PartialOverwrite: WriteAt with an Offset > 0 keeps the file's first
	// bytes and writes after them (REST + STOR).
	PartialOverwrite Capability = "partial-overwrite"
	// Append: WriteAppend (APPE) onto an existing file.
	Append Capability = "append"
	// Chmod: the FileSystem is an ftpserver.Chmoder with permission bits.
	Chmod Capability = "chmod"
	// ModTime: SetModTime sets the modification time (MFMT).
	ModTime Capability = "set-mod-time"
	// RenameDir: Rename moves a directory with its content.
	RenameDir Capability = "rename-directory"
	// SpaceReport: the FileSystem is an ftpserver.SpaceReporter (AVBL).
	SpaceReport Capability = "space-report"
	// BackslashDots: a name with "." or ".." between backslashes
	// ("a\..\b") is an ordinary name. A backend without it (on MinIO,
	// which refuses such keys) may refuse them, with
	// ftpserver.ErrInvalidName from Create and Stat alike.
	BackslashDots Capability = "backslash-dots"
	// HardLink: the FileSystem is an ftpserver.Linker (SFTP's
	// hardlink@openssh.com). Not in AllCapabilities: a wrapper must
	// forward it (quotafs does not, on purpose).
	HardLink Capability = "hard-link"
	// Sync: uploads are ftpserver.Syncers (SFTP's fsync@openssh.com).
	// Not in AllCapabilities: a wrapper must forward it.
	Sync Capability = "sync"
)

// AllCapabilities lists every Capability: what memfs and localfs declare.
func AllCapabilities() []Capability {
	return []Capability{WriteInPlace, PartialOverwrite, Append, Chmod, ModTime, RenameDir, SpaceReport, BackslashDots}
}

// WithCapabilities declares what the backend can do beyond the core
// contract. Without it the suite assumes nothing and skips every case
// that needs a capability.
func WithCapabilities(caps ...Capability) Option {
	return func(c *config) {
		for _, capability := range caps {
			c.caps[capability] = true
		}
	}
}

// need skips t unless the backend declared every one of caps.
func (s *suite) need(t *testing.T, caps ...Capability) {
	t.Helper()
	for _, capability := range caps {
		if !s.cfg.caps[capability] {
			t.Skipf("backend does not declare capability %q (storagetest.WithCapabilities)", capability)
		}
	}
}

// uploadNeeds lists the capabilities an upload in mode u writing as w needs.
func uploadNeeds(u ftpserver.UploadMode, w ftpserver.WriteMode, existing bool) []Capability {
	var caps []Capability
	switch w {
	case ftpserver.WriteAppend:
		caps = append(caps, Append)
	case ftpserver.WriteAt:
		caps = append(caps, PartialOverwrite)
	}
	inPlace := u == ftpserver.UploadDirect ||
		u == ftpserver.UploadAtomicResume && existing && w != ftpserver.WriteTruncate
	if inPlace {
		caps = append(caps, WriteInPlace)
	}
	return caps
}

// WithSymlink enables the symbolic link tests. symlink must create, in fsys,
// a symbolic link at the virtual path link whose content is exactly target
// (as ln -s target link would). The suite passes relative targets that stay
// inside the root ("file.txt", ".."), relative ones that climb out of it
// ("../../..") and absolute host paths of a temporary directory outside the
// root, and checks that links leading outside can be neither read, listed,
// written nor used to reach anything, while links inside work.
func WithSymlink(symlink func(t *testing.T, fsys ftpserver.FileSystem, target, link string)) Option {
	return func(c *config) { c.symlink = symlink }
}

type suite struct {
	newFS func(t *testing.T) ftpserver.FileSystem
	cfg   config
}

// Run runs the conformance suite as subtests of t. newFS must return a new,
// empty file system each time it is called.
func Run(t *testing.T, newFS func(t *testing.T) ftpserver.FileSystem, opts ...Option) {
	s := &suite{newFS: newFS, cfg: config{caps: map[Capability]bool{}}}
	for _, opt := range opts {
		opt(&s.cfg)
	}
	t.Run("Stat", s.testStat)
	t.Run("Open", s.testOpen)
	t.Run("CreateCommit", s.testCreateCommit)
	t.Run("CreateAbort", s.testCreateAbort)
	t.Run("CreateAbortNothingWritten", s.testCreateAbortNothingWritten)
	t.Run("CreateAbortFailed", s.testCreateAbortFailed)
	t.Run("UploadInFlight", s.testUploadInFlight)
	t.Run("WriterEnded", s.testWriterEnded)
	t.Run("ReaderFrom", s.testReaderFrom)
	t.Run("CreateErrors", s.testCreateErrors)
	t.Run("Exclusive", s.testExclusive)
	t.Run("ConcurrentUploads", s.testConcurrentUploads)
	t.Run("InPlaceUploadsExclusive", s.testInPlaceUploadsExclusive)
	t.Run("ReadWhileWriting", s.testReadWhileWriting)
	t.Run("List", s.testList)
	t.Run("ListLarge", s.testListLarge)
	t.Run("Mkdir", s.testMkdir)
	t.Run("Remove", s.testRemove)
	t.Run("RemoveDir", s.testRemoveDir)
	t.Run("Rename", s.testRename)
	t.Run("SetModTime", s.testSetModTime)
	t.Run("Names", s.testNames)
	t.Run("InvalidNames", s.testInvalidNames)
	t.Run("CanceledContext", s.testCanceledContext)
	t.Run("Chmod", s.testChmod)
	t.Run("AvailableSpace", s.testAvailableSpace)
	t.Run("Symlinks", s.testSymlinks)
	t.Run("Link", s.testLink)
	t.Run("Sync", s.testSync)
}

var (
	uploadModes = []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic, ftpserver.UploadDirect}
	writeModes  = []ftpserver.WriteMode{ftpserver.WriteTruncate, ftpserver.WriteAppend, ftpserver.WriteAt}
)

func writeModeName(m ftpserver.WriteMode) string {
	switch m {
	case ftpserver.WriteTruncate:
		return "truncate"
	case ftpserver.WriteAppend:
		return "append"
	case ftpserver.WriteAt:
		return "at"
	}
	return fmt.Sprintf("WriteMode(%d)", int(m))
}

// --- helpers ---

// put writes a file with the default options and commits it.
func put(t *testing.T, fsys ftpserver.FileSystem, name string, data []byte) {
	t.Helper()
	w, err := fsys.Create(t.Context(), name, ftpserver.CreateOptions{})
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Abort(t.Context(), ftpserver.AbortInterrupted)
		t.Fatalf("Write(%q): %v", name, err)
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit(%q): %v", name, err)
	}
}

func mkdir(t *testing.T, fsys ftpserver.FileSystem, name string) {
	t.Helper()
	if err := fsys.Mkdir(t.Context(), name); err != nil {
		t.Fatalf("Mkdir(%q): %v", name, err)
	}
}

// get reads a whole file.
func get(t *testing.T, fsys ftpserver.FileSystem, name string) []byte {
	t.Helper()
	data, err := read(t.Context(), fsys, name, 0)
	if err != nil {
		t.Fatalf("reading %q: %v", name, err)
	}
	return data
}

func read(ctx context.Context, fsys ftpserver.FileSystem, name string, offset int64) ([]byte, error) {
	r, err := fsys.Open(ctx, name, offset)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return data, err
}

// wantContent checks name holds want; want nil means name must not exist.
func wantContent(t *testing.T, fsys ftpserver.FileSystem, name string, want []byte) {
	t.Helper()
	data, err := read(t.Context(), fsys, name, 0)
	if want == nil {
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%q: want it not to exist, got content %q, error %v", name, data, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%q: want %q, got error %v", name, want, err)
		return
	}
	if !bytes.Equal(data, want) {
		t.Errorf("%q: content %q, want %q", name, abbrev(data), abbrev(want))
	}
	info, err := fsys.Stat(t.Context(), name)
	if err != nil {
		t.Errorf("Stat(%q): %v", name, err)
	} else if info.Size() != int64(len(want)) {
		t.Errorf("Stat(%q).Size() = %d, want %d", name, info.Size(), len(want))
	}
}

func abbrev(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%s…(%d bytes)", b[:64], len(b))
	}
	return string(b)
}

// wantErr checks err matches target with errors.Is.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one matching %v", what, err, target)
	}
}

// listAll lists a directory n entries at a time, checking the batch sizes.
func listAll(t *testing.T, fsys ftpserver.FileSystem, dir string, n int) []fs.FileInfo {
	t.Helper()
	l, err := fsys.List(t.Context(), dir)
	if err != nil {
		t.Fatalf("List(%q): %v", dir, err)
	}
	defer l.Close()
	var all []fs.FileInfo
	for {
		batch, err := l.Next(n)
		if len(batch) > n {
			t.Fatalf("List(%q).Next(%d) returned %d entries", dir, n, len(batch))
		}
		all = append(all, batch...)
		if err == io.EOF {
			if len(batch) != 0 {
				t.Errorf("List(%q).Next(%d): io.EOF with %d entries", dir, n, len(batch))
			}
			return all
		}
		if err != nil {
			t.Fatalf("List(%q).Next(%d): %v", dir, n, err)
		}
		if len(batch) == 0 {
			t.Fatalf("List(%q).Next(%d): no entries and no error", dir, n)
		}
	}
}

// names returns the sorted entry names of dir.
func names(t *testing.T, fsys ftpserver.FileSystem, dir string) []string {
	t.Helper()
	var out []string
	for _, info := range listAll(t, fsys, dir, 64) {
		out = append(out, info.Name())
	}
	slices.Sort(out)
	return out
}

func wantNames(t *testing.T, fsys ftpserver.FileSystem, dir string, want ...string) {
	t.Helper()
	got := names(t, fsys, dir)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("List(%q) = %q, want %q", dir, got, want)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7+i/251)
	}
	return b
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	if out == nil {
		out = []byte{}
	}
	return out
}

// --- Stat and Open ---

func (s *suite) testStat(t *testing.T) {
	fsys := s.newFS(t)
	ctx := t.Context()
	info, err := fsys.Stat(ctx, "/")
	if err != nil {
		t.Fatalf("Stat(/): %v", err)
	}
	if !info.IsDir() || !info.Mode().IsDir() {
		t.Errorf("Stat(/): IsDir() = %v, Mode() = %v, want a directory", info.IsDir(), info.Mode())
	}

	before := time.Now().Add(-time.Minute)
	put(t, fsys, "/file.txt", []byte("hello"))
	mkdir(t, fsys, "/dir")
	info, err = fsys.Stat(ctx, "/file.txt")
	if err != nil {
		t.Fatalf("Stat(/file.txt): %v", err)
	}
	if info.Name() != "file.txt" || info.Size() != 5 || info.IsDir() || !info.Mode().IsRegular() {
		t.Errorf("Stat(/file.txt) = name %q size %d mode %v, want file.txt, 5, regular",
			info.Name(), info.Size(), info.Mode())
	}
	if mt := info.ModTime(); mt.Before(before) || mt.After(time.Now().Add(time.Minute)) {
		t.Errorf("Stat(/file.txt).ModTime() = %v, want about now", mt)
	}
	info, err = fsys.Stat(ctx, "/dir")
	if err != nil {
		t.Fatalf("Stat(/dir): %v", err)
	}
	if info.Name() != "dir" || !info.IsDir() {
		t.Errorf("Stat(/dir) = name %q IsDir %v, want dir, true", info.Name(), info.IsDir())
	}

	for _, name := range []string{"/missing", "/missing/x", "/file.txt/x", "/dir/missing"} {
		_, err := fsys.Stat(ctx, name)
		wantErr(t, "Stat("+name+")", err, fs.ErrNotExist)
	}
}

func (s *suite) testOpen(t *testing.T) {
	fsys := s.newFS(t)
	ctx := t.Context()
	put(t, fsys, "/digits", []byte("0123456789"))
	for _, tc := range []struct {
		offset int64
		want   string
	}{{0, "0123456789"}, {3, "3456789"}, {9, "9"}, {10, ""}} {
		got, err := read(ctx, fsys, "/digits", tc.offset)
		if err != nil || string(got) != tc.want {
			t.Errorf("Open(/digits, %d): read %q, %v; want %q", tc.offset, got, err, tc.want)
		}
	}
	if r, err := fsys.Open(ctx, "/digits", -1); err == nil {
		r.Close()
		t.Errorf("Open(/digits, -1) succeeded")
	}

	big := pattern(3<<20+17, 1)
	put(t, fsys, "/big", big)
	wantContent(t, fsys, "/big", big)
	got, err := read(ctx, fsys, "/big", 1<<20+5)
	if err != nil || !bytes.Equal(got, big[1<<20+5:]) {
		t.Errorf("Open(/big, %d): read %d bytes, %v; want the last %d", 1<<20+5, len(got), err, len(big)-(1<<20+5))
	}

	// Two readers of one file are independent.
	r1, err := fsys.Open(ctx, "/digits", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := fsys.Open(ctx, "/digits", 5)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	b1, b2 := make([]byte, 2), make([]byte, 2)
	io.ReadFull(r1, b1)
	io.ReadFull(r2, b2)
	io.ReadFull(r1, b1)
	if string(b1) != "23" || string(b2) != "56" {
		t.Errorf("interleaved readers read %q and %q, want 23 and 56", b1, b2)
	}

	mkdir(t, fsys, "/dir")
	for _, name := range []string{"/dir", "/"} {
		_, err := fsys.Open(ctx, name, 0)
		wantErr(t, "Open("+name+")", err, ftpserver.ErrIsDir)
	}
	for _, name := range []string{"/missing", "/dir/missing", "/digits/x"} {
		_, err := fsys.Open(ctx, name, 0)
		wantErr(t, "Open("+name+")", err, fs.ErrNotExist)
	}
}

// --- uploads ---

var (
	oldContent = []byte("old content") // what the target holds before
	newContent = []byte("NEW")         // what the upload sends
)

const atOffset = 4

// uploadCase is one WriteMode × UploadMode × target-exists combination.
type uploadCase struct {
	upload   ftpserver.UploadMode
	write    ftpserver.WriteMode
	existing bool
}

func (c uploadCase) String() string {
	exists := "new"
	if c.existing {
		exists = "existing"
	}
	return fmt.Sprintf("%s/%s/%s", c.upload, writeModeName(c.write), exists)
}

func (c uploadCase) opts() ftpserver.CreateOptions {
	o := ftpserver.CreateOptions{Mode: c.write, Upload: c.upload}
	if c.write == ftpserver.WriteAt {
		o.Offset = atOffset
	}
	return o
}

func (c uploadCase) old() []byte {
	if c.existing {
		return oldContent
	}
	return nil
}

// kept is the part of the old content a successful upload keeps.
func (c uploadCase) kept() []byte {
	switch c.write {
	case ftpserver.WriteAppend:
		return c.old()
	case ftpserver.WriteAt:
		return oldContent[:atOffset]
	}
	return nil
}

// refused reports whether Create must fail: WriteAt past offset 0 on a
// missing file.
func (c uploadCase) refused() bool {
	return c.write == ftpserver.WriteAt && !c.existing
}

func allUploadCases() []uploadCase {
	var cases []uploadCase
	for _, u := range uploadModes {
		for _, w := range writeModes {
			for _, e := range []bool{true, false} {
				cases = append(cases, uploadCase{u, w, e})
			}
		}
	}
	return cases
}

// uploadSetup makes /d holding siblings a and c and, if c.existing, the
// target t.
func uploadSetup(t *testing.T, fsys ftpserver.FileSystem, c uploadCase) {
	t.Helper()
	mkdir(t, fsys, "/d")
	put(t, fsys, "/d/a", []byte("sibling a"))
	put(t, fsys, "/d/c", []byte("sibling c"))
	if c.existing {
		put(t, fsys, "/d/t", oldContent)
	}
}

// checkSiblings verifies an upload to /d/t touched nothing else in /d and
// left no visible temporary file.
func checkSiblings(t *testing.T, fsys ftpserver.FileSystem, targetExists bool) {
	t.Helper()
	wantContent(t, fsys, "/d/a", []byte("sibling a"))
	wantContent(t, fsys, "/d/c", []byte("sibling c"))
	if targetExists {
		wantNames(t, fsys, "/d", "a", "c", "t")
	} else {
		wantNames(t, fsys, "/d", "a", "c")
	}
}

func (s *suite) testCreateCommit(t *testing.T) {
	for _, c := range allUploadCases() {
		t.Run(c.String(), func(t *testing.T) {
			s.need(t, uploadNeeds(c.upload, c.write, c.existing)...)
			fsys := s.newFS(t)
			uploadSetup(t, fsys, c)
			w, err := fsys.Create(t.Context(), "/d/t", c.opts())
			if c.refused() {
				if err == nil {
					w.Abort(t.Context(), ftpserver.AbortInterrupted)
				}
				wantErr(t, "Create", err, fs.ErrNotExist)
				wantContent(t, fsys, "/d/t", nil)
				checkSiblings(t, fsys, false)
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			// Two writes, to exercise continuing where the last one ended.
			if _, err := w.Write(newContent[:1]); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if _, err := w.Write(newContent[1:]); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := w.Commit(t.Context()); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			wantContent(t, fsys, "/d/t", concat(c.kept(), newContent))
			checkSiblings(t, fsys, true)
		})
	}

	// Offsets at the edges.
	for _, u := range uploadModes {
		t.Run(u.String()+"/offsets", func(t *testing.T) {
			s.need(t, uploadNeeds(u, ftpserver.WriteAt, true)...)
			fsys := s.newFS(t)
			ctx := t.Context()
			for _, tc := range []struct {
				offset int64
				want   []byte
			}{
				{0, newContent},
				{int64(len(oldContent)), concat(oldContent, newContent)},
				{1, concat(oldContent[:1], newContent)},
			} {
				put(t, fsys, "/f", oldContent)
				w, err := fsys.Create(ctx, "/f", ftpserver.CreateOptions{Mode: ftpserver.WriteAt, Offset: tc.offset, Upload: u})
				if err != nil {
					t.Fatalf("Create at %d: %v", tc.offset, err)
				}
				w.Write(newContent)
				if err := w.Commit(t.Context()); err != nil {
					t.Fatalf("Commit at %d: %v", tc.offset, err)
				}
				wantContent(t, fsys, "/f", tc.want)
			}

			put(t, fsys, "/f", oldContent)
			w, err := fsys.Create(ctx, "/f", ftpserver.CreateOptions{Mode: ftpserver.WriteAt, Offset: int64(len(oldContent) + 1), Upload: u})
			if err == nil {
				w.Abort(t.Context(), ftpserver.AbortInterrupted)
			}
			wantErr(t, "Create at offset past the end", err, fs.ErrInvalid)
			w, err = fsys.Create(ctx, "/f", ftpserver.CreateOptions{Mode: ftpserver.WriteAt, Offset: -1, Upload: u})
			if err == nil {
				w.Abort(t.Context(), ftpserver.AbortInterrupted)
				t.Errorf("Create at offset -1 succeeded")
			}
			wantContent(t, fsys, "/f", oldContent)

			// An empty upload still replaces or truncates on Commit.
			w, err = fsys.Create(ctx, "/f", ftpserver.CreateOptions{Mode: ftpserver.WriteAt, Offset: 2, Upload: u})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			wantContent(t, fsys, "/f", oldContent[:2])
			w, err = fsys.Create(ctx, "/f", ftpserver.CreateOptions{Upload: u})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			wantContent(t, fsys, "/f", []byte{})
		})
	}
}

// eachUpload runs test as a subtest for every upload case the backend must
// accept, on a fresh fsys prepared by uploadSetup and a writer for /d/t.
func (s *suite) eachUpload(t *testing.T, test func(t *testing.T, c uploadCase, fsys ftpserver.FileSystem, w ftpserver.FileWriter)) {
	for _, c := range allUploadCases() {
		if c.refused() {
			continue
		}
		t.Run(c.String(), func(t *testing.T) {
			s.need(t, uploadNeeds(c.upload, c.write, c.existing)...)
			fsys := s.newFS(t)
			uploadSetup(t, fsys, c)
			w, err := fsys.Create(t.Context(), "/d/t", c.opts())
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			test(t, c, fsys, w)
		})
	}
}

// afterAbort is what the target holds when an upload that wrote data is
// aborted.
func (c uploadCase) afterAbort(data []byte) []byte {
	if c.upload == ftpserver.UploadAtomic {
		return c.old()
	}
	return concat(c.kept(), data)
}

func (s *suite) testCreateAbort(t *testing.T) {
	s.eachUpload(t, func(t *testing.T, c uploadCase, fsys ftpserver.FileSystem, w ftpserver.FileWriter) {
		part := []byte("PART")
		if _, err := w.Write(part); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := w.Abort(t.Context(), ftpserver.AbortInterrupted); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		want := c.afterAbort(part)
		wantContent(t, fsys, "/d/t", want)
		checkSiblings(t, fsys, want != nil)
	})
}

// afterFailure is what the target holds when an upload that wrote data is
// aborted by a server-side failure.
func (c uploadCase) afterFailure(data []byte) []byte {
	switch {
	case c.upload == ftpserver.UploadDirect:
		return concat(c.kept(), data)
	case c.upload == ftpserver.UploadAtomicResume && c.existing && c.write != ftpserver.WriteTruncate:
		return concat(c.kept())
	}
	return c.old()
}

func (s *suite) testCreateAbortFailed(t *testing.T) {
	s.eachUpload(t, func(t *testing.T, c uploadCase, fsys ftpserver.FileSystem, w ftpserver.FileWriter) {
		part := []byte("PART")
		if _, err := w.Write(part); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := w.Abort(t.Context(), ftpserver.AbortFailed); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		want := c.afterFailure(part)
		wantContent(t, fsys, "/d/t", want)
		checkSiblings(t, fsys, want != nil)
	})
}

func (s *suite) testCreateAbortNothingWritten(t *testing.T) {
	s.eachUpload(t, func(t *testing.T, c uploadCase, fsys ftpserver.FileSystem, w ftpserver.FileWriter) {
		if err := w.Abort(t.Context(), ftpserver.AbortInterrupted); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		// The atomic modes leave the target alone until data arrives;
		// direct mode has already truncated or created it.
		want := c.old()
		if c.upload == ftpserver.UploadDirect {
			want = concat(c.kept())
		}
		wantContent(t, fsys, "/d/t", want)
		checkSiblings(t, fsys, want != nil)
	})
}

func (s *suite) testUploadInFlight(t *testing.T) {
	s.eachUpload(t, func(t *testing.T, c uploadCase, fsys ftpserver.FileSystem, w ftpserver.FileWriter) {
		defer w.Abort(t.Context(), ftpserver.AbortInterrupted)
		if _, err := w.Write(pattern(100<<10, 3)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		// No temporary file shows, whatever the mode.
		checkSiblings(t, fsys, c.existing || c.upload == ftpserver.UploadDirect)
		untouched := c.upload == ftpserver.UploadAtomic ||
			(c.upload == ftpserver.UploadAtomicResume && (c.write == ftpserver.WriteTruncate || !c.existing))
		if untouched {
			wantContent(t, fsys, "/d/t", c.old())
		}
	})
}

func (s *suite) testWriterEnded(t *testing.T) {
	for _, u := range uploadModes {
		t.Run(u.String(), func(t *testing.T) {
			s.need(t, uploadNeeds(u, ftpserver.WriteTruncate, false)...)
			fsys := s.newFS(t)
			w, err := fsys.Create(t.Context(), "/f", ftpserver.CreateOptions{Upload: u})
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("done"))
			if err := w.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("more")); err == nil {
				t.Errorf("Write after Commit succeeded")
			}
			if err := w.Commit(t.Context()); err == nil {
				t.Errorf("second Commit succeeded")
			}
			w.Abort(t.Context(), ftpserver.AbortInterrupted) // must not undo the upload
			wantContent(t, fsys, "/f", []byte("done"))

			w, err = fsys.Create(t.Context(), "/g", ftpserver.CreateOptions{Upload: u})
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("partial"))
			if err := w.Abort(t.Context(), ftpserver.AbortInterrupted); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("more")); err == nil {
				t.Errorf("Write after Abort succeeded")
			}
			if err := w.Commit(t.Context()); err == nil {
				t.Errorf("Commit after Abort succeeded")
			}
			w.Abort(t.Context(), ftpserver.AbortInterrupted)
			if u == ftpserver.UploadAtomic {
				wantContent(t, fsys, "/g", nil)
			} else {
				wantContent(t, fsys, "/g", []byte("partial"))
			}
		})
	}
}

// onlyReader hides any WriterTo, so io.Copy must use the writer's ReadFrom.
type onlyReader struct{ io.Reader }

func (s *suite) testReaderFrom(t *testing.T) {
	s.eachUpload(t, func(t *testing.T, c uploadCase, fsys ftpserver.FileSystem, w ftpserver.FileWriter) {
		data := pattern(1<<20+3, 9)
		var (
			n   int64
			err error
		)
		if rf, ok := w.(io.ReaderFrom); ok {
			n, err = rf.ReadFrom(onlyReader{bytes.NewReader(data)})
		} else {
			n, err = io.Copy(w, onlyReader{bytes.NewReader(data)})
		}
		if err != nil || n != int64(len(data)) {
			t.Fatalf("copied %d bytes, %v; want %d", n, err, len(data))
		}
		if _, err := w.Write([]byte("tail")); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(t.Context()); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		wantContent(t, fsys, "/d/t", concat(c.kept(), data, []byte("tail")))
	})
}

func (s *suite) testCreateErrors(t *testing.T) {
	for _, u := range uploadModes {
		for _, wm := range writeModes {
			t.Run(u.String()+"/"+writeModeName(wm), func(t *testing.T) {
				s.need(t, uploadNeeds(u, wm, true)...)
				fsys := s.newFS(t)
				ctx := t.Context()
				mkdir(t, fsys, "/dir")
				put(t, fsys, "/file", oldContent)
				opts := ftpserver.CreateOptions{Mode: wm, Upload: u}
				if wm == ftpserver.WriteAt {
					opts.Offset = 1
				}
				try := func(name string, target error) {
					t.Helper()
					w, err := fsys.Create(ctx, name, opts)
					if err == nil {
						w.Abort(t.Context(), ftpserver.AbortInterrupted)
					}
					wantErr(t, "Create("+name+")", err, target)
				}
				try("/dir", ftpserver.ErrIsDir)
				try("/", ftpserver.ErrIsDir)
				try("/missing/f", fs.ErrNotExist)
				try("/file/f", fs.ErrNotExist)
				wantNames(t, fsys, "/", "dir", "file")
				wantNames(t, fsys, "/dir")
				wantContent(t, fsys, "/file", oldContent)
			})
		}
	}
}

func (s *suite) testExclusive(t *testing.T) {
	for _, u := range uploadModes {
		t.Run(u.String(), func(t *testing.T) {
			s.need(t, uploadNeeds(u, ftpserver.WriteTruncate, false)...)
			fsys := s.newFS(t)
			ctx := t.Context()
			excl := ftpserver.CreateOptions{Upload: u, Exclusive: true}
			put(t, fsys, "/taken", oldContent)
			mkdir(t, fsys, "/dir")
			for _, name := range []string{"/taken", "/dir"} {
				w, err := fsys.Create(ctx, name, excl)
				if err == nil {
					w.Abort(t.Context(), ftpserver.AbortInterrupted)
					t.Errorf("exclusive Create(%s) succeeded", name)
				}
			}
			w, err := fsys.Create(ctx, "/taken", excl)
			if err == nil {
				w.Abort(t.Context(), ftpserver.AbortInterrupted)
			}
			wantErr(t, "exclusive Create(/taken)", err, fs.ErrExist)
			wantContent(t, fsys, "/taken", oldContent)

			w, err = fsys.Create(ctx, "/fresh", excl)
			if err != nil {
				t.Fatalf("exclusive Create(/fresh): %v", err)
			}
			w.Write(newContent)
			if u != ftpserver.UploadDirect {
				wantContent(t, fsys, "/fresh", nil)
			}
			if err := w.Commit(t.Context()); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			wantContent(t, fsys, "/fresh", newContent)

			if u == ftpserver.UploadDirect {
				return // the name is taken from Create on
			}
			// Someone else takes the name while the upload runs.
			w, err = fsys.Create(ctx, "/raced", excl)
			if err != nil {
				t.Fatalf("exclusive Create(/raced): %v", err)
			}
			w.Write(newContent)
			put(t, fsys, "/raced", []byte("first"))
			err = w.Commit(t.Context())
			wantErr(t, "Commit of an exclusive upload whose name was taken", err, fs.ErrExist)
			wantContent(t, fsys, "/raced", []byte("first"))
			wantNames(t, fsys, "/", "dir", "fresh", "raced", "taken")
		})
	}
}

func (s *suite) testConcurrentUploads(t *testing.T) {
	for _, u := range []ftpserver.UploadMode{ftpserver.UploadAtomicResume, ftpserver.UploadAtomic} {
		t.Run(u.String(), func(t *testing.T) {
			fsys := s.newFS(t)
			const writers = 6
			contents := make([][]byte, writers)
			errs := make(chan error, writers)
			for i := range writers {
				contents[i] = pattern(64<<10+i, byte(i*40))
				go func() {
					w, err := fsys.Create(t.Context(), "/same", ftpserver.CreateOptions{Upload: u})
					if err != nil {
						errs <- err
						return
					}
					for chunk := range slices.Chunk(contents[i], 4096) {
						if _, err := w.Write(chunk); err != nil {
							w.Abort(t.Context(), ftpserver.AbortInterrupted)
							errs <- err
							return
						}
					}
					errs <- w.Commit(t.Context())
				}()
			}
			for range writers {
				if err := <-errs; err != nil {
					t.Errorf("upload: %v", err)
				}
			}
			got := get(t, fsys, "/same")
			if !slices.ContainsFunc(contents, func(c []byte) bool { return bytes.Equal(c, got) }) {
				t.Errorf("after concurrent atomic uploads, content (%d bytes) is none of the uploads", len(got))
			}
			wantNames(t, fsys, "/", "same")
		})
	}

	t.Run("distinct-files", func(t *testing.T) {
		fsys := s.newFS(t)
		const writers = 8
		errs := make(chan error, writers)
		for i := range writers {
			go func() {
				name := fmt.Sprintf("/f%d", i)
				w, err := fsys.Create(t.Context(), name, ftpserver.CreateOptions{})
				if err == nil {
					w.Write([]byte(name))
					err = w.Commit(t.Context())
				}
				if err == nil {
					_, err = fsys.Stat(t.Context(), name)
				}
				if err == nil {
					var l ftpserver.DirLister
					if l, err = fsys.List(t.Context(), "/"); err == nil {
						for err == nil {
							_, err = l.Next(2)
						}
						if err == io.EOF {
							err = nil
						}
						l.Close()
					}
				}
				errs <- err
			}()
		}
		for range writers {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		for i := range writers {
			name := fmt.Sprintf("/f%d", i)
			wantContent(t, fsys, name, []byte(name))
		}
	})
}

func (s *suite) testInPlaceUploadsExclusive(t *testing.T) {
	s.need(t, WriteInPlace, Append)
	fsys := s.newFS(t)
	ctx := t.Context()
	put(t, fsys, "/f", oldContent)
	direct := ftpserver.CreateOptions{Upload: ftpserver.UploadDirect}
	resume := ftpserver.CreateOptions{Upload: ftpserver.UploadAtomicResume, Mode: ftpserver.WriteAppend}
	first, err := fsys.Create(ctx, "/f", direct)
	if err != nil {
		t.Fatal(err)
	}
	first.Write(newContent)
	for _, opts := range []ftpserver.CreateOptions{direct, resume} {
		w, err := fsys.Create(ctx, "/f", opts)
		if err == nil {
			w.Abort(ctx, ftpserver.AbortFailed)
		}
		wantErr(t, "Create of a file another upload writes in place", err, ftpserver.ErrBusy)
	}
	// Atomic uploads write beside the file: they do not wait.
	w, err := fsys.Create(ctx, "/f", ftpserver.CreateOptions{Upload: ftpserver.UploadAtomic})
	if err != nil {
		t.Fatalf("atomic Create beside an upload in place: %v", err)
	}
	w.Abort(ctx, ftpserver.AbortFailed)
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantContent(t, fsys, "/f", newContent)
	w, err = fsys.Create(ctx, "/f", resume)
	if err != nil {
		t.Fatalf("Create once the upload in place has ended: %v", err)
	}
	w.Write(newContent)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantContent(t, fsys, "/f", concat(newContent, newContent))
}

// testReadWhileWriting reads a file over and over while an upload replaces
// it: the atomic modes only ever show the old or the new content whole, and
// direct mode a growing prefix of the new content.
func (s *suite) testReadWhileWriting(t *testing.T) {
	for _, u := range uploadModes {
		t.Run(u.String(), func(t *testing.T) {
			s.need(t, uploadNeeds(u, ftpserver.WriteTruncate, true)...)
			fsys := s.newFS(t)
			ctx := t.Context()
			old, final := pattern(32<<10, 11), pattern(64<<10, 77)
			put(t, fsys, "/f", old)
			w, err := fsys.Create(ctx, "/f", ftpserver.CreateOptions{Upload: u})
			if err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			result := make(chan string, 1)
			go func() {
				for {
					select {
					case <-stop:
						result <- ""
						return
					default:
					}
					got, err := read(ctx, fsys, "/f", 0)
					var ok bool
					if u == ftpserver.UploadDirect {
						ok = bytes.HasPrefix(final, got)
					} else {
						ok = bytes.Equal(got, old) || bytes.Equal(got, final)
					}
					if err != nil || !ok {
						result <- fmt.Sprintf("a reader during the upload got %d bytes (%v), want %s", len(got), err,
							map[bool]string{true: "a prefix of the new content", false: "the old or the new content"}[u == ftpserver.UploadDirect])
						return
					}
				}
			}()
			for chunk := range slices.Chunk(final, 1024) {
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
				runtime.Gosched()
			}
			if err := w.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			close(stop)
			if msg := <-result; msg != "" {
				t.Error(msg)
			}
			wantContent(t, fsys, "/f", final)
		})
	}
}

// --- directories ---

func (s *suite) testList(t *testing.T) {
	fsys := s.newFS(t)
	ctx := t.Context()
	mkdir(t, fsys, "/empty")
	if got := listAll(t, fsys, "/empty", 1); len(got) != 0 {
		t.Errorf("List(/empty) = %d entries, want none", len(got))
	}

	mkdir(t, fsys, "/d")
	files := map[string]int{"a": 1, "b.txt": 20, "c c": 300}
	for name, size := range files {
		put(t, fsys, "/d/"+name, pattern(size, 0))
	}
	mkdir(t, fsys, "/d/sub")
	mkdir(t, fsys, "/d/sub/deeper")

	for _, n := range []int{1, 2, 100} {
		infos := listAll(t, fsys, "/d", n)
		seen := map[string]bool{}
		for _, info := range infos {
			name := info.Name()
			if seen[name] {
				t.Errorf("List(/d) with n=%d: %q twice", n, name)
			}
			seen[name] = true
			switch size, isFile := files[name]; {
			case name == "sub":
				if !info.IsDir() {
					t.Errorf("List(/d): sub is not a directory")
				}
			case isFile:
				if info.IsDir() || info.Size() != int64(size) || !info.Mode().IsRegular() {
					t.Errorf("List(/d): %q has IsDir %v size %d mode %v, want a %d-byte file",
						name, info.IsDir(), info.Size(), info.Mode(), size)
				}
			default:
				t.Errorf("List(/d) with n=%d: unexpected entry %q", n, name)
			}
		}
		if len(seen) != len(files)+1 {
			t.Errorf("List(/d) with n=%d: %d entries, want %d", n, len(seen), len(files)+1)
		}
	}
	wantNames(t, fsys, "/", "d", "empty")

	// Next after the end keeps saying io.EOF; Close after a partial read.
	l, err := fsys.List(ctx, "/d")
	if err != nil {
		t.Fatal(err)
	}
	if batch, err := l.Next(1); len(batch) != 1 || err != nil {
		t.Errorf("Next(1) = %d entries, %v", len(batch), err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close after a partial read: %v", err)
	}
	l, err = fsys.List(ctx, "/empty")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if batch, err := l.Next(10); len(batch) != 0 || err != io.EOF {
			t.Errorf("Next on an exhausted lister = %d entries, %v; want io.EOF", len(batch), err)
		}
	}
	l.Close()

	put(t, fsys, "/file", nil)
	_, err = fsys.List(ctx, "/file")
	wantErr(t, "List(/file)", err, ftpserver.ErrNotDir)
	_, err = fsys.List(ctx, "/missing")
	wantErr(t, "List(/missing)", err, fs.ErrNotExist)
	_, err = fsys.List(ctx, "/file/x")
	wantErr(t, "List(/file/x)", err, fs.ErrNotExist)
}

func (s *suite) testListLarge(t *testing.T) {
	fsys := s.newFS(t)
	mkdir(t, fsys, "/big")
	const entries = 2000
	want := make([]string, entries)
	for i := range entries {
		want[i] = fmt.Sprintf("entry-%04d", i)
		mkdir(t, fsys, "/big/"+want[i])
	}
	slices.Sort(want)
	for _, n := range []int{1, 7, 500} {
		var got []string
		for _, info := range listAll(t, fsys, "/big", n) {
			got = append(got, info.Name())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("List(/big) with n=%d: %d entries, want the %d created", n, len(got), entries)
		}
	}
}

func (s *suite) testMkdir(t *testing.T) {
	fsys := s.newFS(t)
	ctx := t.Context()
	mkdir(t, fsys, "/a")
	mkdir(t, fsys, "/a/b")
	if info, err := fsys.Stat(ctx, "/a/b"); err != nil || !info.IsDir() {
		t.Errorf("Stat(/a/b) after Mkdir: %v, %v", info, err)
	}
	put(t, fsys, "/file", nil)
	for _, tc := range []struct {
		name   string
		target error
	}{
		{"/a", fs.ErrExist},
		{"/a/b", fs.ErrExist},
		{"/file", fs.ErrExist},
		{"/", fs.ErrExist},
		{"/missing/x", fs.ErrNotExist},
		{"/file/x", fs.ErrNotExist},
	} {
		wantErr(t, "Mkdir("+tc.name+")", fsys.Mkdir(ctx, tc.name), tc.target)
	}
	wantContent(t, fsys, "/file", []byte{})
	wantNames(t, fsys, "/", "a", "file")
}

func (s *suite) testRemove(t *testing.T) {
	fsys := s.newFS(t)
	ctx := t.Context()
	put(t, fsys, "/f", oldContent)
	mkdir(t, fsys, "/dir")
	put(t, fsys, "/dir/g", nil)
	if err := fsys.Remove(ctx, "/f"); err != nil {
		t.Fatalf("Remove(/f): %v", err)
	}
	wantContent(t, fsys, "/f", nil)
	if err := fsys.Remove(ctx, "/dir/g"); err != nil {
		t.Fatalf("Remove(/dir/g): %v", err)
	}
	wantErr(t, "Remove(/dir)", fsys.Remove(ctx, "/dir"), ftpserver.ErrIsDir)
	wantErr(t, "Remove(/)", fsys.Remove(ctx, "/"), ftpserver.ErrIsDir)
	wantErr(t, "Remove(/f)", fsys.Remove(ctx, "/f"), fs.ErrNotExist)
	wantErr(t, "Remove(/missing/x)", fsys.Remove(ctx, "/missing/x"), fs.ErrNotExist)
	wantNames(t, fsys, "/", "dir")
}

func (s *suite) testRemoveDir(t *testing.T) {
	fsys := s.newFS(t)
	ctx := t.Context()
	mkdir(t, fsys, "/empty")
	mkdir(t, fsys, "/full")
	put(t, fsys, "/full/f", nil)
	mkdir(t, fsys, "/withdir")
	mkdir(t, fsys, "/withdir/sub")
	put(t, fsys, "/file", nil)

	if err := fsys.RemoveDir(ctx, "/empty"); err != nil {
		t.Fatalf("RemoveDir(/empty): %v", err)
	}
	_, err := fsys.Stat(ctx, "/empty")
	wantErr(t, "Stat after RemoveDir", err, fs.ErrNotExist)
	wantErr(t, "RemoveDir(/full)", fsys.RemoveDir(ctx, "/full"), ftpserver.ErrDirNotEmpty)
	wantErr(t, "RemoveDir(/withdir)", fsys.RemoveDir(ctx, "/withdir"), ftpserver.ErrDirNotEmpty)
	wantErr(t, "RemoveDir(/file)", fsys.RemoveDir(ctx, "/file"), ftpserver.ErrNotDir)
	wantErr(t, "RemoveDir(/empty)", fsys.RemoveDir(ctx, "/empty"), fs.ErrNotExist)
	if err := fsys.RemoveDir(ctx, "/"); err == nil {
		t.Errorf("RemoveDir(/) succeeded")
	}
	wantNames(t, fsys, "/", "file", "full", "withdir")
	wantNames(t, fsys, "/full", "f")

	if err := fsys.Remove(ctx, "/full/f"); err != nil {
		t.Fatal(err)
	}
	if err := fsys.RemoveDir(ctx, "/full"); err != nil {
		t.Errorf("RemoveDir(/full) once emptied: %v", err)
	}
}

func (s *suite) testRename(t *testing.T) {
	fsys := s.newFS(t)
	ctx := t.Context()
	rename := func(from, to string) error {
		t.Helper()
		return fsys.Rename(ctx, from, to)
	}

	put(t, fsys, "/a", []byte("a"))
	if err := rename("/a", "/b"); err != nil {
		t.Fatalf("Rename(/a, /b): %v", err)
	}
	wantContent(t, fsys, "/a", nil)
	wantContent(t, fsys, "/b", []byte("a"))

	// Over an existing file.
	put(t, fsys, "/c", []byte("c"))
	if err := rename("/b", "/c"); err != nil {
		t.Fatalf("Rename(/b, /c) over a file: %v", err)
	}
	wantContent(t, fsys, "/c", []byte("a"))
	wantNames(t, fsys, "/", "c")

	if !s.cfg.caps[RenameDir] {
		t.Skipf("the rest needs capability %q", RenameDir)
	}

	// A directory with content, and a file into it.
	mkdir(t, fsys, "/dir")
	mkdir(t, fsys, "/dir/sub")
	put(t, fsys, "/dir/sub/f", []byte("f"))
	if err := rename("/dir", "/moved"); err != nil {
		t.Fatalf("Rename(/dir, /moved): %v", err)
	}
	wantContent(t, fsys, "/moved/sub/f", []byte("f"))
	_, err := fsys.Stat(ctx, "/dir")
	wantErr(t, "Stat(/dir) after rename", err, fs.ErrNotExist)
	if err := rename("/c", "/moved/sub/c"); err != nil {
		t.Fatalf("Rename(/c, /moved/sub/c): %v", err)
	}
	wantNames(t, fsys, "/moved/sub", "c", "f")
	if err := rename("/moved/sub/c", "/moved/sub/c"); err != nil {
		t.Errorf("Rename onto itself: %v", err)
	}
	wantContent(t, fsys, "/moved/sub/c", []byte("a"))

	// Failures change nothing.
	put(t, fsys, "/x", []byte("x"))
	wantErr(t, "Rename to a missing parent", rename("/x", "/missing/x"), fs.ErrNotExist)
	wantErr(t, "Rename of a missing file", rename("/missing", "/y"), fs.ErrNotExist)
	wantErr(t, "Rename through a file", rename("/x", "/moved/sub/f/x"), fs.ErrNotExist)
	wantErr(t, "Rename of a file onto a directory", rename("/x", "/moved"), ftpserver.ErrIsDir)
	mkdir(t, fsys, "/emptydir")
	wantErr(t, "Rename of a file onto an empty directory", rename("/x", "/emptydir"), ftpserver.ErrIsDir)
	if err := rename("/moved", "/emptydir"); err == nil {
		t.Errorf("Rename of a directory onto a directory succeeded")
	}
	if err := rename("/moved", "/x"); err == nil {
		t.Errorf("Rename of a directory onto a file succeeded")
	}
	if err := rename("/moved", "/moved/sub/inside"); err == nil {
		t.Errorf("Rename of a directory into itself succeeded")
	}
	for _, tc := range [][2]string{{"/", "/root"}, {"/x", "/"}} {
		if err := rename(tc[0], tc[1]); err == nil {
			t.Errorf("Rename(%s, %s) succeeded", tc[0], tc[1])
		}
	}
	wantNames(t, fsys, "/", "emptydir", "moved", "x")
	wantNames(t, fsys, "/emptydir")
	wantNames(t, fsys, "/moved/sub", "c", "f")
	wantContent(t, fsys, "/x", []byte("x"))
}

func (s *suite) testSetModTime(t *testing.T) {
	s.need(t, ModTime)
	fsys := s.newFS(t)
	ctx := t.Context()
	put(t, fsys, "/f", oldContent)
	mkdir(t, fsys, "/dir")
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, name := range []string{"/f", "/dir"} {
		err := fsys.SetModTime(ctx, name, mtime)
		if err != nil {
			t.Fatalf("SetModTime(%s): %v", name, err)
		}
		info, err := fsys.Stat(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !info.ModTime().Equal(mtime) {
			t.Errorf("Stat(%s).ModTime() = %v, want %v", name, info.ModTime(), mtime)
		}
	}
	for _, info := range listAll(t, fsys, "/", 10) {
		if !info.ModTime().Equal(mtime) {
			t.Errorf("List(/): %s has ModTime %v, want %v", info.Name(), info.ModTime(), mtime)
		}
	}
	wantContent(t, fsys, "/f", oldContent)
	wantErr(t, "SetModTime(/missing)", fsys.SetModTime(ctx, "/missing", mtime), fs.ErrNotExist)
}

// --- names ---

func (s *suite) testNames(t *testing.T) {
	odd := []string{
		"with space.txt", " leading", "trailing ", "  ",
		"héllo wörld ✓.txt", "日本語", "emoji 🚀",
		`back\slash`, `\`, `\\server\share`, `C:\Windows`, "a:b",
		"...", "..a", "a..", ".hidden", "-dash", "#hash", "100%", "semi;colon",
		"*star?", "quote\"'", "<angle>|pipe", "tab\there", "\x7f\x01ctl",
		strings.Repeat("n", 200),
	}
	// These are plain bytes on Unix but separators or forbidden on Windows,
	// where a backend may refuse them.
	maybeRefused := func(name string) bool {
		return strings.ContainsAny(name, `\:*?"<>|`) || strings.ContainsAny(name, "\t\x01\x7f") ||
			strings.HasSuffix(name, " ") || strings.HasSuffix(name, ".")
	}
	for _, base := range odd {
		t.Run(fmt.Sprintf("%q", base), func(t *testing.T) {
			fsys := s.newFS(t)
			ctx := t.Context()
			name := "/" + base
			w, err := fsys.Create(ctx, name, ftpserver.CreateOptions{})
			if err != nil && onWindows && maybeRefused(base) && errors.Is(err, ftpserver.ErrInvalidName) {
				t.Skipf("refused on Windows: %v", err)
			}
			if err != nil {
				t.Fatalf("Create(%q): %v", name, err)
			}
			w.Write([]byte(base))
			if err := w.Commit(t.Context()); err != nil {
				t.Fatalf("Commit(%q): %v", name, err)
			}
			wantContent(t, fsys, name, []byte(base))
			wantNames(t, fsys, "/", base)
			if info, err := fsys.Stat(ctx, name); err != nil || info.Name() != base {
				t.Errorf("Stat(%q) = %v, %v; want name %q", name, info, err, base)
			}

			renamed := name + ".2"
			if err := fsys.Rename(ctx, name, renamed); err != nil {
				t.Fatalf("Rename(%q, %q): %v", name, renamed, err)
			}
			wantNames(t, fsys, "/", base+".2")
			if err := fsys.Remove(ctx, renamed); err != nil {
				t.Errorf("Remove(%q): %v", renamed, err)
			}

			// The same name as a directory, with a file inside.
			mkdir(t, fsys, name)
			put(t, fsys, name+"/inner", []byte("inner"))
			wantNames(t, fsys, "/", base)
			wantNames(t, fsys, name, "inner")
			wantContent(t, fsys, name+"/inner", []byte("inner"))
		})
	}

	t.Run("backslash-is-not-a-separator", func(t *testing.T) {
		if onWindows {
			t.Skip("backslash is a separator on Windows")
		}
		fsys := s.newFS(t)
		ctx := t.Context()
		mkdir(t, fsys, "/dir")
		put(t, fsys, `/dir\file`, []byte("x"))
		dots := `/dir/a\..\..\b`
		w, err := fsys.Create(ctx, dots, ftpserver.CreateOptions{})
		if err != nil && !s.cfg.caps[BackslashDots] && errors.Is(err, ftpserver.ErrInvalidName) {
			// Refused, as a backend without the capability may: then
			// consistently.
			_, err = fsys.Stat(ctx, dots)
			wantErr(t, "Stat("+dots+") after Create refused it", err, ftpserver.ErrInvalidName)
			wantNames(t, fsys, "/dir")
		} else {
			if err != nil {
				t.Fatalf("Create(%q): %v", dots, err)
			}
			w.Write([]byte("y"))
			if err := w.Commit(ctx); err != nil {
				t.Fatalf("Commit(%q): %v", dots, err)
			}
			wantNames(t, fsys, "/dir", `a\..\..\b`)
		}
		wantNames(t, fsys, "/", "dir", `dir\file`)
		_, err = fsys.Stat(ctx, "/b")
		wantErr(t, `Stat(/b)`, err, fs.ErrNotExist)
	})
}

const onWindows = runtime.GOOS == "windows"

func (s *suite) testInvalidNames(t *testing.T) {
	fsys := s.newFS(t)
	ctx := t.Context()
	mkdir(t, fsys, "/a")
	put(t, fsys, "/a/b", oldContent)
	invalid := []string{
		"", "a", "a/b", ".", "..", "/..", "/.", "/a/", "//a", "/a//b", "/a/./b",
		"/a/../b", "/a/..", "/../a", "/a/b/../../..", "/a\x00b", "/a/b\x00",
	}
	for _, name := range invalid {
		what := func(op string) string { return fmt.Sprintf("%s(%q)", op, name) }
		_, err := fsys.Stat(ctx, name)
		wantErr(t, what("Stat"), err, ftpserver.ErrInvalidName)
		r, err := fsys.Open(ctx, name, 0)
		if err == nil {
			r.Close()
		}
		wantErr(t, what("Open"), err, ftpserver.ErrInvalidName)
		for _, u := range uploadModes {
			w, err := fsys.Create(ctx, name, ftpserver.CreateOptions{Upload: u})
			if err == nil {
				w.Abort(t.Context(), ftpserver.AbortInterrupted)
			}
			wantErr(t, what("Create/"+u.String()), err, ftpserver.ErrInvalidName)
		}
		l, err := fsys.List(ctx, name)
		if err == nil {
			l.Close()
		}
		wantErr(t, what("List"), err, ftpserver.ErrInvalidName)
		wantErr(t, what("Mkdir"), fsys.Mkdir(ctx, name), ftpserver.ErrInvalidName)
		wantErr(t, what("Remove"), fsys.Remove(ctx, name), ftpserver.ErrInvalidName)
		wantErr(t, what("RemoveDir"), fsys.RemoveDir(ctx, name), ftpserver.ErrInvalidName)
		wantErr(t, what("SetModTime"), fsys.SetModTime(ctx, name, time.Now()), ftpserver.ErrInvalidName)
		wantErr(t, what("Rename from"), fsys.Rename(ctx, name, "/new"), ftpserver.ErrInvalidName)
		wantErr(t, what("Rename to"), fsys.Rename(ctx, "/a/b", name), ftpserver.ErrInvalidName)
		if c, ok := fsys.(ftpserver.Chmoder); ok {
			wantErr(t, what("Chmod"), c.Chmod(ctx, name, 0o600), ftpserver.ErrInvalidName)
		}
		if r, ok := fsys.(ftpserver.SpaceReporter); ok {
			_, err := r.AvailableSpace(ctx, name)
			wantErr(t, what("AvailableSpace"), err, ftpserver.ErrInvalidName)
		}
	}
	wantNames(t, fsys, "/", "a")
	wantNames(t, fsys, "/a", "b")
	wantContent(t, fsys, "/a/b", oldContent)
}

// --- context ---

func (s *suite) testCanceledContext(t *testing.T) {
	fsys := s.newFS(t)
	put(t, fsys, "/f", oldContent)
	mkdir(t, fsys, "/dir")
	mkdir(t, fsys, "/empty")

	// A lister stops once its context is done.
	live, cancelLive := context.WithCancel(t.Context())
	l, err := fsys.List(live, "/")
	if err != nil {
		t.Fatal(err)
	}
	cancelLive()
	batch, err := l.Next(1)
	wantErr(t, "Next after the List context was canceled", err, context.Canceled)
	if len(batch) != 0 {
		t.Errorf("Next after cancel returned %d entries", len(batch))
	}
	l.Close()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	canceled := func(what string, err error) {
		t.Helper()
		wantErr(t, what, err, context.Canceled)
	}
	_, err = fsys.Stat(ctx, "/f")
	canceled("Stat", err)
	_, err = fsys.Open(ctx, "/f", 0)
	canceled("Open", err)
	for _, u := range uploadModes {
		_, err = fsys.Create(ctx, "/new", ftpserver.CreateOptions{Upload: u})
		canceled("Create/"+u.String(), err)
		_, err = fsys.Create(ctx, "/f", ftpserver.CreateOptions{Upload: u})
		canceled("Create/"+u.String(), err)
	}
	_, err = fsys.List(ctx, "/")
	canceled("List", err)
	canceled("Mkdir", fsys.Mkdir(ctx, "/newdir"))
	canceled("Remove", fsys.Remove(ctx, "/f"))
	canceled("RemoveDir", fsys.RemoveDir(ctx, "/empty"))
	canceled("Rename", fsys.Rename(ctx, "/f", "/g"))
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	canceled("SetModTime", fsys.SetModTime(ctx, "/f", mtime))
	if c, ok := fsys.(ftpserver.Chmoder); ok {
		canceled("Chmod", c.Chmod(ctx, "/f", 0o600))
	}
	if r, ok := fsys.(ftpserver.SpaceReporter); ok {
		_, err := r.AvailableSpace(ctx, "/")
		canceled("AvailableSpace", err)
	}

	wantNames(t, fsys, "/", "dir", "empty", "f")
	wantContent(t, fsys, "/f", oldContent)
	if info, err := fsys.Stat(t.Context(), "/f"); err == nil && info.ModTime().Equal(mtime) {
		t.Errorf("SetModTime with a canceled context changed the time")
	}
}

// --- optional capabilities ---

func (s *suite) testChmod(t *testing.T) {
	s.need(t, Chmod)
	fsys := s.newFS(t)
	c, ok := fsys.(ftpserver.Chmoder)
	if !ok {
		t.Fatalf("capability %q declared, but the backend is not a Chmoder", Chmod)
	}
	ctx := t.Context()
	put(t, fsys, "/f", oldContent)
	mkdir(t, fsys, "/dir")
	perm := func(name string) fs.FileMode {
		t.Helper()
		info, err := fsys.Stat(ctx, name)
		if err != nil {
			t.Fatalf("Stat(%s): %v", name, err)
		}
		return info.Mode()
	}
	if err := c.Chmod(ctx, "/f", 0o600); err != nil {
		t.Fatalf("Chmod(/f, 0600): %v", err)
	}
	if m := perm("/f"); m.Perm() != 0o600 || !m.IsRegular() {
		t.Errorf("mode after Chmod(/f, 0600) = %v", m)
	}
	if err := c.Chmod(ctx, "/dir", 0o700); err != nil {
		t.Fatalf("Chmod(/dir, 0700): %v", err)
	}
	if m := perm("/dir"); m.Perm() != 0o700 || !m.IsDir() {
		t.Errorf("mode after Chmod(/dir, 0700) = %v", m)
	}
	if err := c.Chmod(ctx, "/dir", 0o755|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky); err != nil {
		t.Fatalf("Chmod(/dir, 0755 with setuid, setgid, sticky): %v", err)
	}
	if m := perm("/dir"); m.Perm() != 0o755 || m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		t.Errorf("mode after Chmod(/dir, 0755 with setuid, setgid, sticky) = %v, want 0755 only", m)
	}
	wantErr(t, "Chmod(/missing)", c.Chmod(ctx, "/missing", 0o600), fs.ErrNotExist)

	// Uploads over a file keep its permissions, whatever the mode.
	for _, u := range uploadModes {
		for _, wm := range writeModes {
			w, err := fsys.Create(ctx, "/f", ftpserver.CreateOptions{Upload: u, Mode: wm, Offset: 1})
			if err != nil {
				t.Fatalf("Create(/f, %s, %s): %v", u, writeModeName(wm), err)
			}
			w.Write(newContent)
			if err := w.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			if m := perm("/f"); m.Perm() != 0o600 {
				t.Errorf("mode after a %s %s upload = %v, want 0600 kept", u, writeModeName(wm), m)
			}
		}
	}
}

func (s *suite) testAvailableSpace(t *testing.T) {
	s.need(t, SpaceReport)
	fsys := s.newFS(t)
	r, ok := fsys.(ftpserver.SpaceReporter)
	if !ok {
		t.Fatalf("capability %q declared, but the backend is not a SpaceReporter", SpaceReport)
	}
	ctx := t.Context()
	put(t, fsys, "/f", oldContent)
	for _, name := range []string{"/", "/f"} {
		n, err := r.AvailableSpace(ctx, name)
		if errors.Is(err, ftpserver.ErrNotSupported) {
			t.Skip("AvailableSpace not supported here")
		}
		if err != nil || n <= 0 {
			t.Errorf("AvailableSpace(%s) = %d, %v; want a positive number", name, n, err)
		}
	}
	_, err := r.AvailableSpace(ctx, "/missing")
	wantErr(t, "AvailableSpace(/missing)", err, fs.ErrNotExist)
}

// testLink: a hard link is a second name for the same data, never
// replaces a name, and refuses directories, the root and missing files.
// Data written in place through one name shows through the other; a
// new file installed at one name (an atomic upload, as a rename of a
// temporary file on disk) replaces that name only; removing one name
// keeps the other.
func (s *suite) testLink(t *testing.T) {
	s.need(t, HardLink)
	fsys := s.newFS(t)
	l, ok := fsys.(ftpserver.Linker)
	if !ok {
		t.Fatalf("capability %q declared, but the backend is not a Linker", HardLink)
	}
	ctx := t.Context()
	put(t, fsys, "/f", oldContent)
	mkdir(t, fsys, "/dir")
	if err := l.Link(ctx, "/f", "/dir/g"); err != nil {
		t.Fatalf("Link(/f, /dir/g): %v", err)
	}
	if got := get(t, fsys, "/dir/g"); !bytes.Equal(got, oldContent) {
		t.Errorf("/dir/g holds %q, want %q", got, oldContent)
	}
	for _, k := range []struct {
		old, new string
		want     error
	}{
		{"/f", "/dir/g", fs.ErrExist},
		{"/f", "/f", fs.ErrExist},
		{"/f", "/dir", fs.ErrExist},
		{"/dir", "/d2", ftpserver.ErrIsDir},
		{"/", "/d2", fs.ErrPermission},
		{"/f", "/", fs.ErrPermission},
		{"/missing", "/m", fs.ErrNotExist},
		{"/f", "/missing/g", fs.ErrNotExist},
		{"/f", "/f/g", fs.ErrNotExist},
		{"f", "/h", ftpserver.ErrInvalidName},
		{"/f", "/h/", ftpserver.ErrInvalidName},
	} {
		if err := l.Link(ctx, k.old, k.new); !errors.Is(err, k.want) {
			t.Errorf("Link(%s, %s) = %v, want %v", k.old, k.new, err, k.want)
		}
	}
	for _, name := range []string{"/d2", "/m", "/h"} {
		if _, err := fsys.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after a refused Link, Stat(%s) = %v, want not-exist", name, err)
		}
	}
	// Renaming one name onto the other is rename(2) between two links
	// of one file: nothing happens, both names stay.
	if err := fsys.Rename(ctx, "/f", "/dir/g"); err != nil {
		t.Errorf("Rename(/f, /dir/g) between links: %v", err)
	}
	for _, name := range []string{"/f", "/dir/g"} {
		if got := get(t, fsys, name); !bytes.Equal(got, oldContent) {
			t.Errorf("after renaming one link onto the other, %s holds %q", name, got)
		}
	}
	want := oldContent
	if s.cfg.caps[WriteInPlace] && s.cfg.caps[Append] {
		w, err := fsys.Create(ctx, "/dir/g", ftpserver.CreateOptions{Mode: ftpserver.WriteAppend, Upload: ftpserver.UploadDirect})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(newContent); err != nil {
			w.Abort(ctx, ftpserver.AbortFailed)
			t.Fatal(err)
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		want = append(bytes.Clone(oldContent), newContent...)
		if got := get(t, fsys, "/f"); !bytes.Equal(got, want) {
			t.Errorf("after appending in place through /dir/g, /f holds %q, want %q", got, want)
		}
		if fi, err := fsys.Stat(ctx, "/f"); err != nil || fi.Size() != int64(len(want)) {
			t.Errorf("Stat(/f) after appending through /dir/g = %v, %v; want size %d", fi, err, len(want))
		}
	}
	// An atomic upload installs a new file at /f: /dir/g keeps the old one.
	w, err := fsys.Create(ctx, "/f", ftpserver.CreateOptions{Upload: ftpserver.UploadAtomic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("replaced")); err != nil {
		w.Abort(ctx, ftpserver.AbortFailed)
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := get(t, fsys, "/dir/g"); !bytes.Equal(got, want) {
		t.Errorf("after an atomic upload to /f, /dir/g holds %q, want %q", got, want)
	}
	if err := l.Link(ctx, "/dir/g", "/k"); err != nil {
		t.Fatalf("Link(/dir/g, /k): %v", err)
	}
	// Removing one name leaves the other.
	if err := fsys.Remove(ctx, "/dir/g"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, fsys, "/k"); !bytes.Equal(got, want) {
		t.Errorf("after removing /dir/g, /k holds %q, want %q", got, want)
	}
	if got := get(t, fsys, "/f"); string(got) != "replaced" {
		t.Errorf("/f holds %q, want %q", got, "replaced")
	}
}

// testSync: Sync of an upload in progress succeeds, publishes nothing
// (an atomic upload's name appears at Commit), and the upload goes on.
func (s *suite) testSync(t *testing.T) {
	s.need(t, Sync)
	fsys := s.newFS(t)
	ctx := t.Context()
	w, err := fsys.Create(ctx, "/f", ftpserver.CreateOptions{Upload: ftpserver.UploadAtomic})
	if err != nil {
		t.Fatal(err)
	}
	sy, ok := w.(ftpserver.Syncer)
	if !ok {
		w.Abort(ctx, ftpserver.AbortFailed)
		t.Fatalf("capability %q declared, but the upload is not a Syncer", Sync)
	}
	if _, err := w.Write(oldContent); err != nil {
		t.Fatal(err)
	}
	if err := sy.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if _, err := fsys.Stat(ctx, "/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Sync, before Commit, Stat(/f) = %v, want not-exist", err)
	}
	if _, err := w.Write(newContent); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := get(t, fsys, "/f"), append(bytes.Clone(oldContent), newContent...); !bytes.Equal(got, want) {
		t.Errorf("/f holds %q, want %q", got, want)
	}
	if err := sy.Sync(ctx); err == nil {
		t.Error("Sync after Commit succeeded")
	}
}
