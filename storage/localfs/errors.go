package localfs

import (
	"io/fs"
	"os"
)

// kindError adds a sentinel that the server branches on (kind) to an
// underlying error, keeping both visible to errors.Is and errors.As.
type kindError struct {
	msg  string // when empty, err's text
	err  error
	kind error
}

func (e *kindError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}

func (e *kindError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.err, e.kind}
}

// errOutsideRoot replaces os.Root's "path escapes from parent".
var errOutsideRoot = &kindError{msg: "leads outside the root", kind: fs.ErrPermission}

// wrap returns err as a *fs.PathError naming the virtual path. Errors from
// os and os.Root name host paths (an *os.File opened through a Root carries
// the root's host path in its name), so only the innermost cause is kept.
func (fsys *FS) wrap(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: fsys.cause(err)}
}

// cause strips the path-carrying layers off err and maps the result to the
// sentinels callers branch on.
func (fsys *FS) cause(err error) error {
	err = innermost(err)
	if fsys.escapeErr != nil && err == fsys.escapeErr {
		return errOutsideRoot
	}
	if _, ok := err.(*kindError); ok {
		return err
	}
	return mapErrno(err)
}

// innermost unwraps *fs.PathError and *os.LinkError, the error types that
// carry file names.
func innermost(err error) error {
	for {
		switch e := err.(type) {
		case *fs.PathError:
			err = e.Err
		case *os.LinkError:
			err = e.Err
		default:
			return err
		}
	}
}
