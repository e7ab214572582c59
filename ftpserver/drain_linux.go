package ftpserver

import (
	"net"
	"syscall"
)

// drainListener closes any connection already waiting on a reused passive
// listener (a late one meant for the previous transfer must not be taken
// for the next) without waiting for new ones, and reports whether the
// listener is still usable. net's Accept checks an expired deadline before
// it tries accept(2), so the queue is emptied with accept4 directly.
func drainListener(ln net.Listener) bool {
	tl, ok := ln.(syscall.Conn) // *net.TCPListener, or a passiveListener
	if !ok {
		return false
	}
	raw, err := tl.SyscallConn()
	if err != nil {
		return false
	}
	usable := true
	cerr := raw.Control(func(fd uintptr) {
		for {
			nfd, _, err := syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			switch {
			case err == nil:
				syscall.Close(nfd)
			case err == syscall.EINTR || err == syscall.ECONNABORTED:
			case err == syscall.EAGAIN:
				return
			default:
				usable = false
				return
			}
		}
	})
	return cerr == nil && usable
}
