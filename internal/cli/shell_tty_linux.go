//go:build linux

package cli

import "golang.org/x/sys/unix"

// shellKeepOutputProcessing turns output processing back on for the
// terminal fd after term.MakeRaw, so that "\n" is still written as "\r\n".
func shellKeepOutputProcessing(fd int) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return
	}
	t.Oflag |= unix.OPOST | unix.ONLCR
	unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
