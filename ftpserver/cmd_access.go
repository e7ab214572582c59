package ftpserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

func cmdUSER(s *session, arg string) error {
	if s.listener.TLS.RequireLogin && !s.secure() {
		return ftp.Errorf(ftp.CodeNotLoggedIn, "TLS is required: send AUTH TLS before logging in.")
	}
	// A new USER starts a new login, as RFC 959 allows.
	s.logout()
	s.userName = arg
	if ca, ok := s.auth().(CertAuthenticator); ok && s.secure() {
		acct, err := ca.AuthenticateCert(s.ctx, s.connInfo(), arg)
		if err == nil && acct != nil && acct.FS != nil && acct.allowsFrom(s.remote) && s.srv.holdUser(acct) {
			s.userName = ""
			s.loggedIn(acct)
			s.loginAttempted(arg, LoginOK)
			s.reply(ftp.CodeLoggedInSecurity, "Logged in by client certificate.")
			return nil
		}
		if err != nil && !errors.Is(err, ErrAuthFailed) {
			s.log.Error("certificate login failed; asking for a password", "user", arg, "err", err)
		}
	}
	// 331 for every name, known or not, so replies do not enumerate users.
	if isAnonymousName(arg) {
		s.reply(ftp.CodeNeedPassword, "Anonymous login ok, send your e-mail address as password.")
	} else {
		s.replyf(ftp.CodeNeedPassword, "Password required for %s.", quoteName(truncate(arg, 64)))
	}
	return nil
}

func isAnonymousName(name string) bool {
	return strings.EqualFold(name, "anonymous") || strings.EqualFold(name, "ftp")
}

func cmdPASS(s *session, arg string) error {
	if s.acct != nil {
		s.reply(ftp.CodeLoggedIn, "Already logged in.")
		return nil
	}
	if s.userName == "" {
		return ftp.Errorf(ftp.CodeBadSequence, "Login with USER first.")
	}
	user := s.userName
	s.userName = ""
	ctx, stop := s.watchHangUp()
	defer stop()
	failDelay := durationOr(s.srv.LoginFailDelay, DefaultLoginFailDelay)
	info := s.connInfo()
	acct, err := s.srv.checkLogin(ctx, s.remote, failDelay, func(ctx context.Context) (*Account, error) {
		return s.auth().Authenticate(ctx, info, user, arg)
	})
	if errors.Is(err, errClientGone) {
		s.quitting = true
		if s.closing.Load() {
			// Shutdown, not the client, ended the check: say so.
			s.reply(ftp.CodeServiceNotAvailable, "Server is shutting down.")
			return nil
		}
		// Nobody is left to answer; the address's slot stays held for
		// the failure delay all the same (checkLogin).
		s.log.Info("client hung up during login", "user", user)
		return nil
	}
	if err == nil && acct != nil && acct.RequireTLS && !s.secure() {
		s.log.Info("login refused: account requires TLS", "user", user)
		s.loginAttempted(user, LoginFailed)
		return ftp.Errorf(ftp.CodeNotLoggedIn, "TLS is required for this account: send AUTH TLS first.")
	}
	if err == nil && acct != nil && !acct.allowsFrom(s.remote) {
		// Answered as a wrong password: the address learns nothing.
		err = fmt.Errorf("%w: account not allowed from this address", ErrAuthFailed)
	}
	if err != nil || acct == nil || acct.FS == nil {
		if err != nil && !errors.Is(err, ErrAuthFailed) {
			s.log.Error("authenticator failed", "user", user, "err", err)
			s.loginAttempted(user, LoginError)
			return ftp.Errorf(ftp.CodeServiceNotAvailable, "Login service unavailable, try again later.")
		}
		s.log.Info("login failed", "user", user, "reason", err)
		s.loginAttempted(user, LoginFailed)
		if failDelay > 0 {
			select {
			case <-time.After(failDelay):
			case <-ctx.Done():
			}
		}
		if s.countBadAs(offenceLogin) {
			return nil
		}
		return ftp.Errorf(ftp.CodeNotLoggedIn, "Login incorrect.")
	}
	if !s.srv.holdUser(acct) {
		s.log.Info("login refused: account at its session limit", "user", acct.User, "max_sessions", acct.MaxSessions)
		s.loginAttempted(user, LoginFailed)
		return ftp.Errorf(ftp.CodeNotLoggedIn, "Too many sessions for this account; try again later.")
	}
	s.loggedIn(acct)
	s.loginAttempted(user, LoginOK)
	msg := "Login successful."
	if acct.Anonymous {
		s.anonymousID = strings.ToValidUTF8(truncate(arg, 64), "?")
		msg = "Anonymous access granted, restrictions apply."
	}
	s.reply(ftp.CodeLoggedIn, msg)
	return nil
}

// mayRead refuses the content of a file that not everyone may read to an
// account limited to world-readable files (Account.WorldReadableOnly).
// It judges the FileInfo the command already has, so the file is sent
// as opened (sendfile still applies).
func (s *session) mayRead(fi fs.FileInfo) error {
	if s.acct.WorldReadableOnly && fi.Mode().Perm()&0o004 == 0 {
		return fmt.Errorf("%w: not readable by everyone", fs.ErrPermission)
	}
	return nil
}

func (s *session) connInfo() ConnInfo {
	return ConnInfo{RemoteAddr: s.conn.RemoteAddr(), LocalAddr: s.conn.LocalAddr(), TLS: s.connState()}
}

func (s *session) loggedIn(acct *Account) {
	s.acct = acct
	s.cwd = "/"
	s.badCount = 0
	s.log = s.log.With("user", acct.User)
	s.setInfoUser(acct.User, acct.Anonymous)
	s.log.Info("logged in", "anonymous", acct.Anonymous, "tls", s.secure())
}

func cmdACCT(s *session, _ string) error {
	s.reply(ftp.CodeNotImplementedOK, "ACCT not needed; no accounts on this server.")
	return nil
}

// logout forgets the login and everything tied to it.
func (s *session) logout() {
	if s.acct != nil {
		s.srv.releaseUser(s.acct)
		s.log = s.sessionLogger()
	}
	s.acct = nil
	s.anonymousID = ""
	s.setInfoUser("", false)
	s.userName = ""
	s.cwd = "/"
	s.ascii = false
	s.ebcdic = false
	s.mode = modeStream
	s.deflateLevel = ftp.DefaultDeflateLevel
	s.restOffset = 0
	s.renameFrom = ""
	s.epsvAll = false
	s.mlstFacts = ftp.AllFacts
	s.hashAlgo = "SHA-256"
	s.data.close()
}

// cmdREIN forgets the login and the transfer parameters (RFC 959). On a
// control connection secured with AUTH TLS it also ends TLS (RFC 4217 §11:
// the connection returns to its state before AUTH, and the client may send
// AUTH again): the 220 goes over TLS, then close_notify both ways as for
// CCC. Implicit TLS stays: that listener speaks nothing else.
func cmdREIN(s *session, _ string) error {
	s.logout()
	// REIN returns the session to its state at connection (RFC 959
	// §4.1.1): before any HOST, in the default reply language.
	s.setHost(nil)
	s.setLanguage(langEN)
	s.tls.sscn = false
	if !s.secure() || s.listener.ImplicitTLS {
		s.reply(ftp.CodeServiceReady, "Service ready for new user.")
		return nil
	}
	s.reply(ftp.CodeServiceReady, "Service ready for new user; TLS ends, AUTH may be sent again.")
	s.clearTLS()
	s.tls = tlsState{}
	return nil
}

func cmdQUIT(s *session, _ string) error {
	s.quitting = true
	s.reply(ftp.CodeClosing, "Goodbye.")
	return nil
}

func cmdCWD(s *session, arg string) error {
	p := s.resolve(arg)
	fi, err := s.acct.FS.Stat(s.ctx, p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return ftp.Errorf(ftp.CodeActionNotTaken, "Not a directory.")
	}
	s.cwd = p
	s.replyf(ftp.CodeFileActionOK, "Directory changed to %s.", quoteName(p))
	return nil
}

func cmdCDUP(s *session, _ string) error { return cmdCWD(s, "..") }

func cmdSMNT(s *session, _ string) error {
	return ftp.Errorf(ftp.CodeNotImplemented, "SMNT is not supported: every user has one tree.")
}

// quotePath renders a path for a 257 reply: in double quotes, with any
// quote inside doubled (RFC 959 Appendix II).
func quotePath(p string) string {
	return `"` + strings.ReplaceAll(quoteName(p), `"`, `""`) + `"`
}

func cmdPWD(s *session, _ string) error {
	s.replyf(ftp.CodePathCreated, "%s is the current directory.", quotePath(s.cwd))
	return nil
}

func cmdTYPE(s *session, arg string) error {
	f := strings.Fields(strings.ToUpper(arg))
	if len(f) == 0 || len(f) > 2 {
		return ftp.Errorf(ftp.CodeArgumentError, "Bad TYPE argument.")
	}
	switch {
	case f[0] == "I" && len(f) == 1,
		f[0] == "L" && len(f) == 2 && f[1] == "8",
		f[0] == "L8" && len(f) == 1:
		s.ascii, s.ebcdic = false, false
		s.reply(ftp.CodeOK, "Switching to Binary mode.")
	case f[0] == "A" && (len(f) == 1 || f[1] == "N"):
		s.ascii, s.ebcdic = true, false
		s.reply(ftp.CodeOK, "Switching to ASCII mode.")
	case f[0] == "E" && (len(f) == 1 || f[1] == "N"):
		s.ascii, s.ebcdic = false, true
		s.reply(ftp.CodeOK, "Switching to EBCDIC mode.")
	case (f[0] == "A" || f[0] == "E") && (f[1] == "T" || f[1] == "C"):
		// Telnet and ASA (carriage control) format effectors would
		// need a print-file form of the stored text; there is none.
		return ftp.Errorf(ftp.CodeParamNotImplemented, "TYPE %s %s: format controls are not supported; use N.", f[0], f[1])
	case f[0] == "A" || f[0] == "E" || f[0] == "L":
		return ftp.Errorf(ftp.CodeParamNotImplemented, "TYPE %s is not supported; use A, E, I or L 8.", strings.Join(f, " "))
	default:
		return ftp.Errorf(ftp.CodeArgumentError, "Bad TYPE argument.")
	}
	return nil
}

func cmdSTRU(s *session, arg string) error {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "F":
		s.reply(ftp.CodeOK, "Structure set to F.")
	case "R":
		// Record structure over a byte stream is the file itself: the
		// server has no record boundaries to mark.
		s.reply(ftp.CodeOK, "Structure set to R.")
	case "P":
		return ftp.Errorf(ftp.CodeParamNotImplemented, "STRU P is not supported; use F.")
	default:
		return ftp.Errorf(ftp.CodeArgumentError, "Bad STRU argument.")
	}
	return nil
}

func cmdMODE(s *session, arg string) error {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "S":
		s.mode = modeStream
		s.reply(ftp.CodeOK, "Mode set to S.")
	case "B":
		s.mode = modeBlock
		s.reply(ftp.CodeOK, "Mode set to B.")
	case "Z":
		if s.srv.DisableModeZ {
			return errModeZOff()
		}
		s.mode = modeDeflate
		s.reply(ftp.CodeOK, "Mode set to Z (deflate).")
	case "C":
		return ftp.Errorf(ftp.CodeParamNotImplemented, "Only MODE S, B and Z are implemented.")
	default:
		return ftp.Errorf(ftp.CodeArgumentError, "Bad MODE argument.")
	}
	return nil
}

func cmdALLO(s *session, _ string) error {
	s.reply(ftp.CodeNotImplementedOK, "ALLO not needed; storage is allocated on demand.")
	return nil
}

func cmdREST(s *session, arg string) error {
	var n int64
	if _, err := fmt.Sscan(arg, &n); err != nil || n < 0 || strings.TrimSpace(arg) != fmt.Sprint(n) {
		return ftp.Errorf(ftp.CodeArgumentError, "REST needs a non-negative byte offset.")
	}
	s.restOffset = n
	s.replyf(ftp.CodePendingFurtherInfo, "Restarting at %d. Send STOR or RETR to start the transfer.", n)
	return nil
}

func cmdSYST(s *session, _ string) error {
	s.reply(ftp.CodeSystemType, "UNIX Type: L8")
	return nil
}

func cmdNOOP(s *session, _ string) error {
	s.reply(ftp.CodeOK, "NOOP ok.")
	return nil
}

func cmdHELP(s *session, arg string) error {
	if arg == "" {
		s.reply(ftp.CodeHelp, helpText())
		return nil
	}
	verb := strings.ToUpper(strings.TrimSpace(arg))
	if verb == "SITE" {
		s.reply(ftp.CodeHelp, siteHelp())
		return nil
	}
	c, ok := commandTable[verb]
	if !ok {
		return ftp.Errorf(ftp.CodeNotImplemented, "Unknown command %s.", truncate(quoteName(verb), 16))
	}
	s.replyf(ftp.CodeHelp, "Syntax: %s", c.syntax)
	return nil
}

func (s *session) features() string {
	lines := []string{s.tr("Features:")}
	if s.srv.TLSConfig != nil {
		lines = append(lines, "AUTH TLS", "PBSZ", "PROT", "CPSV", "SSCN")
		if s.listener.TLS.AllowCCC {
			lines = append(lines, "CCC")
		}
	}
	lines = append(lines,
		"AVBL",
		"EPRT",
		"EPSV",
		"HASH "+hashFeat(s.hashAlgo),
	)
	if s.srv.Hosts != nil {
		lines = append(lines, "HOST")
	}
	lines = append(lines,
		featLANG(s.language()),
		"MDTM",
		"MFMT",
		"MLST "+ftp.FeatMLST(ftp.AllFacts, s.mlstFacts),
	)
	if !s.srv.DisableModeZ {
		lines = append(lines, "MODE Z")
	}
	lines = append(lines,
		"PASV",
		"REST STREAM",
		"SIZE",
		"TVFS",
		"UTF8",
		s.tr("End"),
	)
	return strings.Join(lines, "\n")
}

func cmdFEAT(s *session, _ string) error {
	s.reply(ftp.CodeSystemStatus, s.features())
	return nil
}

func cmdOPTS(s *session, arg string) error {
	name, value, _ := strings.Cut(strings.TrimSpace(arg), " ")
	switch strings.ToUpper(name) {
	case "UTF8", "UTF-8":
		switch strings.ToUpper(strings.TrimSpace(value)) {
		case "ON", "":
			s.reply(ftp.CodeOK, "UTF8 mode is always on.")
		case "OFF":
			// Names are passed through as bytes either way.
			s.reply(ftp.CodeOK, "UTF8 mode cannot be turned off; names pass through unchanged.")
		default:
			return ftp.Errorf(ftp.CodeArgumentError, "OPTS UTF8 takes ON or OFF.")
		}
	case "MLST":
		s.mlstFacts = ftp.ParseOptsMLST(value)
		s.replyf(ftp.CodeOK, "MLST OPTS %s", ftp.FeatMLST(s.mlstFacts, 0))
	case "HASH":
		if value == "" {
			s.reply(ftp.CodeOK, s.hashAlgo)
			return nil
		}
		algo, ok := hashAlgoName(value)
		if !ok {
			return ftp.Errorf(ftp.CodeArgumentError, "Unknown hash algorithm.")
		}
		s.hashAlgo = algo
		s.reply(ftp.CodeOK, algo)
	case "MODE":
		return s.optsMode(value)
	default:
		return ftp.Errorf(ftp.CodeArgumentError, "Unknown OPTS option.")
	}
	return nil
}
