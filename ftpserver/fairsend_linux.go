package ftpserver

import (
	"net"
	"os"
	"syscall"
)

// fairSendOK says whether fairSend works here.
const fairSendOK = true

// fairSend sends at most want bytes of f, from its current position, to
// c, with one sendfile(2) of at most a quantum per turn. A turn is a slot
// of turns, taken in the order asked for (a channel's waiting senders are
// served first come, first served), so each send moves a quantum and then
// queues behind the others: downloads share the machine evenly. A send
// whose socket is full gives its slot back before it waits for the peer
// to read, so a slow client never holds up the others.
func fairSend(turns chan struct{}, c *net.TCPConn, f *os.File, want int64) (int64, error) {
	out, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	in, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var sent int64
	var serr error
	err = in.Control(func(infd uintptr) {
		werr := out.Write(func(outfd uintptr) bool {
			for sent < want {
				turns <- struct{}{}
				n, err := syscall.Sendfile(int(outfd), int(infd), nil, int(min(quantum, want-sent)))
				<-turns
				if n > 0 {
					sent += int64(n)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait for room, without a turn
				case err == syscall.EINTR:
				case err != nil:
					serr = &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(),
						Err: os.NewSyscallError("sendfile", err)}
					return true
				case n == 0:
					return true // the end of the file
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = err
	}
	return sent, serr
}
