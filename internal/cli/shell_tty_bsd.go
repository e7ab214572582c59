//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package cli

import "golang.org/x/sys/unix"

// shellKeepOutputProcessing turns output processing back on for the
// terminal fd after term.MakeRaw, so that "\n" is still written as "\r\n".
func shellKeepOutputProcessing(fd int) {
	t, err := unix.IoctlGetTermios(fd, unix.TIOCGETA)
	if err != nil {
		return
	}
	t.Oflag |= unix.OPOST | unix.ONLCR
	unix.IoctlSetTermios(fd, unix.TIOCSETA, t)
}
