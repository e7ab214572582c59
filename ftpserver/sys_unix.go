//go:build unix

package ftpserver

import (
	"io/fs"
	"net"
	"strconv"
	"syscall"
)

// setOOBInline makes TCP urgent data arrive in the normal stream. Python's
// ftplib sends "ABOR\r\n" with MSG_OOB; without this option the kernel
// takes its last byte out of the stream and the command never ends.
func setOOBInline(conn net.Conn) {
	tc, ok := plainTCP(conn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_OOBINLINE, 1)
	})
}

// uniqueID is the MLSx "unique" fact: device and inode, stable across
// renames and shared by hard links, as RFC 3659 §7.5.2 intends.
func uniqueID(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	var b [40]byte // one allocation per entry: MLSD describes thousands
	u := strconv.AppendUint(b[:0], uint64(st.Dev), 16)
	u = append(u, 'U')
	return string(strconv.AppendUint(u, uint64(st.Ino), 16))
}

// canWaitReadable says whether waitReadable works here.
const canWaitReadable = true

// waitReadable blocks until the connection has input, has been closed by
// the peer, fails, or its read deadline passes, without taking any of the
// input: a one-byte MSG_PEEK tells readable from not yet.
func waitReadable(raw syscall.RawConn) {
	var b [1]byte
	raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN && err != syscall.EINTR
	})
}
