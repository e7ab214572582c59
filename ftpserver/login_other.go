//go:build !linux

package ftpserver

import "net"

// canSeeHangUp: without a way to look at the socket without reading it,
// a login is checked to the end even if its client has gone; the bounds
// on checks per address and in all still apply.
const canSeeHangUp = false

func unreadInput(net.Conn) int { return 1 }
