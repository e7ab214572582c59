//go:build !linux

package ftpserver

import "net"

// controlState cannot look at the socket without reading it on this
// system: the client counts as present, and an interrupted upload is
// detected only by the data connection itself.
func controlState(net.Conn) peerState { return peerOpen }

// peekControl cannot peek on this system.
func peekControl(net.Conn, []byte) []byte { return nil }
