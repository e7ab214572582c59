//go:build !unix

package localfs

import "errors"

// oDirectory does not exist here; openDir checks after opening.
const oDirectory = 0

// oNonblock does not exist here.
const oNonblock = 0

// errInvalidArg matches nothing here.
var errInvalidArg = errors.New("invalid argument")

func mapErrno(err error) error { return err }

// isSocketErrno cannot tell socket errors apart here.
func isSocketErrno(error) bool { return false }
