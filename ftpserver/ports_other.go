//go:build !linux

package ftpserver

// ephemeralPorts is the IANA dynamic port range (RFC 6335).
func ephemeralPorts() (int, int) { return 49152, 65535 }
