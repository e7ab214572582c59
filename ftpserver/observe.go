package ftpserver

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Observer is told what the server's sessions do, for metrics, transfer
// logs (xferlog) and the admin API. Its methods are called on the
// sessions' goroutines, concurrently for different sessions, in the order
// things happen within one session; they must be safe for concurrent use
// and return quickly, without waiting on I/O that can stall: a slow
// observer slows every session.
type Observer interface {
	// SessionStarted is called when a connection becomes a session,
	// before its greeting.
	SessionStarted(SessionInfo)
	// SessionEnded is called when a session is over.
	SessionEnded(SessionInfo)
	// LoginAttempted is called once per finished login attempt.
	LoginAttempted(LoginEvent)
	// Replied is called for every reply sent on a control connection,
	// including the 421 of a connection turned away.
	Replied(code int)
	// TransferEnded is called when a transfer (RETR, STOR, APPE, STOU or
	// a listing) has ended, just before its final reply.
	TransferEnded(TransferRecord)
}

// NopObserver implements Observer by doing nothing; embed it to implement
// only some of the methods.
type NopObserver struct{}

func (NopObserver) SessionStarted(SessionInfo)   {}
func (NopObserver) SessionEnded(SessionInfo)     {}
func (NopObserver) LoginAttempted(LoginEvent)    {}
func (NopObserver) Replied(int)                  {}
func (NopObserver) TransferEnded(TransferRecord) {}

// MultiObserver tells each of obs, in order, about every event. Nil
// entries are skipped.
func MultiObserver(obs ...Observer) Observer {
	var list multiObserver
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	return list
}

type multiObserver []Observer

func (m multiObserver) SessionStarted(i SessionInfo) {
	for _, o := range m {
		o.SessionStarted(i)
	}
}

func (m multiObserver) SessionEnded(i SessionInfo) {
	for _, o := range m {
		o.SessionEnded(i)
	}
}

func (m multiObserver) LoginAttempted(e LoginEvent) {
	for _, o := range m {
		o.LoginAttempted(e)
	}
}

func (m multiObserver) Replied(code int) {
	for _, o := range m {
		o.Replied(code)
	}
}

func (m multiObserver) TransferEnded(r TransferRecord) {
	for _, o := range m {
		o.TransferEnded(r)
	}
}

// SessionInfo describes a live session at one moment.
type SessionInfo struct {
	ID string
	// Remote is the client's address (from the PROXY header behind a
	// trusted load balancer).
	Remote netip.AddrPort
	// Started is when the connection was accepted.
	Started time.Time
	// User is the logged-in account, empty before login.
	User      string
	Anonymous bool
	// TLS reports whether the control connection is protected.
	TLS bool
	// Host is the virtual host chosen by HOST (RFC 7151), empty when
	// none was.
	Host string
	// Command is the command being run or last run, with PASS's
	// argument hidden; CommandAt is when it arrived.
	Command   string
	CommandAt time.Time
	// Transfer is the running transfer, nil when none runs.
	Transfer *TransferInfo
	// Protocol is "sftp" for a session of package sftpserver; empty
	// for FTP, so that existing observers need no change.
	Protocol string
}

// TransferInfo describes a running transfer.
type TransferInfo struct {
	Verb string // RETR, STOR, APPE, STOU, LIST, NLST, MLSD, or a HASH command
	Path string // as the client sees it
	// Size is the total expected (the file's size for a download), -1
	// when unknown.
	Size    int64
	Bytes   int64 // moved so far
	Started time.Time
}

// LoginResult is how a login attempt ended.
type LoginResult string

const (
	// LoginOK: the client is logged in.
	LoginOK LoginResult = "ok"
	// LoginFailed: wrong name or password, a disabled account, or an
	// account refused on this connection (TLS required).
	LoginFailed LoginResult = "failed"
	// LoginError: the authenticator failed (its store unreachable); the
	// client was told to try later.
	LoginError LoginResult = "error"
)

// LoginEvent is one finished login attempt.
type LoginEvent struct {
	SessionID string
	Remote    netip.AddrPort
	User      string // as the client sent it
	Anonymous bool
	Result    LoginResult
}

// Direction tells what a transfer moved.
type Direction string

const (
	Upload   Direction = "upload"   // STOR, APPE, STOU
	Download Direction = "download" // RETR
	Listing  Direction = "list"     // LIST, NLST, MLSD
)

// TransferResult is how a transfer ended, as its final reply says.
type TransferResult string

const (
	// TransferOK: 226, every byte moved (and stored, for an upload).
	TransferOK TransferResult = "ok"
	// TransferAborted: ABOR, the client closing the data connection
	// early, or the data connection failing (426).
	TransferAborted TransferResult = "aborted"
	// TransferFailed: the storage or the server failed (4xx/5xx).
	TransferFailed TransferResult = "failed"
)

// TransferRecord describes a finished transfer.
type TransferRecord struct {
	SessionID string
	Remote    netip.AddrPort
	User      string
	Anonymous bool
	// AnonymousID is the password an anonymous user gave (by custom an
	// e-mail address; at most 64 bytes, as the client sent it), which
	// xferlog records; empty otherwise.
	AnonymousID string
	Verb        string
	Direction   Direction
	Path        string // as the client sees it
	ASCII       bool   // TYPE A
	Offset      int64  // the REST offset it started from
	Started     time.Time
	Duration    time.Duration
	// Bytes is how much of the file moved (in TYPE A, counted before
	// line ends are converted), or of the listing.
	Bytes  int64
	Result TransferResult
	// Err is why it did not complete; nil for TransferOK.
	Err error
	// Protocol is "sftp" for a transfer of package sftpserver (whose
	// Verb is then RETR or STOR, so that counters keyed by verb count
	// it too); empty for FTP.
	Protocol string
}

// sessionInfo is what Server.Sessions reports of a session, kept apart
// from the state only the control loop touches.
type sessionInfo struct {
	mu        sync.Mutex
	user      string
	anonymous bool
	tls       bool
	host      string
	verb, arg string // of the command being run or last run
	commandAt time.Time
}

// setCommand notes the command being run. It is on every command's path:
// the text Sessions shows is only put together when asked for.
func (s *session) setCommand(verb, arg string) {
	s.info.mu.Lock()
	s.info.verb, s.info.arg, s.info.commandAt = verb, arg, time.Now()
	s.info.mu.Unlock()
}

// commandText is a command as Sessions shows it: PASS's and ACCT's
// argument hidden, a long one cut, invalid UTF-8 replaced.
func commandText(verb, arg string) string {
	switch {
	case verb == "PASS" || verb == "ACCT":
		return verb + " ****"
	case arg != "":
		return verb + " " + strings.ToValidUTF8(truncate(arg, 200), "?")
	}
	return verb
}

func (s *session) setInfoUser(user string, anonymous bool) {
	s.info.mu.Lock()
	s.info.user, s.info.anonymous = user, anonymous
	s.info.mu.Unlock()
}

func (s *session) setInfoTLS(on bool) {
	s.info.mu.Lock()
	s.info.tls = on
	s.info.mu.Unlock()
}

func (s *session) remoteAddrPort() netip.AddrPort {
	ap, err := netip.ParseAddrPort(s.base.RemoteAddr().String())
	if err != nil {
		return netip.AddrPortFrom(s.remote, 0)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// snapshot describes the session now; any goroutine may call it.
func (s *session) snapshot() SessionInfo {
	s.info.mu.Lock()
	info := SessionInfo{
		ID:        s.id,
		Remote:    s.remoteAddrPort(),
		Started:   s.started,
		User:      s.info.user,
		Anonymous: s.info.anonymous,
		TLS:       s.info.tls,
		Host:      s.info.host,
		Command:   commandText(s.info.verb, s.info.arg),
		CommandAt: s.info.commandAt,
	}
	s.info.mu.Unlock()
	if t := s.currentTransfer(); t != nil {
		info.Transfer = &TransferInfo{Verb: t.verb, Path: t.path, Size: t.size, Bytes: t.bytes.Load(), Started: t.start}
	}
	return info
}

// Sessions describes the live sessions, oldest first.
func (srv *Server) Sessions() []SessionInfo {
	st := srv.state()
	st.mu.Lock()
	list := st.sessionList()
	st.mu.Unlock()
	infos := make([]SessionInfo, len(list))
	for i, s := range list {
		infos[i] = s.snapshot()
	}
	sortSessions(infos)
	return infos
}

func sortSessions(infos []SessionInfo) {
	// Insertion order is lost in the map; IDs are increasing base-36
	// numbers, so shorter IDs are older.
	slices.SortFunc(infos, func(a, b SessionInfo) int {
		if len(a.ID) != len(b.ID) {
			return len(a.ID) - len(b.ID)
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// ErrNoSuchSession is returned by Disconnect for an ID that names no live
// session.
var ErrNoSuchSession = errors.New("ftpserver: no such session")

// Disconnect ends the session with the given ID: it is sent 421 with msg
// (a default when empty) and closed, its transfer aborted. It returns
// once the session is told, without waiting for the peer.
func (srv *Server) Disconnect(id, msg string) error {
	st := srv.state()
	st.mu.Lock()
	var found *session
	for s := range st.sessions {
		if s.id == id {
			found = s
			break
		}
	}
	st.mu.Unlock()
	if found == nil {
		return ErrNoSuchSession
	}
	if msg == "" {
		msg = "Disconnected by the administrator."
	}
	found.log.Info("disconnected by the administrator")
	found.disconnect(msg)
	return nil
}

// disconnect sends 421 and kills the session. A reply blocked on a peer
// that does not read holds wmu: the 421 is then given up after a short
// wait rather than waiting for it, and the session is closed anyway.
func (s *session) disconnect(msg string) {
	s.closing.Store(true)
	go func() {
		defer s.kill()
		deadline := time.Now().Add(2 * time.Second)
		for !s.wmu.TryLock() {
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		defer s.wmu.Unlock()
		s.conn.SetWriteDeadline(deadline)
		if _, err := s.conn.Write(ftp.AppendReply(nil, ftp.CodeServiceNotAvailable, s.tr(msg))); err == nil {
			s.srv.replied(ftp.CodeServiceNotAvailable)
		}
	}()
}

func (srv *Server) replied(code int) {
	if o := srv.Observer; o != nil {
		o.Replied(code)
	}
}

// transferResult classifies a transfer's outcome as its final reply does.
func transferResult(t *transfer, err error) TransferResult {
	switch {
	case err == nil:
		return TransferOK
	case t.interrupted() || errors.Is(err, errAborted) || isNetError(err):
		return TransferAborted
	default:
		return TransferFailed
	}
}

func directionOf(verb string) Direction {
	switch verb {
	case "STOR", "APPE", "STOU":
		return Upload
	case "LIST", "NLST", "MLSD":
		return Listing
	}
	return Download
}

func (s *session) loginAttempted(user string, result LoginResult) {
	if o := s.srv.Observer; o != nil {
		o.LoginAttempted(LoginEvent{
			SessionID: s.id,
			Remote:    s.remoteAddrPort(),
			User:      truncate(strings.ToValidUTF8(user, "?"), 64),
			Anonymous: isAnonymousName(user),
			Result:    result,
		})
	}
}
