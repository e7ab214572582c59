package ftpserver

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// listBatch is how many entries one DirLister.Next call returns: memory
// stays flat whatever the directory's size.
const listBatch = 256

// listFormat selects the line format of a listing.
type listFormat int

const (
	formatLIST listFormat = iota
	formatNLST
	formatMLSD
)

// listTarget is what a LIST/NLST argument names after options are
// stripped: a directory, a file, or a glob in a directory.
type listTarget struct {
	dir     string // directory to read (absolute)
	file    fs.FileInfo
	pattern string // glob on entry names, "" for all
	prefix  string // prepended to NLST names, as the client wrote the path
}

// listArg removes leading "ls" options ("-a", "-la", "-l -a") that clients
// such as lftp and FileZilla send with LIST and NLST.
func listArg(arg string) string {
	for {
		arg = strings.TrimLeft(arg, " ")
		if !strings.HasPrefix(arg, "-") {
			return arg
		}
		opt, rest, _ := strings.Cut(arg, " ")
		if strings.ContainsAny(opt[1:], "/") {
			return arg
		}
		arg = rest
	}
}

func (s *session) findListTarget(arg string) (listTarget, error) {
	p := s.resolve(arg)
	fi, err := s.acct.FS.Stat(s.ctx, p)
	if err == nil {
		if fi.IsDir() {
			return listTarget{dir: p}, nil
		}
		prefix := ""
		if d := path.Dir(arg); arg != "" && strings.Contains(arg, "/") {
			prefix = d + "/"
		}
		return listTarget{dir: path.Dir(p), file: fi, prefix: prefix}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.ContainsAny(path.Base(p), "*?[") {
		return listTarget{}, err
	}
	// A glob in the last element, as Debian's ftp sends for mget.
	pattern := path.Base(p)
	if _, perr := path.Match(pattern, ""); perr != nil {
		return listTarget{}, err
	}
	dir := path.Dir(p)
	dfi, derr := s.acct.FS.Stat(s.ctx, dir)
	if derr != nil {
		return listTarget{}, derr
	}
	if !dfi.IsDir() {
		return listTarget{}, ftp.Errorf(ftp.CodeActionNotTaken, "Not a directory.")
	}
	prefix := ""
	if i := strings.LastIndex(arg, "/"); i >= 0 {
		prefix = arg[:i+1]
	}
	return listTarget{dir: dir, pattern: pattern, prefix: prefix}, nil
}

func cmdLIST(s *session, arg string) error { return s.list("LIST", listArg(arg), formatLIST) }
func cmdNLST(s *session, arg string) error { return s.list("NLST", listArg(arg), formatNLST) }

func cmdMLSD(s *session, arg string) error {
	p := s.resolve(arg)
	if err := s.allow(p, PermList); err != nil {
		return err
	}
	fi, err := s.acct.FS.Stat(s.ctx, p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return ftp.Errorf(ftp.CodeArgumentError, "MLSD needs a directory; use MLST for a file.")
	}
	return s.startListing("MLSD", listTarget{dir: p}, formatMLSD)
}

func (s *session) list(verb, arg string, format listFormat) error {
	target, err := s.findListTarget(arg)
	if err != nil {
		return err
	}
	if err := s.allow(target.dir, PermList); err != nil {
		return err
	}
	return s.startListing(verb, target, format)
}

func (s *session) startListing(verb string, target listTarget, format listFormat) error {
	s.takeRest()
	var lister DirLister
	if target.file == nil {
		var err error
		if lister, err = s.acct.FS.List(s.ctx, target.dir); err != nil {
			return err
		}
	}
	cleanup := func() {
		if lister != nil {
			lister.Close()
		}
	}
	c := s.coding()
	open := "Here comes the directory listing."
	return s.startTransfer(verb, target.dir, -1, 0, open, "Directory send OK.",
		func(t *transfer, conn net.Conn) error {
			lw := s.newLineWriter(t, conn, c)
			defer lw.release()
			if target.file != nil {
				s.appendListEntry(lw, target.file, target.dir, target.prefix, format)
				return lw.end()
			}
			for {
				batch, err := lister.Next(listBatch)
				for _, fi := range batch {
					if target.pattern != "" {
						if ok, _ := path.Match(target.pattern, fi.Name()); !ok {
							continue
						}
					}
					s.appendListEntry(lw, fi, target.dir, target.prefix, format)
					if err := lw.maybeFlush(); err != nil {
						return err
					}
				}
				if errors.Is(err, io.EOF) {
					return lw.end()
				}
				if err != nil {
					return err
				}
			}
		}, cleanup)
}

func (s *session) appendListEntry(lw *lineWriter, fi fs.FileInfo, dir, prefix string, format listFormat) {
	switch format {
	case formatLIST:
		lw.buf = ftp.AppendListLine(lw.buf, fi, lw.now)
	case formatNLST:
		lw.buf = ftp.AppendNameLine(lw.buf, prefix+fi.Name())
	case formatMLSD:
		e := s.mlsxEntry(fi, func() string { return path.Join(dir, fi.Name()) })
		lw.buf = ftp.AppendFacts(lw.buf, &e, s.mlstFacts)
		lw.buf = append(lw.buf, '\r', '\n')
	}
}

// lineWriter batches listing lines into a pooled buffer and writes them to
// the data connection (through the transfer mode's encoder) with a fresh
// deadline per write.
type lineWriter struct {
	s      *session
	t      *transfer
	conn   net.Conn
	dst    io.Writer // conn, or the mode's encoder in front of it
	stages *stages
	pool   *[]byte
	buf    []byte
	now    time.Time
}

func (s *session) newLineWriter(t *transfer, conn net.Conn, c coding) *lineWriter {
	pb := bufPool.Get().(*[]byte)
	dst, st := c.listing(conn)
	return &lineWriter{s: s, t: t, conn: conn, dst: dst, stages: st, pool: pb, buf: (*pb)[:0], now: time.Now()}
}

func (lw *lineWriter) maybeFlush() error {
	if len(lw.buf) < cap(lw.buf)-1024 {
		return nil
	}
	return lw.flush()
}

func (lw *lineWriter) flush() error {
	if len(lw.buf) == 0 {
		return nil
	}
	lw.arm()
	n, err := lw.dst.Write(lw.buf)
	lw.t.bytes.Add(int64(n))
	lw.buf = lw.buf[:0]
	if err != nil {
		return netErr{err}
	}
	return nil
}

func (lw *lineWriter) arm() {
	lw.conn.SetWriteDeadline(time.Now().Add(durationOr(lw.s.srv.DataTimeout, DefaultDataTimeout)))
}

// end writes what is left and ends the mode's encoding.
func (lw *lineWriter) end() error {
	if err := lw.flush(); err != nil {
		return err
	}
	lw.arm()
	if err := lw.stages.finish(); err != nil {
		return netErr{err}
	}
	return nil
}

func (lw *lineWriter) release() {
	lw.stages.release()
	if cap(lw.buf) == cap(*lw.pool) {
		*lw.pool = lw.buf[:cap(lw.buf)]
		bufPool.Put(lw.pool)
	}
}

// mlsxEntry describes fi (at the virtual path p returns, asked for only
// when needed) with RFC 3659 facts.
func (s *session) mlsxEntry(fi fs.FileInfo, p func() string) ftp.Entry {
	e := ftp.Entry{
		Name:    fi.Name(),
		Size:    fi.Size(),
		ModTime: fi.ModTime(),
		Mode:    fi.Mode().Perm(),
		HasMode: true,
	}
	// The perm strings are constants: a listing builds one entry per
	// directory entry, and MLSD of 10,000 entries should not allocate
	// 10,000 of them.
	if len(s.acct.Perms) > 0 {
		e.Type, e.Perm = "file", s.permFacts(fi, p())
		switch {
		case fi.IsDir():
			e.Type = "dir"
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Type = "OS.unix=symlink"
		}
		e.Unique = uniqueID(fi)
		return e
	}
	write := s.acct.Write
	switch {
	case fi.IsDir():
		e.Type = "dir"
		switch {
		case write:
			e.Perm = "elcmdfp"
		case s.acct.UploadDir != "" && (p() == s.acct.UploadDir || inDir(p(), s.acct.UploadDir)):
			e.Perm = "elcm"
		default:
			e.Perm = "el"
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Type = "OS.unix=symlink"
		e.Perm = "r"
	default:
		e.Type = "file"
		e.Perm = "r"
		if write {
			e.Perm = "radfw"
		}
	}
	e.Unique = uniqueID(fi)
	return e
}

// permFacts is the MLSx perm fact (RFC 3659 §7.5.5) of the entry at p
// for an account with per-path rules.
func (s *session) permFacts(fi fs.FileInfo, p string) string {
	at := s.acct.permAt(p)
	var b []byte
	add := func(letter byte, ok bool) {
		if ok {
			b = append(b, letter)
		}
	}
	if fi.IsDir() {
		// What may be done inside: a child no deeper rule covers.
		in := s.acct.permAt(path.Join(p, "\x00"))
		b = append(b, 'e')
		add('l', at&PermList != 0)
		add('c', in&PermUpload != 0)
		add('m', in&PermMkdir != 0)
		add('d', at&PermRmdir != 0)
		add('f', at&PermRename != 0)
		add('p', in&PermDelete != 0)
		return string(b)
	}
	add('r', at&PermDownload != 0)
	add('a', at&PermOverwrite != 0)
	add('d', at&PermDelete != 0)
	add('f', at&PermRename != 0)
	add('w', at&PermOverwrite != 0)
	return string(b)
}

func cmdMLST(s *session, arg string) error {
	p := s.resolve(arg)
	if err := s.allow(p, PermList); err != nil {
		return err
	}
	fi, err := s.acct.FS.Stat(s.ctx, p)
	if err != nil {
		return err
	}
	e := s.mlsxEntry(fi, func() string { return p })
	e.Name = p
	if p == s.cwd && fi.IsDir() {
		e.Type = "cdir"
	}
	line := ftp.AppendFacts(nil, &e, s.mlstFacts)
	s.replyf(ftp.CodeFileActionOK, "Listing %s\n%s\nEnd.", quoteName(p), line)
	return nil
}

func cmdSTAT(s *session, arg string) error {
	if t := s.currentTransfer(); t != nil && !t.replying.Load() {
		total := "unknown"
		if t.size >= 0 {
			total = strconv.FormatInt(t.size, 10)
		}
		s.replyf(ftp.CodeSystemStatus, "Transfer in progress:\n%s %s: %d of %s bytes in %s.\nEnd of status.",
			t.verb, quoteName(t.path), t.bytes.Load(), total, time.Since(t.start).Round(time.Millisecond))
		return nil
	}
	if arg == "" {
		return s.statSession()
	}
	if s.acct == nil {
		return ftp.Errorf(ftp.CodeNotLoggedIn, "Please log in with USER and PASS.")
	}
	return s.statPath(listArg(arg))
}

func (s *session) statSession() error {
	var b strings.Builder
	b.WriteString("ferry FTP server status:\n")
	b.WriteString(s.trf("Connected to %s\n", addrIP(s.conn.RemoteAddr())))
	if s.acct != nil {
		b.WriteString(s.trf("Logged in as %s\n", quoteName(s.acct.User)))
	} else {
		b.WriteString("Not logged in\n")
	}
	b.WriteString(s.trf("TYPE: %s, STRUcture: File, MODE: %s\n", s.describeMode(), modeName(s.mode)))
	if s.data.ready() {
		b.WriteString("Data connection prepared\n")
	} else {
		b.WriteString("No data connection\n")
	}
	b.WriteString("End of status.")
	s.reply(ftp.CodeSystemStatus, b.String())
	return nil
}

// statPath sends a LIST-format listing over the control connection
// (STAT path), streamed so a large directory is never held whole.
func (s *session) statPath(arg string) error {
	target, err := s.findListTarget(arg)
	if err != nil {
		return err
	}
	if err := s.allow(target.dir, PermList); err != nil {
		return err
	}
	var lister DirLister
	if target.file == nil {
		if lister, err = s.acct.FS.List(s.ctx, target.dir); err != nil {
			return err
		}
		defer lister.Close()
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := time.Now()
	name := target.dir
	if target.file != nil {
		name = path.Join(target.dir, target.file.Name())
	}
	buf := ftp.AppendReply(nil, ftp.CodeFileStatus, "-"+s.trf("Status of %s:", quoteName(name)))
	// AppendReply wrote "213 -Status"; make it the opening line "213-".
	buf = append(buf[:3], buf[4:]...)
	write := func() bool {
		s.conn.SetWriteDeadline(time.Now().Add(durationOr(s.srv.DataTimeout, DefaultDataTimeout)))
		_, err := s.conn.Write(buf)
		buf = buf[:0]
		return err == nil
	}
	appendLine := func(fi fs.FileInfo) {
		buf = append(buf, ' ')
		buf = ftp.AppendListLine(buf, fi, now)
	}
	if target.file != nil {
		appendLine(target.file)
	} else {
		for {
			batch, err := lister.Next(listBatch)
			for _, fi := range batch {
				if target.pattern != "" {
					if ok, _ := path.Match(target.pattern, fi.Name()); !ok {
						continue
					}
				}
				appendLine(fi)
			}
			if len(buf) > 32<<10 && !write() {
				return nil
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					s.log.Error("STAT listing failed", "err", err)
				}
				break
			}
		}
	}
	buf = ftp.AppendReply(buf, ftp.CodeFileStatus, s.tr("End of status."))
	if write() {
		s.srv.replied(ftp.CodeFileStatus)
	}
	return nil
}

func cmdABOR(s *session, _ string) error {
	t := s.currentTransfer()
	if t == nil {
		s.data.close()
		s.reply(ftp.CodeDataOpenNoTransfer, "No transfer to abort.")
		return nil
	}
	t.abort()
	<-t.done // the transfer answers 426 first
	s.reply(ftp.CodeClosingData, "ABOR successful.")
	return nil
}
