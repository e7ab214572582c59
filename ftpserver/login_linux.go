package ftpserver

import (
	"net"

	"golang.org/x/sys/unix"
)

// canSeeHangUp: controlState and unreadInput can look at the socket
// without reading from it.
const canSeeHangUp = true

// unreadInput returns how many bytes the kernel holds for conn that have
// not been read yet; when it cannot tell, it answers 1, so that a caller
// deciding whether the client has more to say assumes it has.
func unreadInput(conn net.Conn) int {
	raw := rawConn(conn)
	if raw == nil {
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
