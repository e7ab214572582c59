package ftpserver

import "time"

// SetClock makes d read the time from now, so tests can move past a
// window or a ban without waiting for it.
func (d *Defender) SetClock(now func() time.Time) {
	d.now = now
}
