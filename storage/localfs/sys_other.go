//go:build !unix

package localfs

import (
	"errors"
	"os"
)

// oDirectory does not exist here; openDir checks after opening.
const oDirectory = 0

// oNonblock does not exist here.
const oNonblock = 0

// errInvalidArg matches nothing here.
var errInvalidArg = errors.New("invalid argument")

func mapErrno(err error) error { return err }

// isSocketErrno cannot tell socket errors apart here.
func isSocketErrno(error) bool { return false }

// lockUpload does not lock here: uploads writing in place are not kept
// apart on this system.
func lockUpload(*os.File) error { return nil }

func unlocked(*os.File) bool { return false }
