package ftpserver

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// canSeeHangUp: controlClosed and unreadInput can look at the socket
// without reading from it.
const canSeeHangUp = true

// unreadInput returns how many bytes the kernel holds for conn that have
// not been read yet; when it cannot tell, it answers 1, so that a caller
// deciding whether the client has more to say assumes it has.
func unreadInput(conn net.Conn) int {
	sc, ok := conn.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		if u, ok := conn.(interface{ NetConn() net.Conn }); ok {
			return unreadInput(u.NetConn())
		}
		return 1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 1
	}
	n := 1
	if cerr := raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err == nil {
			n = v
		}
	}); cerr != nil {
		return 1
	}
	return n
}
