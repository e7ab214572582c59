package xferlog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Options configure a Writer.
type Options struct {
	// Location is the zone of the dates written; nil means time.Local,
	// as wu-ftpd writes them (vsftpd too with use_localtime=YES).
	Location *time.Location
	// Logger is told of failures to write, at most once per
	// ErrorInterval; nil means slog.Default().
	Logger *slog.Logger
	// ErrorInterval is the least time between two logged write
	// failures; 0 means a minute.
	ErrorInterval time.Duration
	// Now is the clock for ErrorInterval; nil means time.Now.
	Now func() time.Time
}

// queueSize bounds the lines waiting to be written: enough for a burst
// of transfers ending together while the disk is slow. A line that finds
// the queue full is dropped (and counted) rather than waited for: a
// stalled disk must not stall transfers.
const queueSize = 4096

// Writer is an ftpserver.Observer that appends an xferlog line for every
// finished upload and download (not listings) to a file. Sessions only
// queue their lines; one goroutine writes them, each with one write(2) on
// a file opened O_APPEND, so that lines never interleave and a file
// truncated under it (logrotate's copytruncate) is written from its new
// end. Reopen opens the path again, for a file renamed by logrotate.
type Writer struct {
	ftpserver.NopObserver

	path   string
	loc    *time.Location
	logger *slog.Logger
	every  time.Duration
	now    func() time.Time

	lines chan []byte
	done  chan struct{}

	closeOnce sync.Once
	closed    chan struct{}

	mu   sync.Mutex // guards file, not the writes to it
	file *os.File

	errMu     sync.Mutex
	lastErrAt time.Time
	failed    int // lines lost since the last logged failure
}

// Open opens (creating it, mode 0600 as vsftpd does: anonymous users'
// IDs are e-mail addresses) the xferlog at path for appending.
func Open(path string, opts Options) (*Writer, error) {
	file, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		path:   path,
		loc:    opts.Location,
		logger: opts.Logger,
		every:  opts.ErrorInterval,
		now:    opts.Now,
		lines:  make(chan []byte, queueSize),
		done:   make(chan struct{}),
		closed: make(chan struct{}),
		file:   file,
	}
	if w.loc == nil {
		w.loc = time.Local
	}
	if w.logger == nil {
		w.logger = slog.Default()
	}
	if w.every <= 0 {
		w.every = time.Minute
	}
	if w.now == nil {
		w.now = time.Now
	}
	go w.run()
	return w, nil
}

func openAppend(path string) (*os.File, error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("xferlog: %w", err)
	}
	return file, nil
}

// Path returns the file's path.
func (w *Writer) Path() string { return w.path }

// TransferEnded queues the line of a finished upload or download.
func (w *Writer) TransferEnded(rec ftpserver.TransferRecord) {
	if rec.Direction != ftpserver.Upload && rec.Direction != ftpserver.Download {
		return
	}
	e := EntryOf(rec, w.loc)
	line := append(e.AppendTo(make([]byte, 0, 128)), '\n')
	select {
	case <-w.closed:
		return
	default:
	}
	select {
	case w.lines <- line:
	default:
		w.failure(errQueueFull)
	}
}

var errQueueFull = errors.New("queue full: the file takes writes slower than transfers end")

func (w *Writer) run() {
	defer close(w.done)
	for {
		select {
		case line := <-w.lines:
			w.write(line)
		case <-w.closed:
			// Write what was queued before Close.
			for {
				select {
				case line := <-w.lines:
					w.write(line)
				default:
					return
				}
			}
		}
	}
}

func (w *Writer) write(line []byte) {
	w.mu.Lock()
	file := w.file
	w.mu.Unlock()
	// One write(2): with O_APPEND the kernel places the whole line at
	// the end of the file, whoever else appends. Not under mu, so that
	// Reopen and Close never wait for a write stuck on a dead disk; an
	// *os.File may be closed while a write to it is under way.
	_, err := file.Write(line)
	if err != nil {
		w.failure(err)
	}
}

// failure counts a lost line and logs it, at most once per interval, so
// that a full disk does not flood the log.
func (w *Writer) failure(err error) {
	w.errMu.Lock()
	w.failed++
	now := w.now()
	if !w.lastErrAt.IsZero() && now.Sub(w.lastErrAt) < w.every {
		w.errMu.Unlock()
		return
	}
	lost := w.failed
	w.failed = 0
	w.lastErrAt = now
	w.errMu.Unlock()
	w.logger.Error("xferlog: lines not written", "path", w.path, "lost", lost, "err", err)
}

// Reopen opens the path again and writes the next lines there; the file
// written until now is closed. Lines queued before are written to one or
// the other, never lost. If the path cannot be opened, the Writer goes on
// with the file it has and the error says why.
func (w *Writer) Reopen() error {
	file, err := openAppend(w.path)
	if err != nil {
		return err
	}
	w.mu.Lock()
	old := w.file
	w.file = file
	w.mu.Unlock()
	return old.Close()
}

// closeWait bounds how long Close waits for the queued lines to be
// written: a server stopping must not hang on a file that takes no
// writes.
const closeWait = 5 * time.Second

// Close writes the lines queued so far, waiting at most a few seconds,
// and closes the file. Lines of transfers ending later are dropped.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() { close(w.closed) })
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	select {
	case <-w.done:
	case <-timer.C:
		// The lines still queued fail fast on the closed file and are
		// counted in the log.
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.file.Close()
}
