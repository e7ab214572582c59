//go:build !linux

package localfs

import (
	"errors"
	"os"
)

var errNoUnnamed = errors.New("unnamed temporary files not supported")

func openUnnamed(*os.File) (*os.File, error) { return nil, errNoUnnamed }

func linkUnnamed(_, _ *os.File, _ string) error { return errNoUnnamed }
