package ftpserver

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// controlClosed reports whether the client has closed (or reset) the
// control connection, without consuming any of its pending input. A STOR
// whose data connection ends with a FIN is complete only if the client is
// still there: a killed client closes both connections.
func controlClosed(conn net.Conn) bool {
	sc, ok := conn.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		if u, ok := conn.(interface{ NetConn() net.Conn }); ok {
			return controlClosed(u.NetConn())
		}
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		n, err := unix.Poll(fds, 0)
		if err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0 {
			closed = true
		}
	})
	return closed
}
