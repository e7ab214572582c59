package admin

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// historyLen is how many one-second throughput points Stats keeps: the
// last 10 minutes.
const historyLen = 600

// MaxStatsUsers bounds the users Stats keeps usage for. Past it, the user
// seen longest ago is dropped to make room, so that a server with very
// many accounts uses bounded memory; that user's usage starts again from
// zero at its next login.
const MaxStatsUsers = 10000

// rateWindow is how far back a running transfer's rate looks.
const rateWindow = 5 * time.Second

// ThroughputPoint is the upload and download rate, in bytes per second,
// over the second before T.
type ThroughputPoint struct {
	T        time.Time `json:"t"`
	Upload   float64   `json:"upload"`
	Download float64   `json:"download"`
}

// UserUsage is what one user did since the server started: Sessions
// counts its successful logins; transfers are counted when they end,
// whatever their result, with the bytes they moved.
type UserUsage struct {
	User            string    `json:"user"`
	Sessions        int64     `json:"sessions"`
	UploadedBytes   int64     `json:"uploaded_bytes"`
	DownloadedBytes int64     `json:"downloaded_bytes"`
	Uploads         int64     `json:"uploads"`
	Downloads       int64     `json:"downloads"`
	LastSeen        time.Time `json:"last_seen"`
}

// Stats is an ftpserver.Observer that keeps the recent throughput and
// each user's usage since it started, for the admin API. Its sampler
// reads the server's running transfers once a second, so that a long
// transfer shows in the throughput while it moves, not only when it ends.
type Stats struct {
	srv  SessionSource
	now  func() time.Time
	stop context.CancelFunc
	done chan struct{}

	mu      sync.Mutex
	history []ThroughputPoint // ring of up to historyLen, oldest at head
	head    int
	// pending holds bytes of transfers that ended since the last tick
	// beyond what the sampler had seen of them.
	pendingUp, pendingDown int64
	running                map[transferKey]*runningTransfer
	tick                   uint64
	lastTick               time.Time
	users                  map[string]*UserUsage
}

var _ ftpserver.Observer = (*Stats)(nil)

// transferKey names one transfer: a session runs one at a time, and each
// starts at its own instant.
type transferKey struct {
	session string
	started int64 // UnixNano
}

type runningTransfer struct {
	dir   ftpserver.Direction
	bytes int64 // as counted into the throughput so far
	// ended is set once TransferEnded counted its remainder; endedTick
	// keeps the entry a little longer, so that a snapshot taken just
	// before the end but read after it does not count the transfer anew.
	ended     bool
	endedTick uint64
	seenTick  uint64
	samples   []rateSample // newest last, within rateWindow
}

type rateSample struct {
	at    time.Time
	bytes int64
}

// NewStats starts watching the servers' transfers (those of an FTP and
// an SFTP server, say); the sampler runs until ctx is done or Close is
// called.
func NewStats(ctx context.Context, servers ...SessionSource) *Stats {
	return newStats(ctx, sources(servers), time.Now, time.Second)
}

func newStats(ctx context.Context, srv SessionSource, now func() time.Time, interval time.Duration) *Stats {
	ctx, cancel := context.WithCancel(ctx)
	s := &Stats{
		srv:      srv,
		now:      now,
		stop:     cancel,
		done:     make(chan struct{}),
		running:  map[transferKey]*runningTransfer{},
		users:    map[string]*UserUsage{},
		lastTick: now(),
	}
	go s.run(ctx, interval)
	return s
}

// Close stops the sampler and waits for it.
func (s *Stats) Close() {
	s.stop()
	<-s.done
}

func (s *Stats) run(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			s.sample()
		}
	}
}

// fileDirection is the direction of a running transfer's verb, or "" for
// what is not a file transfer (listings, HASH reads).
func fileDirection(verb string) ftpserver.Direction {
	switch verb {
	case "RETR":
		return ftpserver.Download
	case "STOR", "APPE", "STOU":
		return ftpserver.Upload
	}
	return ""
}

// sample adds one throughput point: the bytes running transfers moved
// since the last one, plus the remainders of those that ended.
func (s *Stats) sample() {
	sessions := s.srv.Sessions()
	now := s.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick++
	up, down := s.pendingUp, s.pendingDown
	s.pendingUp, s.pendingDown = 0, 0
	for _, info := range sessions {
		t := info.Transfer
		if t == nil {
			continue
		}
		dir := fileDirection(t.Verb)
		if dir == "" {
			continue
		}
		key := transferKey{info.ID, t.Started.UnixNano()}
		rt := s.running[key]
		if rt == nil {
			rt = &runningTransfer{dir: dir}
			s.running[key] = rt
		}
		rt.seenTick = s.tick
		if rt.ended {
			continue
		}
		if delta := t.Bytes - rt.bytes; delta > 0 {
			if dir == ftpserver.Upload {
				up += delta
			} else {
				down += delta
			}
			rt.bytes = t.Bytes
		}
		rt.samples = append(rt.samples, rateSample{now, t.Bytes})
		for len(rt.samples) > 1 && now.Sub(rt.samples[0].at) > rateWindow {
			rt.samples = rt.samples[1:]
		}
	}
	for key, rt := range s.running {
		if rt.seenTick != s.tick && (!rt.ended || s.tick-rt.endedTick >= 2) {
			delete(s.running, key)
		}
	}

	seconds := now.Sub(s.lastTick).Seconds()
	s.lastTick = now
	if seconds <= 0 {
		seconds = 1
	}
	s.push(ThroughputPoint{T: now.UTC().Truncate(time.Second), Upload: float64(up) / seconds, Download: float64(down) / seconds})
}

func (s *Stats) push(p ThroughputPoint) {
	if len(s.history) < historyLen {
		s.history = append(s.history, p)
		return
	}
	s.history[s.head] = p
	s.head = (s.head + 1) % historyLen
}

// Throughput returns the points of the last 10 minutes at most, oldest
// first.
func (s *Stats) Throughput() []ThroughputPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ThroughputPoint, 0, len(s.history))
	out = append(out, s.history[s.head:]...)
	return append(out, s.history[:s.head]...)
}

// Users returns each user's usage, sorted by name.
func (s *Stats) Users() []UserUsage {
	s.mu.Lock()
	out := make([]UserUsage, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, *u)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b UserUsage) int {
		switch {
		case a.User < b.User:
			return -1
		case a.User > b.User:
			return 1
		}
		return 0
	})
	return out
}

// Rate returns a running transfer's rate in bytes per second over the
// last few seconds, when the sampler has seen it at least twice.
func (s *Stats) Rate(sessionID string, t *ftpserver.TransferInfo) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.running[transferKey{sessionID, t.Started.UnixNano()}]
	if rt == nil || len(rt.samples) < 2 {
		return 0, false
	}
	first, last := rt.samples[0], rt.samples[len(rt.samples)-1]
	d := last.at.Sub(first.at).Seconds()
	if d <= 0 {
		return 0, false
	}
	return float64(last.bytes-first.bytes) / d, true
}

// userName is the name usage is kept under: every anonymous login counts
// as "anonymous", whatever name it used.
func userName(user string, anonymous bool) string {
	if anonymous {
		return "anonymous"
	}
	return user
}

// user returns name's usage, making room for it if needed; s.mu is held.
func (s *Stats) user(name string, now time.Time) *UserUsage {
	u := s.users[name]
	if u == nil {
		if len(s.users) >= MaxStatsUsers {
			var oldest *UserUsage
			for _, v := range s.users {
				if oldest == nil || v.LastSeen.Before(oldest.LastSeen) {
					oldest = v
				}
			}
			delete(s.users, oldest.User)
		}
		u = &UserUsage{User: name}
		s.users[name] = u
	}
	u.LastSeen = now.UTC().Truncate(time.Second)
	return u
}

func (s *Stats) SessionStarted(ftpserver.SessionInfo) {}

func (s *Stats) SessionEnded(info ftpserver.SessionInfo) {
	if info.User == "" {
		return
	}
	now := s.now()
	s.mu.Lock()
	s.user(userName(info.User, info.Anonymous), now)
	s.mu.Unlock()
}

func (s *Stats) LoginAttempted(e ftpserver.LoginEvent) {
	if e.Result != ftpserver.LoginOK {
		return
	}
	now := s.now()
	s.mu.Lock()
	s.user(userName(e.User, e.Anonymous), now).Sessions++
	s.mu.Unlock()
}

func (s *Stats) Replied(int) {}

func (s *Stats) TransferEnded(r ftpserver.TransferRecord) {
	if r.Direction == ftpserver.Listing {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.User != "" {
		u := s.user(userName(r.User, r.Anonymous), now)
		if r.Direction == ftpserver.Upload {
			u.Uploads++
			u.UploadedBytes += r.Bytes
		} else {
			u.Downloads++
			u.DownloadedBytes += r.Bytes
		}
	}
	if fileDirection(r.Verb) == "" {
		return
	}
	key := transferKey{r.SessionID, r.Started.UnixNano()}
	rt := s.running[key]
	if rt == nil {
		rt = &runningTransfer{dir: r.Direction}
		s.running[key] = rt
	}
	if rt.ended {
		return
	}
	if rest := r.Bytes - rt.bytes; rest > 0 {
		if r.Direction == ftpserver.Upload {
			s.pendingUp += rest
		} else {
			s.pendingDown += rest
		}
	}
	rt.bytes, rt.ended, rt.endedTick, rt.seenTick = r.Bytes, true, s.tick, s.tick
}
