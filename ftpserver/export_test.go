package ftpserver

// TransferCounts exposes what sharing counts: files being sent that are
// larger than a quantum, and passive listeners not yet used.
func (srv *Server) TransferCounts() (sends, passives int) {
	st := srv.state()
	return int(st.fileSends.Load()), int(st.passives.Load())
}
