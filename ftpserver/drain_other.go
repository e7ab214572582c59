//go:build !linux

package ftpserver

import "net"

// drainListener cannot empty the accept queue without blocking here
// (accept4 with SOCK_NONBLOCK is Linux's), so passive listeners are not
// reused.
func drainListener(net.Listener) bool { return false }
