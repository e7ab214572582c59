package ftpserver

import (
	"container/list"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Defender bans client addresses that guess passwords, flood the server
// with rejected commands or try to steal data connections, as ProFTPD's
// mod_ban and SFTPGo's defender do. Each offence adds its weight to the
// address's score within Window; once the score is past MaxFailures the
// address is banned for Ban, twice as long for each ban it had before
// (up to MaxBan). A banned address's connections get 421 and are closed
// before a session is made for them, and its live sessions are ended.
//
// An address is an IPv4 address or the /64 network of an IPv6 one (a
// single IPv6 client is routinely given a whole /64). Behind PROXY
// protocol it is the client's address that the header names.
//
// Set the fields before the Server starts; a Defender may be shared by
// several Servers. Bans, Unban and the OnBan callback are safe to use at
// any time.
type Defender struct {
	// Window is how long an address's score builds up: the score starts
	// afresh this long after its first offence. Default 10 minutes.
	Window time.Duration
	// MaxFailures is the score an address may reach within Window; one
	// more offence bans it. A failed login scores 1. Default 10;
	// negative: the first offence bans.
	MaxFailures int
	// Ban is how long a first ban lasts. Default 15 minutes.
	Ban time.Duration
	// MaxBan caps the doubled bans of repeat offenders; an address is
	// remembered as an offender for MaxBan after its ban ends. Default
	// 24 hours.
	MaxBan time.Duration
	// Allow lists the networks never scored nor banned (monitoring,
	// the operator's own).
	Allow []netip.Prefix

	// What each offence scores, in failed logins: a failed login
	// (default 1), a rejected command (syntax error, unknown verb,
	// command before login; default 0.2, as clients probe with verbs a
	// server may not know), and a refused data connection (PORT or EPRT
	// to another host, a passive connection from an address other than
	// the client's, without Server.AllowFXP; default 1). Negative: not
	// scored.
	LoginFailureWeight float64
	BadCommandWeight   float64
	RefusedDataWeight  float64

	// MaxEntries bounds the addresses tracked, scored and banned each:
	// past it the oldest score, or the oldest ban, is dropped,
	// so a flood of addresses cannot grow the tables without bound.
	// Zero or negative: 100,000.
	MaxEntries int

	// OnBan, when set, is called as each ban starts (for metrics). It
	// runs on a session goroutine: keep it fast.
	OnBan func(Ban)

	// now is the clock, settable by tests.
	now func() time.Time

	mu       sync.Mutex
	scores   map[netip.Addr]*list.Element // of *scoreEntry
	byStart  list.List                    // scoreEntries, newest first
	bans     map[netip.Addr]*list.Element // of *banEntry
	byBan    list.List                    // banEntries, last banned first
	swept    time.Time
	servers  []*Server   // the servers whose sessions a ban ends
	watchers []func(Ban) // Watch's functions
}

// Ban is an address's ban.
type Ban struct {
	// Addr is the banned address: an IPv4 /32 or an IPv6 /64.
	Addr netip.Prefix
	// Until is when the ban ends.
	Until time.Time
	// Count is how many times the address has been banned, this ban
	// included (a repeat offender's ban doubles each time).
	Count int
}

// Defaults for the zero values of Defender's fields.
const (
	DefaultDefenderWindow      = 10 * time.Minute
	DefaultDefenderMaxFailures = 10
	DefaultDefenderBan         = 15 * time.Minute
	DefaultDefenderMaxBan      = 24 * time.Hour
	DefaultDefenderMaxEntries  = 100_000

	DefaultLoginFailureWeight = 1
	DefaultBadCommandWeight   = 0.2
	DefaultRefusedDataWeight  = 1
)

// offence is a kind of misbehaviour the Defender scores.
type offence int

const (
	offenceLogin offence = iota
	offenceCommand
	offenceData
)

// pointsPerFailure is the fixed-point scale of scores, so that weights
// like 0.2 add up exactly; maxWeight caps a weight.
const (
	pointsPerFailure = 1000
	maxWeight        = 1 << 20
)

type scoreEntry struct {
	key    netip.Addr
	points int64
	start  time.Time
}

type banEntry struct {
	key   netip.Addr
	until time.Time
	count int
	// forget is when the address stops counting as a repeat offender.
	forget time.Time
}

func (d *Defender) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

func (d *Defender) window() time.Duration {
	return durationOr(d.Window, DefaultDefenderWindow)
}

func (d *Defender) maxBan() time.Duration {
	return durationOr(d.MaxBan, DefaultDefenderMaxBan)
}

// maxEntries is never unbounded: the tables' bound is what keeps a flood
// of addresses from taking the server's memory.
func (d *Defender) maxEntries() int {
	if d.MaxEntries > 0 {
		return d.MaxEntries
	}
	return DefaultDefenderMaxEntries
}

// points is what one offence of kind scores; 0 for none.
func (d *Defender) points(kind offence) int64 {
	w, def := d.LoginFailureWeight, float64(DefaultLoginFailureWeight)
	switch kind {
	case offenceCommand:
		w, def = d.BadCommandWeight, DefaultBadCommandWeight
	case offenceData:
		w, def = d.RefusedDataWeight, DefaultRefusedDataWeight
	}
	if w == 0 {
		w = def
	}
	if w < 0 || math.IsNaN(w) {
		return 0
	}
	// A weight past any threshold bans at once; capping it keeps the
	// score from overflowing.
	return int64(math.Round(min(w, maxWeight) * pointsPerFailure))
}

func (d *Defender) allowed(ip netip.Addr) bool {
	for _, p := range d.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// banKey is the table key of ip (see clientSource) and its prefix.
func banKey(ip netip.Addr) (netip.Addr, netip.Prefix) {
	key := clientSource(ip)
	bits := 32
	if key.Is6() {
		bits = 64
	}
	return key, netip.PrefixFrom(key, bits)
}

// init makes the tables; d.mu is held.
func (d *Defender) init() {
	if d.scores == nil {
		d.scores = make(map[netip.Addr]*list.Element)
		d.bans = make(map[netip.Addr]*list.Element)
	}
}

// banned reports whether ip is banned now. It is the accept path's check:
// a map lookup, no sweeping.
func (d *Defender) banned(ip netip.Addr) bool {
	if d == nil || !ip.IsValid() || d.allowed(ip) {
		return false
	}
	key, _ := banKey(ip)
	now := d.clock()
	d.mu.Lock()
	defer d.mu.Unlock()
	be := d.banEntry(key)
	return be != nil && now.Before(be.until)
}

// banEntry is key's ban entry, nil if none; d.mu is held.
func (d *Defender) banEntry(key netip.Addr) *banEntry {
	if el := d.bans[key]; el != nil {
		return el.Value.(*banEntry)
	}
	return nil
}

// record scores one offence of ip. When it starts a ban, it returns the
// ban, the score that caused it (in failures) and its length.
func (d *Defender) record(ip netip.Addr, kind offence) (b Ban, score float64, length time.Duration, started bool) {
	pts := d.points(kind)
	if pts == 0 || !ip.IsValid() || d.allowed(ip) {
		return Ban{}, 0, 0, false
	}
	key, prefix := banKey(ip)
	now := d.clock()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	d.sweep(now)
	if be := d.banEntry(key); be != nil && now.Before(be.until) {
		return Ban{}, 0, 0, false // banned already: a late offence of a session being ended
	}
	var e *scoreEntry
	if el := d.scores[key]; el != nil {
		e = el.Value.(*scoreEntry)
		if now.Sub(e.start) >= d.window() {
			e.points, e.start = 0, now
			d.byStart.MoveToFront(el)
		}
	} else {
		if len(d.scores) >= d.maxEntries() {
			d.dropScore(d.byStart.Back())
		}
		e = &scoreEntry{key: key, start: now}
		d.scores[key] = d.byStart.PushFront(e)
	}
	e.points += pts
	if e.points <= int64(max(limitOr(d.MaxFailures, DefaultDefenderMaxFailures), 0))*pointsPerFailure {
		return Ban{}, 0, 0, false
	}
	score = float64(e.points) / pointsPerFailure
	d.dropScore(d.scores[key])

	be := d.banEntry(key)
	if be == nil {
		if len(d.bans) >= d.maxEntries() {
			d.dropBan(d.byBan.Back())
		}
		be = &banEntry{key: key}
		d.bans[key] = d.byBan.PushFront(be)
	} else {
		d.byBan.MoveToFront(d.bans[key])
	}
	be.count++
	length = durationOr(d.Ban, DefaultDefenderBan)
	for i := 1; i < be.count && length < d.maxBan(); i++ {
		length *= 2
	}
	length = min(length, d.maxBan())
	be.until = now.Add(length)
	be.forget = be.until.Add(d.maxBan())
	return Ban{Addr: prefix, Until: be.until, Count: be.count}, score, length, true
}

func (d *Defender) dropScore(el *list.Element) {
	delete(d.scores, el.Value.(*scoreEntry).key)
	d.byStart.Remove(el)
}

func (d *Defender) dropBan(el *list.Element) {
	delete(d.bans, el.Value.(*banEntry).key)
	d.byBan.Remove(el)
}

// sweep drops expired scores, and bans whose address is no longer
// remembered, at most once a minute (or Window); d.mu is held.
func (d *Defender) sweep(now time.Time) {
	every := min(d.window(), time.Minute)
	if now.Sub(d.swept) < every {
		return
	}
	d.swept = now
	for el := d.byStart.Back(); el != nil && now.Sub(el.Value.(*scoreEntry).start) >= d.window(); el = d.byStart.Back() {
		d.dropScore(el)
	}
	for _, el := range d.bans {
		if !now.Before(el.Value.(*banEntry).forget) {
			d.dropBan(el)
		}
	}
}

// Bans lists the bans in force, soonest to end first.
func (d *Defender) Bans() []Ban {
	now := d.clock()
	d.mu.Lock()
	var bans []Ban
	for el := d.byBan.Front(); el != nil; el = el.Next() {
		if be := el.Value.(*banEntry); now.Before(be.until) {
			_, prefix := banKey(be.key)
			bans = append(bans, Ban{Addr: prefix, Until: be.until, Count: be.count})
		}
	}
	d.mu.Unlock()
	slices.SortFunc(bans, func(a, b Ban) int {
		if c := a.Until.Compare(b.Until); c != 0 {
			return c
		}
		return a.Addr.Addr().Compare(b.Addr.Addr())
	})
	return bans
}

// Unban lifts at once the bans inside prefix: the ban of its address (an
// IPv4 address, or the IPv6 /64 around it) or, for a wider prefix, every
// ban within it; those addresses are no longer counted as repeat
// offenders and their scores start afresh. It reports whether a ban in
// force was lifted.
func (d *Defender) Unban(prefix netip.Prefix) bool {
	if !prefix.IsValid() {
		return false
	}
	prefix = prefix.Masked()
	now := d.clock()
	var lifted []netip.Prefix
	d.mu.Lock()
	for el := d.byBan.Front(); el != nil; {
		next := el.Next()
		be := el.Value.(*banEntry)
		if _, p := banKey(be.key); p.Overlaps(prefix) {
			if now.Before(be.until) {
				lifted = append(lifted, p)
			}
			d.dropBan(el)
		}
		el = next
	}
	for el := d.byStart.Front(); el != nil; {
		next := el.Next()
		if _, p := banKey(el.Value.(*scoreEntry).key); p.Overlaps(prefix) {
			d.dropScore(el)
		}
		el = next
	}
	servers := slices.Clone(d.servers)
	d.mu.Unlock()
	logger := slog.Default()
	if len(servers) > 0 {
		logger = servers[0].logger()
	}
	for _, p := range lifted {
		logger.Info("ban lifted", "addr", p.String())
	}
	return len(lifted) > 0
}

// attach makes srv one of the servers whose sessions a ban ends.
func (d *Defender) attach(srv *Server) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.Contains(d.servers, srv) {
		d.servers = append(d.servers, srv)
	}
}

// banMessage is the text of the 421 a banned address gets.
const banMessage = "Too many failures from your address; try again later."

// offend scores an offence of ip against the server's Defender. When that
// starts a ban, the ban is logged and reported, ip's sessions on every
// server sharing the Defender are ended, self (a session of ip in its
// control loop, or nil) is told with a 421, and offend reports true: the
// caller's session must end.
func (srv *Server) offend(ip netip.Addr, kind offence, self *session) bool {
	d := srv.Defender
	if d == nil {
		return false
	}
	if _, started := d.offend(ip, kind, srv.logger(), self); !started {
		return false
	}
	if self != nil {
		self.reply(ftp.CodeServiceNotAvailable, banMessage)
		self.quitting = true
	}
	return self != nil
}

// offend scores an offence of ip. When that starts a ban, the ban is
// logged and reported, and ip's sessions on every server sharing d but
// skip are ended, whatever their protocol.
func (d *Defender) offend(ip netip.Addr, kind offence, logger *slog.Logger, skip *session) (Ban, bool) {
	b, score, length, started := d.record(ip, kind)
	if !started {
		return Ban{}, false
	}
	logger.Warn("address banned", "addr", b.Addr.String(), "score", score, "duration", length, "until", b.Until, "count", b.Count)
	if d.OnBan != nil {
		d.OnBan(b)
	}
	d.mu.Lock()
	servers := slices.Clone(d.servers)
	watchers := slices.Clone(d.watchers)
	d.mu.Unlock()
	for _, other := range servers {
		other.endBanned(b.Addr, skip)
	}
	for _, w := range watchers {
		w(b)
	}
	return b, true
}

// ClientSource is the address a client at ip counts against in every
// per-address limit and ban: its IPv4 address, or the /64 network of its
// IPv6 address. Servers of other protocols use it to count alike.
func ClientSource(ip netip.Addr) netip.Addr { return clientSource(ip) }

// Banned reports whether ip is banned now. Servers of other protocols
// that share the Defender (package sftpserver) refuse such connections
// at once, as the FTP server does.
func (d *Defender) Banned(ip netip.Addr) bool { return d.banned(ip) }

// LoginFailed scores a failed login of ip seen by a server of another
// protocol (an SSH password or key refused). When that starts a ban, it
// is logged on logger (nil: slog.Default()) and reported as FTP's are,
// the FTP sessions of ip are ended and every Watch function is called;
// LoginFailed then returns the ban and true.
func (d *Defender) LoginFailed(ip netip.Addr, logger *slog.Logger) (Ban, bool) {
	if d == nil {
		return Ban{}, false
	}
	if logger == nil {
		logger = slog.Default()
	}
	return d.offend(ip, offenceLogin, logger, nil)
}

// Watch has end called as each ban starts, after OnBan, from whichever
// server scored it: a server of another protocol ends its own sessions
// from Ban.Addr there. end must be fast and safe for concurrent use.
func (d *Defender) Watch(end func(Ban)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.watchers = append(d.watchers, end)
}

// endBanned ends the sessions from the banned prefix, but skip (which
// ends on its own).
func (srv *Server) endBanned(p netip.Prefix, skip *session) {
	st := srv.state()
	st.mu.Lock()
	var ending []*session
	for s := range st.sessions {
		if s != skip && p.Contains(s.remote) {
			ending = append(ending, s)
		}
	}
	st.mu.Unlock()
	for _, s := range ending {
		s.log.Info("session of a banned address ended")
		s.disconnect(banMessage)
	}
}
