package ftpserver

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// controlState looks at the client's side of the control connection
// without consuming any of its pending input.
func controlState(conn net.Conn) peerState {
	raw := rawConn(conn)
	if raw == nil {
		return peerOpen
	}
	state := peerOpen
	err := raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		n, err := unix.Poll(fds, 0)
		switch {
		case err != nil || n == 0:
		case fds[0].Revents&unix.POLLERR != 0:
			state = peerReset // a pending error: RST, or unreachable
		case fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP) != 0:
			state = peerClosed
		}
	})
	if err != nil {
		// Closed on our side (Close, or a reply that could not be
		// written): nobody is there to say the upload is complete.
		return peerReset
	}
	return state
}

// peekControl returns up to len(buf) bytes that the client has sent on
// the control connection and nobody has read yet, leaving them in the
// socket. On TLS the socket holds ciphertext: nothing is returned.
func peekControl(conn net.Conn, buf []byte) []byte {
	if _, ok := plainTCP(conn); !ok {
		return nil
	}
	raw := rawConn(conn)
	if raw == nil {
		return nil
	}
	n := 0
	raw.Control(func(fd uintptr) {
		m, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err == nil && m > 0 {
			n = m
		}
	})
	return buf[:n]
}

// rawConn returns the socket under conn (under TLS too), or nil.
func rawConn(conn net.Conn) syscall.RawConn {
	sc, ok := conn.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		if u, ok := conn.(interface{ NetConn() net.Conn }); ok {
			return rawConn(u.NetConn())
		}
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
