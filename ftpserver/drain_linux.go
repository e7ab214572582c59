package ftpserver

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// drainListener closes any connection already waiting on a reused passive
// listener (a late one meant for the previous transfer must not be taken
// for the next) without waiting for new ones, and reports whether the
// listener is still usable. net's Accept checks an expired deadline before
// it tries accept(2), so the queue is emptied with accept4 directly.
func drainListener(ln net.Listener) bool {
	usable := true
	done := control(ln, func(fd uintptr) {
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
	return done && usable
}

// control runs f on the socket of c (a *net.TCPListener, a passiveListener,
// a *net.TCPConn) and reports whether it could.
func control(c any, f func(fd uintptr)) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	return raw.Control(f) == nil
}

// readable reports whether a socket has something to read: a connection
// waiting in a listener's accept queue, or bytes (or EOF) on a
// connection, without taking it.
func readable(c any) bool {
	waiting := false
	control(c, func(fd uintptr) { waiting = pollIn(fd) })
	return waiting
}

// pollIn reports whether fd has something to read now (or an error a read
// will report).
func pollIn(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		switch {
		case err == unix.EINTR:
		case err != nil:
			return true
		default:
			return n > 0 && fds[0].Revents != 0
		}
	}
}

// awaitBytes blocks until c has bytes (or EOF) to read, its read deadline
// passes or it is closed, and takes nothing. It reports false, at once,
// for a connection it cannot wait on so.
func awaitBytes(c net.Conn) (bool, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, nil
	}
	return true, rc.Read(pollIn)
}
