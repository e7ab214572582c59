package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

// retryFlags are the flags of commands that retry after temporary failures.
type retryFlags struct {
	retries   int
	retryWait time.Duration
}

func (f *retryFlags) register(fl *pflag.FlagSet) {
	fl.IntVar(&f.retries, "retries", 5, "retry a failed transfer this many times on temporary errors (4xx replies, network errors)")
	fl.DurationVar(&f.retryWait, "retry-wait", time.Second, "wait before the first retry; doubled for each further one, up to 30s")
}

// maxRetryWait caps the exponential back-off.
const maxRetryWait = 30 * time.Second

// retrier runs an operation again after temporary failures, with
// exponential back-off and a notice on each retry.
type retrier struct {
	retries int
	wait    time.Duration
	notify  io.Writer // where retry notices go; nil for none
}

func (f *retryFlags) retrier(notify io.Writer) *retrier {
	return &retrier{retries: max(f.retries, 0), wait: f.retryWait, notify: notify}
}

// do calls fn until it succeeds, fails with an error that is not
// temporary, the retries are spent or ctx is done. what names the
// operation in notices. fn is told the attempt number, from 1.
func (r *retrier) do(ctx context.Context, what string, fn func(attempt int) error) error {
	wait := r.wait
	if wait <= 0 {
		wait = time.Second
	}
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if attempt > r.retries || !isTemporary(err) {
			return err
		}
		// Full jitter on the upper half, so that clients cut off
		// together do not come back together.
		d := wait/2 + rand.N(wait/2+1)
		if r.notify != nil {
			fmt.Fprintf(r.notify, "ferry: %s: %v; retrying in %s (%d of %d)\n", what, err, d.Round(10*time.Millisecond), attempt, r.retries)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(wait*2, maxRetryWait)
	}
}

// localError marks a failure of the local side (disk full, permission
// denied on a local file): retrying the network does not help.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// permanent wraps err so that isTemporary reports false for it.
func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &localError{err}
}

// isTemporary reports whether an operation that failed with err may
// succeed if tried again: a 4xx reply (RFC 959's "transient negative
// completion"), or a network failure: a reset, a timeout, a connection
// closed early. A 5xx reply, a local error, a certificate the client does
// not trust and a protocol error are permanent.
func isTemporary(err error) bool {
	if err == nil {
		return false
	}
	var le *localError
	if errors.As(err, &le) {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, ftpclient.ErrClosed) ||
		errors.Is(err, ftpclient.ErrUnsupported) || errors.Is(err, ftpclient.ErrProtocol) {
		return false
	}
	if code := ftp.CodeOf(err); code != 0 {
		return code >= 400 && code < 500
	}
	var (
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		alertErr   tls.AlertError
		recordErr  tls.RecordHeaderError
		dnsErr     *net.DNSError
		addrErr    *net.AddrError
		parseError *net.ParseError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &alertErr), errors.As(err, &recordErr),
		errors.As(err, &addrErr), errors.As(err, &parseError):
		return false
	case errors.As(err, &dnsErr):
		return !dnsErr.IsNotFound
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	for _, errno := range []syscall.Errno{
		syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ne.Timeout()
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}
