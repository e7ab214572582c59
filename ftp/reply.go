package ftp

import (
	"errors"
	"fmt"
	"strings"
)

// Reply codes used by ferry (RFC 959 §4.2, RFC 2228, RFC 2389, RFC 2428,
// RFC 3659, RFC 4217).
const (
	CodeRestartMarker       = 110
	CodeReadyMinutes        = 120
	CodeAlreadyOpen         = 125
	CodeFileStatusOK        = 150
	CodeOK                  = 200
	CodeNotImplementedOK    = 202 // superfluous command (ACCT, ALLO)
	CodeSystemStatus        = 211
	CodeDirectoryStatus     = 212
	CodeFileStatus          = 213
	CodeHelp                = 214
	CodeSystemType          = 215
	CodeServiceReady        = 220
	CodeClosing             = 221
	CodeDataOpenNoTransfer  = 225
	CodeClosingData         = 226
	CodePassive             = 227
	CodeLongPassive         = 228
	CodeExtendedPassive     = 229
	CodeLoggedIn            = 230
	CodeLoggedInSecurity    = 232 // RFC 2228: logged in, authorized by security data exchange
	CodeAuthOK              = 234
	CodeFileActionOK        = 250
	CodePathCreated         = 257
	CodeNeedPassword        = 331
	CodeNeedAccount         = 332
	CodePendingFurtherInfo  = 350
	CodeServiceNotAvailable = 421
	CodeCantOpenData        = 425
	CodeTransferAborted     = 426
	CodeFileUnavailable     = 450
	CodeLocalError          = 451
	CodeInsufficientStorage = 452
	CodeSyntaxError         = 500
	CodeArgumentError       = 501
	CodeNotImplemented      = 502
	CodeBadSequence         = 503
	CodeParamNotImplemented = 504
	CodeDataProtDenied      = 521 // RFC 4217 §9: data connection refused at this PROT level
	CodeNetProtoUnsupported = 522
	CodeNotLoggedIn         = 530
	CodeNeedAccountStore    = 532
	CodeDeniedPolicy        = 534 // RFC 2228: request denied for policy reasons
	CodeProtLevelDenied     = 536
	CodeActionNotTaken      = 550
	CodePageTypeUnknown     = 551
	CodeExceededStorage     = 552
	CodeBadFileName         = 553
)

// Error is a reply that ends a command without success: a 4xx or 5xx code
// and its text. Server handlers return it to choose the reply; the client
// returns it for every negative reply.
type Error struct {
	Code int
	Msg  string

	// The format and arguments Msg was made from, kept so that a server
	// can translate the format before formatting (Localize).
	format string
	args   []any
}

// Errorf returns an *Error with a formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), format: format, args: args}
}

// Localize returns the message in another language: translate gets the
// format an Errorf was given (or Msg, for an Error made otherwise) and
// returns its translation, which is formatted with the same arguments.
func (e *Error) Localize(translate func(string) string) string {
	if e.format == "" {
		return translate(e.Msg)
	}
	return fmt.Sprintf(translate(e.format), e.args...)
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Msg) }

// Temporary reports whether the reply is a transient negative one (4xx):
// the same command may succeed if tried again.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// CodeOf returns the reply code carried by err, or 0 when err is not an
// *Error.
func CodeOf(err error) int {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return 0
}

// AppendReply appends the wire form of a reply to b. A message with several
// lines becomes a multi-line reply (RFC 959 §4.2): "code-first", the middle
// lines indented by one space so that none can be mistaken for the end, and
// "code last".
func AppendReply(b []byte, code int, msg string) []byte {
	msg = strings.TrimRight(msg, "\r\n")
	if !strings.ContainsAny(msg, "\r\n") {
		b = appendCode(b, code, ' ')
		b = append(b, msg...)
		return append(b, '\r', '\n')
	}
	// CRLF, LF and a lone CR all break the line: a CR left inside a line
	// would let the text pass for a line end to some clients, and a message
	// whose only break is a CR must still get its closing "code " line.
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	msg = strings.ReplaceAll(msg, "\r", "\n")
	lines := strings.Split(msg, "\n")
	for i, line := range lines {
		switch {
		case i == 0:
			b = appendCode(b, code, '-')
		case i == len(lines)-1:
			b = appendCode(b, code, ' ')
		default:
			b = append(b, ' ')
		}
		b = append(b, line...)
		b = append(b, '\r', '\n')
	}
	return b
}

func appendCode(b []byte, code int, sep byte) []byte {
	return append(b, byte('0'+code/100%10), byte('0'+code/10%10), byte('0'+code%10), sep)
}
