package ftpserver

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// ephemeralPorts is the kernel's ephemeral port range, read once.
var ephemeralPorts = sync.OnceValues(func() (int, int) {
	lo, hi := 32768, 60999
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return lo, hi
	}
	a, errA := strconv.Atoi(f[0])
	b, errB := strconv.Atoi(f[1])
	if errA != nil || errB != nil || a < 1024 || b < a || b > 65535 {
		return lo, hi
	}
	return a, b
})
