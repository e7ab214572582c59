package ftpclient

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

var (
	// ErrClosed is returned by calls on a Client after Close.
	ErrClosed = errors.New("ftpclient: client closed")

	// ErrUnsupported is wrapped by the error of an operation the server
	// does not implement (500, 502 or 504 to the command it needs). The
	// server's reply is wrapped too.
	ErrUnsupported = errors.New("ftpclient: not supported by the server")

	// ErrProtocol is wrapped by the error of a reply the client cannot
	// make sense of: malformed, too long, or with an unexpected code. The
	// control connection it came on is closed.
	ErrProtocol = errors.New("ftpclient: protocol error")
)

// replyError carries a negative reply. It wraps the *ftp.Error (errors.As
// finds it) and answers errors.Is for fs.ErrNotExist and fs.ErrPermission
// with the best reading of the reply it can make (see IsNotExist).
type replyError struct {
	reply *ftp.Error
}

func (e *replyError) Error() string { return e.reply.Error() }
func (e *replyError) Unwrap() error { return e.reply }

func (e *replyError) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return replyNotExist(e.reply)
	case fs.ErrPermission:
		return replyPermission(e.reply)
	}
	return false
}

func negative(code int, msg string) error {
	return &replyError{&ftp.Error{Code: code, Msg: msg}}
}

// IsNotExist reports whether err says that a file or directory does not
// exist: an error wrapping fs.ErrNotExist, or a 550 reply that does not
// name another cause. RFC 959 gives 550 to every "file unavailable"
// failure, and servers differ in their wording (vsftpd says only "Failed to
// open file."), so a 550 counts as "not found" unless its text speaks of
// permission, an existing file, a directory that is not empty, a wrong
// file type or space.
func IsNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}

// IsPermission reports whether err is a refusal for lack of rights: 530 or
// 532 (not logged in, need an account to store), or a 550 or 553 whose text
// speaks of permission or access.
func IsPermission(err error) bool {
	return errors.Is(err, fs.ErrPermission)
}

func replyNotExist(e *ftp.Error) bool {
	if e.Code != ftp.CodeActionNotTaken && e.Code != ftp.CodeFileUnavailable {
		return false
	}
	msg := strings.ToLower(e.Msg)
	if containsAny(msg, "no such", "not found", "not exist", "n't exist", "cannot find", "can't find", "can not find") {
		return true
	}
	if e.Code == ftp.CodeFileUnavailable {
		return false // 450 is mostly "busy"; only explicit wording counts
	}
	return !replyPermission(e) && !containsAny(msg,
		"exists", "not empty", "is a directory", "not a directory", "not a regular",
		"not a plain", "quota", "space", "full")
}

func replyPermission(e *ftp.Error) bool {
	switch e.Code {
	case ftp.CodeNotLoggedIn, ftp.CodeNeedAccountStore:
		return true
	case ftp.CodeActionNotTaken, ftp.CodeBadFileName:
		return containsAny(strings.ToLower(e.Msg), "permission", "denied", "access", "not allowed", "forbidden")
	}
	return false
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// isUnsupported reports whether err is a reply saying the server does not
// know the command or its parameter (500, 502, 504).
func isUnsupported(err error) bool {
	switch ftp.CodeOf(err) {
	case ftp.CodeSyntaxError, ftp.CodeNotImplemented, ftp.CodeParamNotImplemented:
		return true
	}
	return false
}

func unsupported(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnsupported, what, err)
}

// ListError reports listing lines the client could not parse. List returns
// it together with the entries it did parse, so nothing is dropped
// silently; callers that can live with a partial listing check for it with
// errors.As and go on.
type ListError struct {
	Path  string   // the directory listed
	Lines []string // the raw lines that were not understood, in order
}

func (e *ListError) Error() string {
	first := ""
	if len(e.Lines) > 0 {
		first = e.Lines[0]
		if len(first) > 120 {
			first = first[:120] + "..."
		}
	}
	return fmt.Sprintf("ftpclient: %s: %d listing line(s) not understood, first %q", e.Path, len(e.Lines), first)
}
