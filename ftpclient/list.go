package ftpclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/walk"
)

// List returns the entries of the directory dir, without "." and "..".
// It uses MLSD when the server offers MLST (RFC 3659: exact sizes, UTC
// times, types), else LIST, whose lines are parsed as Unix, DOS or EPLF
// listings. Lines that cannot be parsed are not dropped: List then returns
// the entries it did parse together with a *ListError holding those lines;
// so are the lines of entries whose name is not one path element ("a/b",
// "../x"), which no path in the directory can name.
func (c *Client) List(ctx context.Context, dir string) ([]ftp.Entry, error) {
	p, err := c.resolve("list", dir)
	if err != nil {
		return nil, err
	}
	var (
		entries []ftp.Entry
		bad     []string
	)
	err = c.run(ctx, "list", p, true, func(cn *conn) error {
		var err error
		entries, bad, err = cn.list(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return entries, &ListError{Path: p, Lines: bad}
	}
	return entries, nil
}

func (c *Client) useMLSD() bool {
	return c.cfg.useMLSx && c.feats.Has("MLST") && !c.noMLSD.Load()
}

func (c *Client) useMLST() bool {
	return c.cfg.useMLSx && c.feats.Has("MLST") && !c.noMLST.Load()
}

func (cn *conn) list(ctx context.Context, p string) (entries []ftp.Entry, bad []string, err error) {
	c := cn.c
	if c.useMLSD() {
		lines, long, err := cn.listing(ctx, "MLSD", p)
		if err == nil {
			entries, bad = parseMLSD(lines)
			return entries, append(bad, long...), nil
		}
		if !isUnsupported(err) {
			return nil, nil, err
		}
		c.log.Info("server announces MLST but refuses MLSD; using LIST", "err", err)
		c.noMLSD.Store(true)
	}
	lines, long, err := cn.listing(ctx, "LIST", p)
	if err != nil {
		return nil, nil, err
	}
	entries, bad = parseLIST(lines, time.Now())
	return entries, append(bad, long...), nil
}

func parseMLSD(lines []string) (entries []ftp.Entry, bad []string) {
	return parseListing(lines, func(line string) (ftp.Entry, error) {
		if strings.TrimSpace(line) == "" {
			return ftp.Entry{}, ftp.ErrSkipLine
		}
		return ftp.ParseMLSxLine(line)
	})
}

func parseLIST(lines []string, now time.Time) (entries []ftp.Entry, bad []string) {
	return parseListing(lines, func(line string) (ftp.Entry, error) {
		return ftp.ParseListLine(line, now)
	})
}

// parseListing parses each line of a listing with parse. It leaves out the
// lines parse skips (ftp.ErrSkipLine) and the entries of the directory
// itself and its parent, and returns the lines parse could not read as bad.
func parseListing(lines []string, parse func(line string) (ftp.Entry, error)) (entries []ftp.Entry, bad []string) {
	for _, line := range lines {
		e, err := parse(line)
		if errors.Is(err, ftp.ErrSkipLine) {
			continue
		}
		if err != nil {
			bad = append(bad, line)
			continue
		}
		if e.Type == "cdir" || e.Type == "pdir" || e.Name == "." || e.Name == ".." {
			continue
		}
		if e.Name == "" || strings.ContainsAny(e.Name, "/\x00") {
			// Not a name in the directory: joined to its path, "../x" or
			// "a/b" would name another file, and a walk could climb back
			// into the directory it is listing, for ever.
			bad = append(bad, line)
			continue
		}
		entries = append(entries, e)
	}
	return entries, bad
}

// NameList returns the names the server lists for dir with NLST, as it
// sends them (some servers prefix them with the directory).
func (c *Client) NameList(ctx context.Context, dir string) ([]string, error) {
	p, err := c.resolve("namelist", dir)
	if err != nil {
		return nil, err
	}
	var names []string
	err = c.run(ctx, "namelist", p, true, func(cn *conn) error {
		lines, long, err := cn.listing(ctx, "NLST", p)
		if err != nil {
			return err
		}
		if len(long) > 0 {
			return &ListError{Path: p, Lines: long}
		}
		names = names[:0]
		for _, l := range lines {
			if l != "" {
				names = append(names, l)
			}
		}
		return nil
	})
	return names, err
}

// listing runs a listing command and returns its lines, and separately
// (cut to maxListLine) the lines that were too long to keep.
func (cn *conn) listing(ctx context.Context, verb, p string) (lines, long []string, err error) {
	mode, err := cn.setMode(false, cn.c.cfg.compress)
	if err != nil {
		return nil, nil, err
	}
	d, err := cn.openTransfer(ctx, withArg(verb, p), 0, false)
	if err != nil {
		return nil, nil, err
	}
	src, release := inflater(d, mode == 'Z')
	defer release()
	ka := cn.startKeepAlive()
	lines, long, readErr := readListing(src)
	pending := ka.stop()
	if readErr != nil {
		d.reset()
		if err := cn.finishTransfer(pending); err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %w", errDataConn, readErr)
	}
	d.close()
	if err := cn.finishTransfer(pending); err != nil {
		return nil, nil, err
	}
	return lines, long, nil
}

// readListing splits a listing into lines (LF or CRLF), keeping each line
// to maxListLine bytes: a longer one is cut and returned in long.
func readListing(r io.Reader) (lines, long []string, err error) {
	br := bufio.NewReaderSize(r, 32<<10)
	var (
		cur      []byte
		overflow bool
	)
	for {
		chunk, err := br.ReadSlice('\n')
		if room := maxListLine - len(cur); len(chunk) > room {
			cur = append(cur, chunk[:max(room, 0)]...)
			overflow = true
		} else {
			cur = append(cur, chunk...)
		}
		switch {
		case err == nil, errors.Is(err, io.EOF) && len(cur) > 0:
			line := trimEOL(string(cur))
			if overflow {
				long = append(long, line)
			} else {
				lines = append(lines, line)
			}
			cur, overflow = cur[:0], false
			if err != nil {
				return lines, long, nil
			}
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return lines, long, nil
		default:
			return lines, long, err
		}
	}
}

// Stat describes the file or directory at path. It uses MLST when the
// server offers it; else SIZE and MDTM, which answer for files; else it
// finds the entry in a listing of the parent directory. The entry's Name
// is the last element of path.
func (c *Client) Stat(ctx context.Context, path string) (ftp.Entry, error) {
	p, err := c.resolve("stat", path)
	if err != nil {
		return ftp.Entry{}, err
	}
	var e ftp.Entry
	err = c.run(ctx, "stat", p, true, func(cn *conn) error {
		var err error
		e, err = cn.stat(ctx, p)
		return err
	})
	return e, err
}

func (cn *conn) stat(ctx context.Context, p string) (ftp.Entry, error) {
	c := cn.c
	if c.useMLST() {
		r, err := cn.cmd("MLST %s", p)
		switch {
		case err == nil:
			return parseMLST(r, p)
		case isUnsupported(err):
			c.log.Info("server announces MLST but refuses it; using SIZE, MDTM and LIST", "err", err)
			c.noMLST.Store(true)
		default:
			return ftp.Entry{}, err
		}
	}
	if err := cn.setType(false); err != nil { // some servers refuse SIZE in ASCII mode
		return ftp.Entry{}, err
	}
	r, err := cn.cmd("SIZE %s", p)
	if err == nil {
		e := ftp.Entry{Name: path.Base(p), Type: "file"}
		if e.Size, err = parseSize(r.msg); err != nil {
			return ftp.Entry{}, err
		}
		if r, err := cn.cmd("MDTM %s", p); err == nil {
			e.ModTime, _ = parseMDTMReply(r.msg)
		} else if cn.broken.Load() {
			return ftp.Entry{}, err
		}
		return e, nil
	}
	if cn.broken.Load() || ftp.CodeOf(err) < 500 {
		return ftp.Entry{}, err
	}
	// A directory, another kind of file, or nothing: the parent knows.
	return cn.statFromParent(ctx, p)
}

func (cn *conn) statFromParent(ctx context.Context, p string) (ftp.Entry, error) {
	dir, name := path.Split(p)
	if name == "" || p == "/" {
		return ftp.Entry{Name: p, Type: "dir", Mode: fs.ModeDir}, nil
	}
	if dir != "/" {
		dir = strings.TrimSuffix(dir, "/")
	}
	lines, _, err := cn.listing(ctx, "LIST", dir)
	if err != nil {
		return ftp.Entry{}, err
	}
	entries, _ := parseLIST(lines, time.Now())
	if i := slices.IndexFunc(entries, func(e ftp.Entry) bool { return e.Name == name }); i >= 0 {
		return entries[i], nil
	}
	return ftp.Entry{}, fs.ErrNotExist
}

// parseMLST reads the entry of a 250 reply to MLST: the line that starts
// with a space, between the reply's first and last lines.
func parseMLST(r reply, p string) (ftp.Entry, error) {
	if r.code != ftp.CodeFileActionOK {
		return ftp.Entry{}, fmt.Errorf("%w: MLST reply %d", ErrProtocol, r.code)
	}
	for _, line := range strings.Split(r.msg, "\n")[1:] {
		if !strings.HasPrefix(line, " ") {
			continue
		}
		e, err := ftp.ParseMLSxLine(line[1:])
		if err != nil {
			return ftp.Entry{}, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		e.Name = path.Base(p)
		if e.Type == "cdir" || e.Type == "pdir" {
			e.Type = "dir"
		}
		return e, nil
	}
	return ftp.Entry{}, fmt.Errorf("%w: MLST reply without an entry", ErrProtocol)
}

// WalkFunc is called by Walk for each file and directory, as
// fs.WalkDirFunc is by fs.WalkDir: first for the root with err nil
// (or, if the root cannot be described, with that error); for a directory
// a second time with the error if it cannot be listed. A *ListError is
// such an error, and the entries it came with are walked if the function
// returns nil. Returning fs.SkipDir skips a directory (or the rest of the
// parent's entries, for a file); fs.SkipAll stops the walk.
type WalkFunc func(path string, e ftp.Entry, err error) error

// Walk walks the tree rooted at root depth first, in lexical order within
// each directory, one directory at a time. It does not follow symbolic
// links. [Client.WalkConcurrent] lists several directories at once.
func (c *Client) Walk(ctx context.Context, root string, fn WalkFunc) error {
	p, err := c.resolve("walk", root)
	if err != nil {
		return err
	}
	e, err := c.Stat(ctx, p)
	if err != nil {
		err = fn(p, e, err)
	} else {
		err = c.walk(ctx, p, e, fn)
	}
	if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

func (c *Client) walk(ctx context.Context, p string, e ftp.Entry, fn WalkFunc) error {
	if err := fn(p, e, nil); err != nil || !e.IsDir() {
		if errors.Is(err, fs.SkipDir) && e.IsDir() {
			err = nil
		}
		return err
	}
	entries, err := c.List(ctx, p)
	if err != nil {
		if err = fn(p, e, err); err != nil {
			if errors.Is(err, fs.SkipDir) {
				err = nil
			}
			return err
		}
	}
	slices.SortFunc(entries, func(a, b ftp.Entry) int { return strings.Compare(a.Name, b.Name) })
	for _, child := range entries {
		if err := c.walk(ctx, walk.Join(p, child.Name), child, fn); err != nil {
			if errors.Is(err, fs.SkipDir) {
				break
			}
			return err
		}
	}
	return nil
}

// WalkConcurrent walks the tree rooted at root as [Client.Walk] does, but
// lists up to parallel directories at once (at least one), each over a
// connection of the pool, which should hold as many (WithPoolSize). It
// does not follow symbolic links.
//
// Order and concurrency: fn is called for a directory before its entries,
// and for the entries of one directory one after the other, in lexical
// order, on one goroutine. The entries of different directories are passed
// to fn from several goroutines at the same time, so fn must be safe for
// concurrent use; at most parallel calls of fn run at once, so what fn
// does in its turn (a Stat of a link, say) is bounded too. Apart from
// that, directories are taken in no set order.
//
// fn's results mean what they mean for Walk: fs.SkipDir returned for a
// directory skips it, returned for a file the rest of its directory's
// entries; fs.SkipAll or another error stops the walk. Then no listing
// starts and fn is called no more, except by calls already under way on
// other goroutines, and WalkConcurrent returns the error (nil for
// fs.SkipAll). When ctx is done the walk stops likewise and returns
// ctx.Err().
func (c *Client) WalkConcurrent(ctx context.Context, root string, parallel int, fn WalkFunc) error {
	p, err := c.resolve("walk", root)
	if err != nil {
		return err
	}
	return walk.Concurrent(ctx, p, parallel, c.Stat, c.List, fn)
}
