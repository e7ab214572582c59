package ftpserver

import "net/netip"

// LoginQueue reports how many logins from ip hold one of its password
// check slots and how many wait for one.
func (srv *Server) LoginQueue(ip netip.Addr) (running, waiting int) {
	return srv.state().logins.queue(ip)
}
