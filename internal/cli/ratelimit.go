package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"golang.org/x/time/rate"
)

// parseRate reads a transfer rate in bytes per second: a number with an
// optional binary suffix, as curl's --limit-rate: "500K" is 500 KiB/s,
// "8M" 8 MiB/s, "1.5G"; a trailing "B", "iB" or "/s" is allowed. "" and
// "0" mean no limit.
func parseRate(s string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.ToLower(s), "/s")
	s = strings.TrimSuffix(s, "ib")
	s = strings.TrimSuffix(s, "b")
	if s == "" {
		if strings.TrimSpace(orig) == "" {
			return 0, nil
		}
		return 0, fmt.Errorf("bad rate %q: want bytes per second, like 500K or 8M", orig)
	}
	mult := 1.0
	switch s[len(s)-1] {
	case 'k':
		mult = 1 << 10
	case 'm':
		mult = 1 << 20
	case 'g':
		mult = 1 << 30
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("bad rate %q: want bytes per second, like 500K or 8M", orig)
	}
	n := int64(v * mult)
	if n == 0 && v > 0 {
		n = 1
	}
	return n, nil
}

// rateLimit throttles the bytes that pass through its readers and writers,
// together, to a rate: one limit shared by all segments of a download.
// A nil *rateLimit does not throttle and returns what it wraps unchanged.
type rateLimit struct {
	lim   *rate.Limiter
	chunk int // largest single wait, the limiter's burst
}

// newRateLimit returns a limit of bytesPerSec, or nil for none (<= 0).
func newRateLimit(bytesPerSec int64) *rateLimit {
	if bytesPerSec <= 0 {
		return nil
	}
	// A burst of a tenth of a second keeps the rate smooth without
	// reading in tiny pieces.
	burst := int(min(max(bytesPerSec/10, 1024), 64<<10))
	return &rateLimit{lim: rate.NewLimiter(rate.Limit(bytesPerSec), burst), chunk: burst}
}

// reader returns r throttled; reads stop with ctx's error once it is done.
func (l *rateLimit) reader(ctx context.Context, r io.Reader) io.Reader {
	if l == nil {
		return r
	}
	return &limitedReader{ctx: ctx, r: r, l: l}
}

// writer returns w throttled.
func (l *rateLimit) writer(ctx context.Context, w io.Writer) io.Writer {
	if l == nil {
		return w
	}
	return &limitedWriter{ctx: ctx, w: w, l: l}
}

type limitedReader struct {
	ctx context.Context
	r   io.Reader
	l   *rateLimit
}

func (lr *limitedReader) Read(p []byte) (int, error) {
	if len(p) > lr.l.chunk {
		p = p[:lr.l.chunk]
	}
	// Reading at most a burst at a time and waiting for what was read
	// before the next read makes a fast sender wait (TCP back-pressure)
	// rather than piling up data here.
	n, err := lr.r.Read(p)
	if n > 0 {
		if werr := lr.l.lim.WaitN(lr.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

type limitedWriter struct {
	ctx context.Context
	w   io.Writer
	l   *rateLimit
}

func (lw *limitedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), lw.l.chunk)]
		if err := lw.l.lim.WaitN(lw.ctx, len(chunk)); err != nil {
			return written, err
		}
		n, err := lw.w.Write(chunk)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}
