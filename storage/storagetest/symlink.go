package storagetest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// hostEntry is what the suite remembers about a file outside the root.
type hostEntry struct {
	mode    fs.FileMode
	modTime time.Time
	content []byte
}

// snapshotHost records every entry under dir on the host.
func snapshotHost(t *testing.T, dir string) map[string]hostEntry {
	t.Helper()
	out := map[string]hostEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := hostEntry{mode: info.Mode(), modTime: info.ModTime()}
		if info.Mode().IsRegular() {
			if e.content, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		out[p] = e
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return out
}

func compareHost(t *testing.T, before, after map[string]hostEntry) {
	t.Helper()
	for p, a := range after {
		b, ok := before[p]
		switch {
		case !ok:
			t.Errorf("%s appeared outside the root", p)
		case a.mode != b.mode || !a.modTime.Equal(b.modTime) || !bytes.Equal(a.content, b.content):
			t.Errorf("%s outside the root changed: mode %v→%v, mtime %v→%v, content %q→%q",
				p, b.mode, a.mode, b.modTime, a.modTime, b.content, a.content)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s outside the root disappeared", p)
		}
	}
}

func (s *suite) testSymlinks(t *testing.T) {
	if s.cfg.symlink == nil {
		t.Skip("no WithSymlink hook")
	}
	secret := []byte("SECRET outside the root")
	outside := t.TempDir()
	for _, err := range []error{
		os.WriteFile(filepath.Join(outside, "secret.txt"), secret, 0o644),
		os.Mkdir(filepath.Join(outside, "dir"), 0o755),
		os.WriteFile(filepath.Join(outside, "dir", "inner.txt"), secret, 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	before := snapshotHost(t, outside)

	fsys := s.newFS(t)
	ctx := t.Context()
	put(t, fsys, "/inside.txt", []byte("inside"))
	mkdir(t, fsys, "/d")
	put(t, fsys, "/d/f.txt", []byte("f"))
	plant := func(target, link string) {
		t.Helper()
		s.cfg.symlink(t, fsys, target, link)
	}

	// Links that stay inside the root.
	plant("inside.txt", "/link-file")
	plant("d", "/link-dir")
	plant("..", "/d/up")
	plant("../inside.txt", "/d/up-file")

	// Links that lead out: absolute, climbing with "..", or to the host's /.
	climb := strings.Repeat("../", 40) + strings.TrimPrefix(filepath.ToSlash(outside), "/")
	plant(filepath.Join(outside, "secret.txt"), "/abs-file")
	plant(filepath.Join(outside, "dir"), "/abs-dir")
	plant(climb+"/secret.txt", "/rel-file")
	plant(climb+"/dir", "/rel-dir")
	plant("..", "/dotdot")
	plant("../..", "/d/dotdot2")
	plant(string(filepath.Separator), "/slash")

	t.Run("inside", func(t *testing.T) {
		wantContent(t, fsys, "/link-file", []byte("inside"))
		wantNames(t, fsys, "/link-dir", "dotdot2", "f.txt", "up", "up-file")
		wantContent(t, fsys, "/link-dir/f.txt", []byte("f"))
		wantContent(t, fsys, "/d/up/inside.txt", []byte("inside"))
		wantContent(t, fsys, "/d/up-file", []byte("inside"))
		if info, err := fsys.Stat(ctx, "/d/up"); err != nil || !info.IsDir() {
			t.Errorf("Stat(/d/up) = %v, %v; want the root directory", info, err)
		}
		put(t, fsys, "/link-dir/new.txt", []byte("new"))
		wantContent(t, fsys, "/d/new.txt", []byte("new"))
		if err := fsys.Remove(ctx, "/d/new.txt"); err != nil {
			t.Fatal(err)
		}
	})

	fileLinks := []string{"/abs-file", "/rel-file"}
	dirLinks := []string{"/abs-dir", "/rel-dir", "/dotdot", "/d/dotdot2", "/slash"}
	var reach []string // names that must lead nowhere
	reach = append(reach, fileLinks...)
	for _, l := range dirLinks {
		reach = append(reach, l, l+"/inner.txt", l+"/secret.txt", l+"/dir", l+"/dir/inner.txt")
	}
	refused := func(t *testing.T, what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s succeeded through a link leading out of the root", what)
		}
	}

	t.Run("outside", func(t *testing.T) {
		chmoder, _ := fsys.(ftpserver.Chmoder)
		for _, name := range reach {
			info, err := fsys.Stat(ctx, name)
			if err == nil {
				t.Errorf("Stat(%s) = %s %v, want an error", name, info.Name(), info.Mode())
			} else if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(%s): %v, want fs.ErrPermission or fs.ErrNotExist", name, err)
			}
			data, err := read(ctx, fsys, name, 0)
			if bytes.Contains(data, secret) {
				t.Errorf("Open(%s) read the file outside the root", name)
			}
			refused(t, "Open("+name+")", err)
			for _, u := range uploadModes {
				for _, wm := range writeModes {
					w, err := fsys.Create(ctx, name, ftpserver.CreateOptions{Upload: u, Mode: wm, Offset: 1})
					if err == nil {
						w.Write([]byte("EVIL"))
						w.Commit(t.Context())
					}
					refused(t, "Create("+name+", "+u.String()+", "+writeModeName(wm)+")", err)
				}
			}
			refused(t, "SetModTime("+name+")", fsys.SetModTime(ctx, name, time.Unix(0, 0)))
			if chmoder != nil {
				refused(t, "Chmod("+name+")", chmoder.Chmod(ctx, name, 0o777))
			}
			refused(t, "Mkdir("+name+"/sub)", fsys.Mkdir(ctx, name+"/sub"))
			refused(t, "Rename(/inside.txt, "+name+"/planted)", fsys.Rename(ctx, "/inside.txt", name+"/planted"))
			if strings.Count(name, "/") > strings.Count(dirLinkOf(name, dirLinks), "/") {
				// Something beyond the link itself.
				refused(t, "Remove("+name+")", fsys.Remove(ctx, name))
				refused(t, "RemoveDir("+name+")", fsys.RemoveDir(ctx, name))
				refused(t, "Rename("+name+", /stolen)", fsys.Rename(ctx, name, "/stolen"))
			}
			l, err := fsys.List(ctx, name)
			if err == nil {
				batch, _ := l.Next(100)
				l.Close()
				t.Errorf("List(%s) succeeded with %d entries", name, len(batch))
			}
		}
		// The directory holding the links still lists.
		got := names(t, fsys, "/")
		for _, want := range []string{"abs-dir", "abs-file", "dotdot", "inside.txt", "rel-dir", "rel-file", "slash"} {
			if !slices.Contains(got, want) {
				t.Errorf("List(/) = %q, missing %q", got, want)
			}
		}
		// Removing or renaming a link acts on the link only.
		if err := fsys.Remove(ctx, "/abs-file"); err != nil {
			t.Errorf("Remove(/abs-file), the link itself: %v", err)
		}
		if err := fsys.Rename(ctx, "/abs-dir", "/moved-link"); err != nil {
			t.Errorf("Rename(/abs-dir, /moved-link), the link itself: %v", err)
		}
		wantContent(t, fsys, "/inside.txt", []byte("inside"))
		compareHost(t, before, snapshotHost(t, outside))
	})
}

// dirLinkOf returns the directory link name starts with, or name.
func dirLinkOf(name string, dirLinks []string) string {
	for _, l := range dirLinks {
		if name == l || strings.HasPrefix(name, l+"/") {
			return l
		}
	}
	return name
}
