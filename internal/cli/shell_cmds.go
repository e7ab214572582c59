package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

// shellCommand is one command of the shell.
type shellCommand struct {
	name    string
	aliases []string
	usage   string
	help    string
	// args tells what the argument after n others (and the flags typed so
	// far) names, for completion; nil for a command without arguments.
	args func(n int, flags []string) shellArgKind
	run  func(ctx context.Context, s *shell, args []string) error
}

func shellRemoteArgs(int, []string) shellArgKind { return shellArgRemote }
func shellLocalArgs(int, []string) shellArgKind  { return shellArgLocal }

// shellPairArgs is for commands taking a source and a target.
func shellPairArgs(first, second shellArgKind) func(int, []string) shellArgKind {
	return func(n int, _ []string) shellArgKind {
		switch n {
		case 0:
			return first
		case 1:
			return second
		}
		return shellArgNone
	}
}

func shellMirrorArgs(n int, flags []string) shellArgKind {
	reverse := slices.ContainsFunc(flags, func(f string) bool {
		return f == "--reverse" || (!strings.HasPrefix(f, "--") && strings.Contains(f, "R"))
	})
	first, second := shellArgRemote, shellArgLocal
	if reverse {
		first, second = second, first
	}
	return shellPairArgs(first, second)(n, flags)
}

func shellCommands() []*shellCommand {
	return []*shellCommand{
		{name: "ls", aliases: []string{"dir"}, usage: "ls [-l] [PATH...]", help: "list a remote directory (-l: with sizes and times)", args: shellRemoteArgs, run: shellLs},
		{name: "cd", usage: "cd [DIR]", help: "change the remote directory (no DIR: the login directory; -: the previous one)", args: shellRemoteArgs, run: shellCd},
		{name: "pwd", usage: "pwd", help: "print the remote directory", run: shellPwd},
		{name: "get", usage: "get [-c] REMOTE [LOCAL]", help: "download a file (-c: continue a partial download)", args: shellPairArgs(shellArgRemote, shellArgLocal), run: shellGet},
		{name: "put", usage: "put [-c] LOCAL [REMOTE]", help: "upload a file (-c: continue a partial upload)", args: shellPairArgs(shellArgLocal, shellArgRemote), run: shellPut},
		{name: "mget", usage: "mget GLOB...", help: "download the remote files matching the patterns into the local directory", args: shellRemoteArgs, run: shellMget},
		{name: "mput", usage: "mput GLOB...", help: "upload the local files matching the patterns into the remote directory", args: shellLocalArgs, run: shellMput},
		{name: "cat", usage: "cat FILE...", help: "print remote files", args: shellRemoteArgs, run: shellCat},
		{name: "mirror", usage: "mirror [-R] [--delete] [-n] [--only-newer] [-I GLOB] [-X GLOB] [-P N] [-v] [SOURCE [TARGET]]",
			help: "copy a directory tree from the server (-R: to it), transferring what changed; see ferry mirror --help",
			args: shellMirrorArgs, run: shellMirror},
		{name: "rm", aliases: []string{"delete"}, usage: "rm [-r] PATH...", help: "delete remote files (-r: and directories, with what they hold)", args: shellRemoteArgs, run: shellRm},
		{name: "mkdir", usage: "mkdir [-p] DIR...", help: "make remote directories (-p: and their parents)", args: shellRemoteArgs, run: shellMkdir},
		{name: "rmdir", usage: "rmdir DIR...", help: "delete empty remote directories", args: shellRemoteArgs, run: shellRmdir},
		{name: "mv", aliases: []string{"rename"}, usage: "mv FROM TO", help: "rename or move a remote file or directory", args: shellRemoteArgs, run: shellMv},
		{name: "lcd", usage: "lcd [DIR]", help: "change the local directory (no DIR: your home)", args: shellLocalArgs, run: shellLcd},
		{name: "lpwd", usage: "lpwd", help: "print the local directory", run: shellLpwd},
		{name: "lls", usage: "lls [-l] [PATH...]", help: "list a local directory", args: shellLocalArgs, run: shellLls},
		{name: "help", aliases: []string{"?"}, usage: "help [COMMAND]", help: "list the commands, or describe one",
			args: func(int, []string) shellArgKind { return shellArgCommand }, run: shellHelp},
		{name: "bye", aliases: []string{"quit", "exit"}, usage: "bye", help: "end the session", run: shellBye},
	}
}

// shellFlags is a flag set for a shell command; its errors are returned,
// not printed.
func shellFlags(name string) *pflag.FlagSet {
	fl := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fl.SetOutput(io.Discard)
	return fl
}

var errShellUsage = errors.New("usage")

func shellUsage(usage string) error { return fmt.Errorf("%w: %s", errShellUsage, usage) }

func shellLs(ctx context.Context, s *shell, args []string) error {
	fl := shellFlags("ls")
	long := fl.BoolP("long", "l", false, "")
	if err := fl.Parse(args); err != nil {
		return err
	}
	paths := fl.Args()
	if len(paths) == 0 {
		paths = []string{""}
	}
	var firstErr error
	for i, p := range paths {
		rp := s.rpath(p)
		entries, err := s.client.List(ctx, rp)
		var le *ftpclient.ListError
		if err != nil && !errors.As(err, &le) {
			// A file, or nothing at all.
			if e, serr := s.client.Stat(ctx, rp); serr == nil && !e.IsDir() {
				e.Name = p
				shellPrintEntries(s.env.Stdout, []ftp.Entry{e}, *long)
				continue
			}
			firstErr = cmp.Or(firstErr, err)
			fmt.Fprintf(s.env.Stderr, "ls: %v\n", err)
			continue
		}
		if len(paths) > 1 {
			if i > 0 {
				fmt.Fprintln(s.env.Stdout)
			}
			fmt.Fprintf(s.env.Stdout, "%s:\n", p)
		}
		slices.SortFunc(entries, func(a, b ftp.Entry) int { return strings.Compare(a.Name, b.Name) })
		shellPrintEntries(s.env.Stdout, entries, *long)
		if le != nil {
			fmt.Fprintf(s.env.Stderr, "ls: %v\n", err)
		}
	}
	if firstErr != nil {
		return errShellReported
	}
	return nil
}

// errShellReported is returned by a command whose errors it printed itself.
var errShellReported = errors.New("failed")

func shellPrintEntries(w io.Writer, entries []ftp.Entry, long bool) {
	if !long {
		for _, e := range entries {
			name := e.Name
			if e.IsDir() {
				name += "/"
			}
			fmt.Fprintln(w, name)
		}
		return
	}
	sizeWidth := 1
	for _, e := range entries {
		sizeWidth = max(sizeWidth, len(strconv.FormatInt(e.Size, 10)))
	}
	for _, e := range entries {
		kind := "-"
		switch {
		case e.IsDir():
			kind = "d"
		case mirrorIsSymlink(e):
			kind = "l"
		}
		perm := "?????????"
		if e.HasMode {
			perm = e.Mode.Perm().String()[1:]
		}
		when := "                "
		if !e.ModTime.IsZero() {
			when = e.ModTime.Local().Format("2006-01-02 15:04")
		}
		name := e.Name
		if e.Target != "" {
			name += " -> " + e.Target
		}
		fmt.Fprintf(w, "%s%s %*d %s %s\n", kind, perm, sizeWidth, e.Size, when, name)
	}
}

func shellCd(ctx context.Context, s *shell, args []string) error {
	if len(args) > 1 {
		return shellUsage("cd [DIR]")
	}
	target := s.client.Home()
	switch {
	case len(args) == 0 && target == "":
		return nil
	case len(args) == 0:
	case args[0] == "-":
		target = s.prevCwd
	default:
		target = s.rpath(args[0])
	}
	e, err := s.client.Stat(ctx, target)
	if err != nil {
		return err
	}
	if !e.IsDir() {
		return fmt.Errorf("%s is not a directory", target)
	}
	s.prevCwd, s.cwd = s.cwd, target
	return nil
}

func shellPwd(ctx context.Context, s *shell, args []string) error {
	fmt.Fprintln(s.env.Stdout, s.cwd)
	return nil
}

func shellLcd(ctx context.Context, s *shell, args []string) error {
	if len(args) > 1 {
		return shellUsage("lcd [DIR]")
	}
	target := "~"
	if len(args) == 1 {
		target = args[0]
	}
	dir := s.lpath(target)
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	s.lcwd = dir
	return nil
}

func shellLpwd(ctx context.Context, s *shell, args []string) error {
	fmt.Fprintln(s.env.Stdout, s.lcwd)
	return nil
}

func shellLls(ctx context.Context, s *shell, args []string) error {
	fl := shellFlags("lls")
	long := fl.BoolP("long", "l", false, "")
	if err := fl.Parse(args); err != nil {
		return err
	}
	paths := fl.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	for _, p := range paths {
		dir := s.lpath(p)
		des, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		var entries []ftp.Entry
		for _, de := range des {
			fi, err := de.Info()
			if err != nil {
				continue
			}
			e := ftp.Entry{Name: de.Name(), Size: fi.Size(), ModTime: fi.ModTime(), Mode: fi.Mode(), HasMode: true, Type: "file"}
			switch {
			case fi.IsDir():
				e.Type = "dir"
			case fi.Mode()&fs.ModeSymlink != 0:
				e.Type = "OS.unix=symlink"
				e.Target, _ = os.Readlink(filepath.Join(dir, de.Name()))
			}
			entries = append(entries, e)
		}
		shellPrintEntries(s.env.Stdout, entries, *long)
	}
	return nil
}

// note prints a line about a finished transfer: above the bars when they
// are drawn, else on standard output.
func (s *shell) note(pg *progressGroup, mu *sync.Mutex, format string, args ...any) {
	w := s.env.Stdout
	if pg.active() {
		w = pg.messages()
	}
	line := fmt.Sprintf(format+"\n", args...)
	mu.Lock()
	defer mu.Unlock()
	io.WriteString(w, line)
}

// shellRate describes n bytes moved in d.
func shellRate(n int64, d time.Duration) string {
	s := mirrorBytes(n) + " in " + d.Round(time.Millisecond).String()
	if d > 0 && n > 0 {
		s += " (" + mirrorBytes(int64(float64(n)/d.Seconds())) + "/s)"
	}
	return s
}

func shellGet(ctx context.Context, s *shell, args []string) error {
	return s.transferOne(ctx, "get", "get [-c] REMOTE [LOCAL]", s.rpath, s.download, args)
}

// shellTransfer is s.download or s.upload: it moves the file src to dst
// (empty for the current directory on the other side) and returns a line
// saying how it went.
type shellTransfer func(ctx context.Context, pg *progressGroup, src, dst string, resume bool) (string, error)

// transferOne is get and put: it moves one file, given as SOURCE [TARGET]
// with -c to resume, and prints how it went. resolve turns SOURCE into a
// path on its side.
func (s *shell) transferOne(ctx context.Context, name, usage string, resolve func(string) string, transfer shellTransfer, args []string) error {
	fl := shellFlags(name)
	resume := fl.BoolP("continue", "c", false, "")
	if err := fl.Parse(args); err != nil {
		return err
	}
	a := fl.Args()
	if len(a) < 1 || len(a) > 2 {
		return shellUsage(usage)
	}
	dst := ""
	if len(a) == 2 {
		dst = a[1]
	}
	pg := newProgress(s.env)
	msg, err := transfer(ctx, pg, resolve(a[0]), dst, *resume)
	pg.wait()
	if err == nil {
		fmt.Fprintln(s.env.Stdout, msg)
	}
	return err
}

// localTarget is where a download of the remote file named base goes:
// local (a file, or a directory to put it in), else the local directory.
func (s *shell) localTarget(local, base string) string {
	if local == "" {
		return s.lpath(base)
	}
	p := s.lpath(local)
	if fi, err := os.Stat(p); (err == nil && fi.IsDir()) || strings.HasSuffix(local, "/") {
		return filepath.Join(p, base)
	}
	return p
}

// download fetches the remote file rp into local (see localTarget) and
// returns a line saying how it went.
func (s *shell) download(ctx context.Context, pg *progressGroup, rp, local string, resume bool) (string, error) {
	e, err := s.client.Stat(ctx, rp)
	if err != nil {
		return "", err
	}
	if e.IsDir() {
		return "", fmt.Errorf("%s is a directory (mirror copies directories)", rp)
	}
	base := path.Base(rp)
	dst := s.localTarget(local, base)
	var offset int64
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if resume {
		if fi, err := os.Stat(dst); err == nil {
			offset = fi.Size()
			flags = os.O_WRONLY
			if offset == e.Size {
				return base + ": already complete", nil
			}
			if offset > e.Size {
				return "", fmt.Errorf("%s is larger than %s on the server: not a partial download of it", dst, rp)
			}
		}
	}
	f, err := os.OpenFile(dst, flags, 0o666)
	if err != nil {
		return "", err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return "", err
	}
	bar := pg.bar(base, e.Size)
	bar.setCurrent(offset)
	start := time.Now()
	n, err := s.client.Retrieve(ctx, rp, offset, bar.writer(f))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		bar.abort()
		return "", err
	}
	bar.done()
	if !e.ModTime.IsZero() {
		os.Chtimes(dst, e.ModTime, e.ModTime)
	}
	return base + ": " + shellRate(n, time.Since(start)), nil
}

func shellPut(ctx context.Context, s *shell, args []string) error {
	return s.transferOne(ctx, "put", "put [-c] LOCAL [REMOTE]", s.lpath, s.upload, args)
}

// remoteTarget is where an upload of the local file named base goes.
func (s *shell) remoteTarget(ctx context.Context, remote, base string) string {
	if remote == "" {
		return s.rpath(base)
	}
	rp := s.rpath(remote)
	if strings.HasSuffix(remote, "/") {
		return path.Join(rp, base)
	}
	if e, err := s.client.Stat(ctx, rp); err == nil && e.IsDir() {
		return path.Join(rp, base)
	}
	return rp
}

// upload sends the local file lp to remote (see remoteTarget) and
// returns a line saying how it went.
func (s *shell) upload(ctx context.Context, pg *progressGroup, lp, remote string, resume bool) (string, error) {
	f, err := os.Open(lp)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "", fmt.Errorf("%s is a directory (mirror -R copies directories)", lp)
	}
	base := filepath.Base(lp)
	rp := s.remoteTarget(ctx, remote, base)
	var offset int64
	if resume {
		if size, err := s.client.Size(ctx, rp); err == nil {
			if size == fi.Size() {
				return base + ": already complete", nil
			}
			if size > fi.Size() {
				return "", fmt.Errorf("%s is larger on the server than %s: not a partial upload of it", rp, lp)
			}
			offset = size
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return "", err
		}
	}
	bar := pg.bar(base, fi.Size())
	bar.setCurrent(offset)
	start := time.Now()
	n, err := s.client.Store(ctx, rp, bar.reader(f), offset)
	if err != nil {
		bar.abort()
		return "", err
	}
	bar.done()
	return base + ": " + shellRate(n, time.Since(start)), nil
}

// shellEach runs fn for every item, up to parallel at a time, and returns
// how many failed; fn reports its own errors.
func shellEach[T any](ctx context.Context, parallel int, items []T, fn func(T) bool) int {
	var (
		next, failed atomic.Int64
		wg           sync.WaitGroup
	)
	for range min(parallel, len(items)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				if !fn(items[i]) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(failed.Load())
}

func shellHasGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

func shellMget(ctx context.Context, s *shell, args []string) error {
	if len(args) == 0 {
		return shellUsage("mget GLOB...")
	}
	var files []string
	failed := 0
	for _, pat := range args {
		if !shellHasGlob(pat) {
			files = append(files, s.rpath(pat))
			continue
		}
		dir, base := path.Split(pat)
		if shellHasGlob(dir) {
			fmt.Fprintf(s.env.Stderr, "mget: %s: patterns are matched in one directory only\n", pat)
			failed++
			continue
		}
		if _, err := path.Match(base, ""); err != nil {
			fmt.Fprintf(s.env.Stderr, "mget: %s: %v\n", pat, err)
			failed++
			continue
		}
		entries, err := s.client.List(ctx, s.rpath(dir))
		var le *ftpclient.ListError
		if err != nil && !errors.As(err, &le) {
			fmt.Fprintf(s.env.Stderr, "mget: %v\n", err)
			failed++
			continue
		}
		n := 0
		for _, e := range entries {
			if ok, _ := path.Match(base, e.Name); ok && !e.IsDir() && mirrorSafeName(e.Name) {
				files = append(files, s.rpath(dir+e.Name))
				n++
			}
		}
		if n == 0 {
			fmt.Fprintf(s.env.Stderr, "mget: %s: no match\n", pat)
			failed++
		}
	}
	return s.transferAll(ctx, "mget", files, failed, s.download)
}

func shellMput(ctx context.Context, s *shell, args []string) error {
	if len(args) == 0 {
		return shellUsage("mput GLOB...")
	}
	var files []string
	failed := 0
	for _, pat := range args {
		matches, err := filepath.Glob(s.lpath(pat))
		if err != nil {
			fmt.Fprintf(s.env.Stderr, "mput: %s: %v\n", pat, err)
			failed++
			continue
		}
		n := 0
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
				files = append(files, m)
				n++
			}
		}
		if n == 0 {
			fmt.Fprintf(s.env.Stderr, "mput: %s: no file matches\n", pat)
			failed++
		}
	}
	return s.transferAll(ctx, "mput", files, failed, s.upload)
}

// transferAll is the end of mget and mput: it moves each of files (once,
// in name order) with transfer, several at a time, and fails if any of them
// or any of the failed patterns before them did.
func (s *shell) transferAll(ctx context.Context, verb string, files []string, failed int, transfer shellTransfer) error {
	slices.Sort(files)
	files = slices.Compact(files)
	pg := newProgress(s.env)
	var mu sync.Mutex
	failed += shellEach(ctx, s.parallel, files, func(src string) bool {
		msg, err := transfer(ctx, pg, src, "", false)
		if err != nil {
			if ctx.Err() == nil {
				s.note(pg, &mu, "%s: %v", verb, err)
			}
			return false
		}
		s.note(pg, &mu, "%s", msg)
		return true
	})
	pg.wait()
	if failed > 0 {
		return fmt.Errorf("%d failed", failed)
	}
	return nil
}

func shellCat(ctx context.Context, s *shell, args []string) error {
	if len(args) == 0 {
		return shellUsage("cat FILE...")
	}
	for _, p := range args {
		if _, err := s.client.Retrieve(ctx, s.rpath(p), 0, s.env.Stdout); err != nil {
			return err
		}
	}
	return nil
}

func shellMirror(ctx context.Context, s *shell, args []string) error {
	fl := shellFlags("mirror")
	var opts mirrorOptions
	opts.register(fl)
	if err := fl.Parse(args); err != nil {
		return err
	}
	a := fl.Args()
	if len(a) > 2 {
		return shellUsage("mirror [-R] [flags] [SOURCE [TARGET]]")
	}
	job, err := newMirrorJob(opts)
	if err != nil {
		return err
	}
	if !opts.reverse {
		job.remote, job.local = s.cwd, s.lcwd
		if len(a) >= 1 {
			job.remote = s.rpath(a[0])
			if b := path.Base(job.remote); b != "/" && b != "." {
				job.local = s.lpath(b)
			}
		}
		if len(a) == 2 {
			job.local = s.lpath(a[1])
		}
	} else {
		job.local, job.remote = s.lcwd, s.cwd
		if len(a) >= 1 {
			job.local = s.lpath(a[0])
			if b := filepath.Base(job.local); b != string(filepath.Separator) && b != "." {
				job.remote = s.rpath(b)
			}
		}
		if len(a) == 2 {
			job.remote = s.rpath(a[1])
		}
	}
	job.client = s.client
	job.out = s.env.Stdout
	job.pg = newProgress(s.env)
	return job.run(ctx)
}

func shellRm(ctx context.Context, s *shell, args []string) error {
	fl := shellFlags("rm")
	recursive := fl.BoolP("recursive", "r", false, "")
	fl.BoolP("force", "f", false, "") // accepted for habit's sake
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() == 0 {
		return shellUsage("rm [-r] PATH...")
	}
	for _, p := range fl.Args() {
		rp := s.rpath(p)
		if !*recursive {
			if err := s.client.Remove(ctx, rp); err != nil {
				return err
			}
			continue
		}
		e, err := s.client.Stat(ctx, rp)
		if err != nil {
			return err
		}
		if !e.IsDir() {
			if err := s.client.Remove(ctx, rp); err != nil {
				return err
			}
			continue
		}
		if err := s.removeTree(ctx, rp); err != nil {
			return err
		}
	}
	return nil
}

// shellReporter prints the problems met while listing a tree for rm -r.
type shellReporter struct {
	w      io.Writer
	mu     sync.Mutex
	failed bool
}

func (r *shellReporter) fail(what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	fmt.Fprintf(r.w, "rm: %s: %v\n", what, err)
}

func (r *shellReporter) warn(what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "rm: %s: %v\n", what, err)
}

// removeTree deletes the remote directory rp and everything in it.
func (s *shell) removeTree(ctx context.Context, rp string) error {
	rep := &shellReporter{w: s.env.Stderr}
	tree, err := listRemoteTree(ctx, s.client, rp, s.parallel, mirrorFilter{}, rep)
	if err != nil {
		return err
	}
	var files, dirs []string
	for rel, e := range tree.entries {
		if e.dir {
			dirs = append(dirs, rel)
		} else {
			files = append(files, rel)
		}
	}
	var mu sync.Mutex
	failed := shellEach(ctx, s.parallel, files, func(rel string) bool {
		if err := s.client.Remove(ctx, mirrorRemotePath(rp, rel)); err != nil {
			mu.Lock()
			fmt.Fprintf(s.env.Stderr, "rm: %v\n", err)
			mu.Unlock()
			return false
		}
		return true
	})
	mirrorDeepestFirst(dirs)
	for _, rel := range dirs {
		if err := s.client.RemoveDir(ctx, mirrorRemotePath(rp, rel)); err != nil {
			fmt.Fprintf(s.env.Stderr, "rm: %v\n", err)
			failed++
		}
	}
	if failed > 0 || rep.failed {
		return fmt.Errorf("%s: not everything could be deleted", rp)
	}
	return s.client.RemoveDir(ctx, rp)
}

func shellMkdir(ctx context.Context, s *shell, args []string) error {
	fl := shellFlags("mkdir")
	parents := fl.BoolP("parents", "p", false, "")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() == 0 {
		return shellUsage("mkdir [-p] DIR...")
	}
	for _, p := range fl.Args() {
		var err error
		if *parents {
			err = mirrorMkdirAll(ctx, s.client, s.rpath(p))
		} else {
			err = s.client.Mkdir(ctx, s.rpath(p))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func shellRmdir(ctx context.Context, s *shell, args []string) error {
	if len(args) == 0 {
		return shellUsage("rmdir DIR...")
	}
	for _, p := range args {
		if err := s.client.RemoveDir(ctx, s.rpath(p)); err != nil {
			return err
		}
	}
	return nil
}

func shellMv(ctx context.Context, s *shell, args []string) error {
	if len(args) != 2 {
		return shellUsage("mv FROM TO")
	}
	from := s.rpath(args[0])
	return s.client.Rename(ctx, from, s.remoteTarget(ctx, args[1], path.Base(from)))
}

func shellHelp(ctx context.Context, s *shell, args []string) error {
	if len(args) > 0 {
		for _, name := range args {
			c := s.lookup(name)
			if c == nil {
				return fmt.Errorf("%s: no such command", name)
			}
			fmt.Fprintf(s.env.Stdout, "%s\n    %s\n", c.usage, c.help)
			if len(c.aliases) > 0 {
				fmt.Fprintf(s.env.Stdout, "    also: %s\n", strings.Join(c.aliases, ", "))
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(s.env.Stdout, 0, 0, 2, ' ', 0)
	for _, c := range s.commands {
		usage := c.usage
		if c.name == "mirror" {
			usage = "mirror [-R] [flags] [SOURCE [TARGET]]"
		}
		fmt.Fprintf(tw, "%s\t%s\n", usage, c.help)
	}
	tw.Flush()
	fmt.Fprintln(s.env.Stdout, "Quote names with spaces: \"a b\", 'a b' or a\\ b. Remote paths are relative to pwd, local ones to lpwd.")
	return nil
}

func shellBye(ctx context.Context, s *shell, args []string) error {
	s.quit = true
	return nil
}
