package admin

import (
	"cmp"
	"errors"
	"slices"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// SessionSource is a server whose live sessions the API lists and ends:
// *ftpserver.Server and *sftpserver.Server. Their session IDs must not
// collide (FTP's are base-36 numbers; SFTP's start "sftp-"), since
// DELETE /api/v1/sessions/{id} names a session by ID alone.
type SessionSource interface {
	// Sessions describes the live sessions.
	Sessions() []ftpserver.SessionInfo
	// Disconnect ends the session with id, or returns
	// ftpserver.ErrNoSuchSession when it has none such.
	Disconnect(id, msg string) error
	// SessionCount is how many sessions are live.
	SessionCount() int
}

// sources are the servers of one admin API, seen as one.
type sources []SessionSource

// Sessions lists the sessions of every source, oldest first.
func (list sources) Sessions() []ftpserver.SessionInfo {
	var all []ftpserver.SessionInfo
	for _, src := range list {
		all = append(all, src.Sessions()...)
	}
	// Each source lists its own oldest first; merged, the start time
	// orders them, the ID ties.
	slices.SortStableFunc(all, func(a, b ftpserver.SessionInfo) int {
		return cmp.Or(a.Started.Compare(b.Started), cmp.Compare(len(a.ID), len(b.ID)), cmp.Compare(a.ID, b.ID))
	})
	return all
}

// Disconnect ends the session with id in whichever source has it.
func (list sources) Disconnect(id, msg string) error {
	for _, src := range list {
		if err := src.Disconnect(id, msg); !errors.Is(err, ftpserver.ErrNoSuchSession) {
			return err
		}
	}
	return ftpserver.ErrNoSuchSession
}

// SessionCount is the sessions of every source.
func (list sources) SessionCount() int {
	n := 0
	for _, src := range list {
		n += src.SessionCount()
	}
	return n
}

// protocol is a session's protocol as the API shows it.
func protocol(info ftpserver.SessionInfo) string {
	if info.Protocol != "" {
		return info.Protocol
	}
	return "ftp"
}
