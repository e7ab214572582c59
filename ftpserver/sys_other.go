//go:build !unix

package ftpserver

import (
	"io/fs"
	"net"
	"syscall"
)

// setOOBInline is a no-op where the socket option is not available.
func setOOBInline(net.Conn) {}

// uniqueID has no stable identity to offer here; the fact is left out.
func uniqueID(fs.FileInfo) string { return "" }

// canWaitReadable: no MSG_PEEK probe here, sessions keep their goroutine.
const canWaitReadable = false

func waitReadable(syscall.RawConn) {}
