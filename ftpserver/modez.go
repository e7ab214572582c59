package ftpserver

import (
	"strconv"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

// optsMode answers OPTS MODE Z, the options of deflate mode
// (draft-preston-ftpext-deflate §5): LEVEL n sets the compression level of
// the transfers the server sends, 0 (none) to 9 (best). No option, or
// several, is refused rather than half applied.
func (s *session) optsMode(value string) error {
	if s.srv.DisableModeZ {
		return errModeZOff()
	}
	f := strings.Fields(strings.ToUpper(value))
	if len(f) == 0 || f[0] != "Z" {
		return ftp.Errorf(ftp.CodeArgumentError, "OPTS MODE takes Z LEVEL n.")
	}
	if len(f) != 3 || f[1] != "LEVEL" {
		return ftp.Errorf(ftp.CodeArgumentError, "OPTS MODE Z takes LEVEL n (n from %d to %d).", ftp.MinDeflateLevel, ftp.MaxDeflateLevel)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n < ftp.MinDeflateLevel || n > ftp.MaxDeflateLevel || f[2] != strconv.Itoa(n) {
		return ftp.Errorf(ftp.CodeArgumentError, "MODE Z LEVEL must be from %d to %d.", ftp.MinDeflateLevel, ftp.MaxDeflateLevel)
	}
	s.deflateLevel = n
	s.replyf(ftp.CodeOK, "MODE Z LEVEL set to %d.", n)
	return nil
}

// errModeZOff answers MODE Z and its OPTS where Server.DisableModeZ is set.
func errModeZOff() error {
	return ftp.Errorf(ftp.CodeParamNotImplemented, "MODE Z is turned off on this server.")
}
