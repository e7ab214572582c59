//go:build !linux

package ftpserver

import "net"

// drainListener cannot empty the accept queue without blocking here
// (accept4 with SOCK_NONBLOCK is Linux's), so passive listeners are not
// reused.
func drainListener(net.Listener) bool { return false }

// readable cannot look at a socket without reading it here: a data
// connection secured early is waited for before 150 only once its
// handshake has begun.
func readable(any) bool { return false }

// awaitBytes cannot wait for bytes without reading them here.
func awaitBytes(net.Conn) (bool, error) { return false, nil }
