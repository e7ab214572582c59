package cli

import (
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Progress bars for the client commands (get, put, cp, mirror, shell).
//
// Usage:
//
//	pg := newProgress(env)          // silent unless env.Stderr is a terminal
//	defer pg.wait()                 // after every bar is done or aborted
//	b := pg.bar("file.iso", size)   // size <= 0: unknown
//	b.setCurrent(offset)            // when resuming
//	n, err := io.Copy(b.writer(dst), src)  // or b.reader(src), or b.add(n)
//	if err != nil { b.abort() } else { b.done() }
//
// Every method is safe on a silent group and its bars, and wrappers of a
// silent bar return the reader or writer unchanged, so the kernel's zero-copy
// paths (io.ReaderFrom, io.WriterTo) stay available. A bar may be fed from
// several goroutines at once (segmented downloads).

// progressGroup is a set of progress bars drawn together on stderr.
type progressGroup struct {
	p    *mpb.Progress // nil when silent
	errw io.Writer     // where other messages go while bars are drawn
}

// newProgress returns a group that draws on env.Stderr when it is a
// terminal, and a silent one otherwise.
func newProgress(env Env) *progressGroup {
	f, ok := env.Stderr.(interface{ Fd() uintptr })
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return silentProgress(env.Stderr)
	}
	return newProgressTo(env.Stderr)
}

// newProgressTo draws bars on w whatever it is (tests use it with a buffer).
func newProgressTo(w io.Writer) *progressGroup {
	p := mpb.New(mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithWidth(100), mpb.WithRefreshRate(150*time.Millisecond))
	return &progressGroup{p: p, errw: p}
}

// silentProgress returns a group that draws nothing; messages go to errw
// (which may be nil for none).
func silentProgress(errw io.Writer) *progressGroup {
	if errw == nil {
		errw = io.Discard
	}
	return &progressGroup{errw: errw}
}

// active reports whether bars are drawn.
func (g *progressGroup) active() bool { return g != nil && g.p != nil }

// messages returns a writer for lines that must appear above the bars
// (warnings, retry notices) without breaking them; each Write should be
// whole lines.
func (g *progressGroup) messages() io.Writer {
	if g == nil {
		return io.Discard
	}
	return g.errw
}

// bar adds a bar named name for a transfer of total bytes (<= 0 when
// unknown). It shows the bytes done, the rate and the time left.
func (g *progressGroup) bar(name string, total int64) *progressBar {
	b := &progressBar{last: time.Now()}
	if !g.active() {
		return b
	}
	if total < 0 {
		total = 0
	}
	b.bar = g.p.AddBar(total,
		mpb.PrependDecorators(
			decor.Name(shortName(name, 30), decor.WC{W: 31, C: decor.DindentRight}),
			decor.CountersKibiByte("% .1f / % .1f", decor.WC{W: 22}),
		),
		mpb.AppendDecorators(
			decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30, decor.WC{W: 12}),
			decor.OnComplete(decor.EwmaETA(decor.ET_STYLE_MMSS, 30, decor.WC{W: 7}), " done"),
		),
	)
	return b
}

// wait waits until every bar is done or aborted and the last frame is drawn.
func (g *progressGroup) wait() {
	if g.active() {
		g.p.Wait()
	}
}

// shortName cuts a long name in the middle so that its ends stay readable.
func shortName(name string, width int) string {
	r := []rune(name)
	if len(r) <= width {
		return name
	}
	half := (width - 1) / 2
	return string(r[:half]) + "…" + string(r[len(r)-(width-1-half):])
}

// progressBar is one transfer's bar. The zero value and a bar of a silent
// group do nothing.
type progressBar struct {
	bar *mpb.Bar

	mu   sync.Mutex
	last time.Time // of the last add, for the moving average of the rate
}

// add counts n more bytes transferred.
func (b *progressBar) add(n int64) {
	if b == nil || b.bar == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	now := time.Now()
	d := now.Sub(b.last)
	b.last = now
	b.mu.Unlock()
	b.bar.EwmaIncrInt64(n, d)
}

// setCurrent sets the bytes done so far, as when a transfer resumes at an
// offset, without counting them in the rate.
func (b *progressBar) setCurrent(n int64) {
	if b == nil || b.bar == nil {
		return
	}
	b.bar.SetCurrent(n)
	b.bar.DecoratorAverageAdjust(time.Now())
	b.mu.Lock()
	b.last = time.Now()
	b.mu.Unlock()
}

// done completes the bar at the bytes counted so far.
func (b *progressBar) done() {
	if b == nil || b.bar == nil {
		return
	}
	b.bar.SetTotal(-1, true)
}

// abort ends the bar as failed; it stays on screen where it stopped.
func (b *progressBar) abort() {
	if b == nil || b.bar == nil {
		return
	}
	b.bar.Abort(false)
}

// reader returns r counting the bytes read from it on the bar.
func (b *progressBar) reader(r io.Reader) io.Reader {
	if b == nil || b.bar == nil {
		return r
	}
	return &progressReader{r: r, b: b}
}

// writer returns w counting the bytes written to it on the bar.
func (b *progressBar) writer(w io.Writer) io.Writer {
	if b == nil || b.bar == nil {
		return w
	}
	return &progressWriter{w: w, b: b}
}

type progressReader struct {
	r io.Reader
	b *progressBar
}

func (p *progressReader) Read(buf []byte) (int, error) {
	n, err := p.r.Read(buf)
	p.b.add(int64(n))
	return n, err
}

type progressWriter struct {
	w io.Writer
	b *progressBar
}

func (p *progressWriter) Write(buf []byte) (int, error) {
	n, err := p.w.Write(buf)
	p.b.add(int64(n))
	return n, err
}
