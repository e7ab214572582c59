package ftpserver

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// PortRange is an inclusive range of TCP ports. The zero value means "any
// port the kernel picks".
type PortRange struct {
	Min, Max int
}

// Server is an FTP server. Its exported fields are read when Serve starts
// and must not change afterwards. The zero value serves nobody: Auth is
// required.
type Server struct {
	// Addr is the address ListenAndServe listens on (":21" when empty).
	Addr string

	// Auth checks logins. Required.
	Auth Authenticator

	// PassivePorts is the range PASV/EPSV listeners are opened in.
	PassivePorts PortRange

	// PublicHost is the IPv4 address announced in 227 replies, for a server
	// behind NAT. Empty: the control connection's local address.
	PublicHost string

	// AllowFXP lets PORT/EPRT name an address other than the client's and
	// lets passive data connections come from another address
	// (server-to-server transfers). Off by default, as RFC 2577 advises.
	AllowFXP bool

	// Upload chooses what an interrupted upload leaves behind.
	Upload UploadMode

	// Banner is the text of the 220 greeting.
	Banner string

	// IdleTimeout closes a logged-in session that sends no command for this
	// long (never while a transfer runs). Default 5 minutes.
	IdleTimeout time.Duration
	// LoginTimeout is the idle limit before login. Default 1 minute.
	LoginTimeout time.Duration
	// DataTimeout bounds the wait for a data connection to be made and any
	// single read or write on it. Default 1 minute.
	DataTimeout time.Duration
	// LoginFailDelay is how long a failed PASS waits before its 530.
	// Default 1 second; negative disables it.
	LoginFailDelay time.Duration

	// MaxSessions and MaxSessionsPerIP bound concurrent sessions; further
	// connections get 421 and are closed. Zero means no limit.
	MaxSessions      int
	MaxSessionsPerIP int
	// MaxBadCommands closes a session after this many consecutive
	// rejected commands (unknown verbs, syntax errors, failed logins).
	// Default 20; negative disables.
	MaxBadCommands int

	// TLSConfig enables AUTH TLS when set (FTPS; see the TLS issue).
	TLSConfig *tls.Config

	// Logger receives session and transfer logs. Default slog.Default().
	Logger *slog.Logger
}
