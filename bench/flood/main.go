// Command flood measures how a legitimate client fares while a server is
// under the load issue 14 names: connections that never log in, and
// password guessers from many addresses. It starts ferry in-process, built
// from the default configuration as "ferry serve" would be (or targets a
// running server with -addr), opens -idle connections from 127.0.0.202 to
// 127.0.0.250 that read the greeting and then say nothing (reopened when
// the server closes them), starts -guessers clients from 127.0.0.2 to
// 127.0.0.201 that send USER and a wrong PASS over and over (reconnecting
// when closed or banned), and then times -tries logins and LISTs of a
// client on 127.0.0.1, from its connect to the LIST's 226. It prints the
// percentiles and what the load met; -defender=false compares with the
// defender off.
//
// Everything is bounded: the connections by the flags, the run by
// -timeout. Loopback only: the addresses are 127.0.0.0/8.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/config"
)

type options struct {
	addr, user, pass string
	idle, guessers   int
	tries            int
	gap, guessPause  time.Duration
	timeout          time.Duration
	defender         bool
}

// counters are what the load met.
type counters struct {
	idleOpen      atomic.Int64 // idle connections open now
	idleReopened  atomic.Int64
	guesses       atomic.Int64 // wrong passwords answered 530
	refused       atomic.Int64 // connections or commands answered 421
	connectFailed atomic.Int64
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "", "target a running server (host:port) instead of starting ferry in-process")
	flag.StringVar(&o.user, "user", "legit", "the legitimate client's user")
	flag.StringVar(&o.pass, "pass", "legit-password", "the legitimate client's password")
	flag.IntVar(&o.idle, "idle", 2000, "connections that never log in")
	flag.IntVar(&o.guessers, "guessers", 200, "password guessers")
	flag.IntVar(&o.tries, "tries", 20, "timed logins and LISTs of the legitimate client")
	flag.DurationVar(&o.gap, "gap", 500*time.Millisecond, "pause between timed tries")
	flag.DurationVar(&o.guessPause, "guess-pause", 50*time.Millisecond, "pause of a guesser after its connection is refused or closed")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "bound on the whole run")
	flag.BoolVar(&o.defender, "defender", true, "in-process server: the defender on (the default configuration) or off")
	flag.Parse()
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

func run(o options, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	addr := o.addr
	var bans func() int
	if addr == "" {
		a, b, stop, err := startServer(o)
		if err != nil {
			return err
		}
		defer stop()
		addr, bans = a, b
	}

	var c counters
	var wg sync.WaitGroup
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer func() {
		stopLoad()
		wg.Wait()
	}()
	for i := range o.idle {
		wg.Go(func() { idler(loadCtx, addr, idleAddr(i), &c) })
	}
	for i := range o.guessers {
		wg.Go(func() { guesser(loadCtx, addr, guesserAddr(i), o.guessPause, &c) })
	}
	// Let the idle connections come up before timing: the question is
	// how the client fares beside them, not how fast they connect.
	for c.idleOpen.Load() < int64(o.idle)*9/10 {
		if ctx.Err() != nil {
			return fmt.Errorf("only %d of %d idle connections opened", c.idleOpen.Load(), o.idle)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var times []time.Duration
	var failures []string
	for range o.tries {
		if ctx.Err() != nil {
			break
		}
		d, err := legitimate(ctx, addr, o.user, o.pass)
		if err != nil {
			failures = append(failures, err.Error())
		} else {
			times = append(times, d)
		}
		time.Sleep(o.gap)
	}

	fmt.Fprintf(out, "target %s, defender %s: %d idle connections (%d open at the end, %d reopened), %d guessers\n",
		addr, onOff(o.defender, o.addr), o.idle, c.idleOpen.Load(), c.idleReopened.Load(), o.guessers)
	fmt.Fprintf(out, "load met: %d wrong passwords answered 530, %d refusals (421), %d failed connects", c.guesses.Load(), c.refused.Load(), c.connectFailed.Load())
	if bans != nil {
		fmt.Fprintf(out, ", %d addresses banned", bans())
	}
	fmt.Fprintln(out)
	if len(times) > 0 {
		slices.Sort(times)
		fmt.Fprintf(out, "legitimate login + LIST (%d of %d tries): p50 %v  p99 %v  max %v\n", len(times), o.tries,
			percentile(times, 50).Round(time.Millisecond), percentile(times, 99).Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	}
	for _, f := range failures {
		fmt.Fprintln(out, "failed try:", f)
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d of %d tries failed", len(failures), o.tries)
	}
	return nil
}

func onOff(on bool, target string) string {
	switch {
	case target != "":
		return "as configured"
	case on:
		return "on"
	}
	return "off"
}

// percentile is the nearest-rank percentile p of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// guesserAddr gives each guesser an address of its own, from 127.0.0.2
// on, and idleAddr spreads the idle connections over the addresses from
// 127.0.0.202 to 127.0.0.250 (about 41 each, under the default limit of
// sessions per address): a ban of a guesser does not end them.
func guesserAddr(i int) string {
	return "127.0.0." + strconv.Itoa(2+i%200)
}

func idleAddr(i int) string {
	return "127.0.0." + strconv.Itoa(202+i%49)
}

// startServer serves a temporary root with the default configuration,
// as "ferry serve --user USER --password PASS" would.
func startServer(o options) (addr string, bans func() int, stop func(), err error) {
	root, err := os.MkdirTemp("", "ferry-flood-")
	if err != nil {
		return "", nil, nil, err
	}
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("file%02d.txt", i)), []byte("flood\n"), 0o644); err != nil {
			os.RemoveAll(root)
			return "", nil, nil, err
		}
	}
	c := config.Default()
	c.Root = root
	c.PassivePorts = ""
	c.Anonymous.Enabled = false
	c.Account = &config.Account{Name: o.user, Password: o.pass}
	c.Defender.Enabled = o.defender
	inst, err := c.Build(slog.New(slog.DiscardHandler))
	if err != nil {
		os.RemoveAll(root)
		return "", nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		inst.Close()
		os.RemoveAll(root)
		return "", nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- inst.Server.Serve(ln) }()
	bans = func() int {
		if d := inst.Server.Defender; d != nil {
			return len(d.Bans())
		}
		return 0
	}
	stop = func() {
		inst.Server.Close()
		<-done
		inst.Close()
		os.RemoveAll(root)
	}
	return ln.Addr().String(), bans, stop, nil
}

// ctlConn is a control connection that ctx's end closes.
type ctlConn struct {
	net.Conn
	tp   *textproto.Conn
	stop func() bool
}

func (c *ctlConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// dial connects from the local address src and reads the greeting.
func dial(ctx context.Context, addr, src string) (*ctlConn, int, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	c := &ctlConn{Conn: conn, tp: textproto.NewConn(conn), stop: context.AfterFunc(ctx, func() { conn.Close() })}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	code, _, err := c.tp.ReadResponse(0)
	conn.SetReadDeadline(time.Time{})
	if err != nil && code == 0 {
		c.Close()
		return nil, 0, err
	}
	return c, code, nil
}

// idler holds a connection that never logs in, and opens another when
// the server closes it.
func idler(ctx context.Context, addr, src string, c *counters) {
	for first := true; ctx.Err() == nil; first = false {
		conn, code, err := dial(ctx, addr, src)
		if err != nil {
			c.connectFailed.Add(1)
			pause(ctx, time.Second)
			continue
		}
		if !first {
			c.idleReopened.Add(1)
		}
		if code != 220 {
			c.refused.Add(1)
			conn.Close()
			pause(ctx, time.Second)
			continue
		}
		c.idleOpen.Add(1)
		io.Copy(io.Discard, conn) // until the server or ctx closes it
		c.idleOpen.Add(-1)
		conn.Close()
	}
}

// guesser sends wrong passwords until ctx ends, reconnecting (after
// pauseAfter) whenever its connection is refused or closed.
func guesser(ctx context.Context, addr, src string, pauseAfter time.Duration, c *counters) {
	for n := 0; ctx.Err() == nil; {
		conn, code, err := dial(ctx, addr, src)
		if err != nil {
			c.connectFailed.Add(1)
			pause(ctx, pauseAfter)
			continue
		}
		if code != 220 {
			c.refused.Add(1)
		}
		for code == 220 && ctx.Err() == nil {
			n++
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			if code = command(conn.tp, "USER admin"); code != 331 {
				break
			}
			switch code = command(conn.tp, "PASS guess"+strconv.Itoa(n)); code {
			case 530:
				c.guesses.Add(1)
				code = 220 // go on
			case 421:
				c.refused.Add(1)
			}
		}
		conn.Close()
		pause(ctx, pauseAfter)
	}
}

// legitimate logs in and lists, and returns how long it took from the
// connect to the LIST's 226.
func legitimate(ctx context.Context, addr, user, pass string) (time.Duration, error) {
	start := time.Now()
	conn, code, err := dial(ctx, addr, "127.0.0.1")
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if code != 220 {
		return 0, fmt.Errorf("greeting %d", code)
	}
	tp := conn.tp
	conn.SetDeadline(time.Now().Add(time.Minute))
	steps := []struct {
		cmd  string
		want int
	}{{"USER " + user, 331}, {"PASS " + pass, 230}, {"EPSV", 229}}
	var msg string
	for _, s := range steps {
		if err := tp.PrintfLine("%s", s.cmd); err != nil {
			return 0, err
		}
		if _, msg, err = tp.ReadResponse(s.want); err != nil {
			return 0, fmt.Errorf("%s: %w", strings.Fields(s.cmd)[0], err)
		}
	}
	port, err := ftp.ParseEPSVReply(msg)
	if err != nil {
		return 0, err
	}
	host, _, _ := net.SplitHostPort(addr)
	data, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer data.Close()
	if err := tp.PrintfLine("LIST"); err != nil {
		return 0, err
	}
	if _, _, err := tp.ReadResponse(150); err != nil {
		return 0, fmt.Errorf("LIST: %w", err)
	}
	data.SetDeadline(time.Now().Add(time.Minute))
	listing, err := io.ReadAll(data)
	if err != nil {
		return 0, err
	}
	if _, _, err := tp.ReadResponse(226); err != nil {
		return 0, fmt.Errorf("LIST: %w", err)
	}
	elapsed := time.Since(start)
	if len(listing) == 0 {
		return 0, errors.New("LIST returned nothing")
	}
	tp.PrintfLine("QUIT")
	return elapsed, nil
}

// command sends line and returns the reply's code, 0 when there is none.
func command(tp *textproto.Conn, line string) int {
	if err := tp.PrintfLine("%s", line); err != nil {
		return 0
	}
	code, _, _ := tp.ReadResponse(0)
	return code
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
