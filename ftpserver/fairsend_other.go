//go:build !linux

package ftpserver

import (
	"errors"
	"net"
	"os"
)

// fairSendOK: sends do not take turns here (see fairsend_linux.go).
const fairSendOK = false

func fairSend(chan struct{}, *net.TCPConn, *os.File, int64) (int64, error) {
	return 0, errors.ErrUnsupported
}
