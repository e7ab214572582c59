package ftpclient

import "time"

// SetIdleCheck changes how long a pooled connection may sit idle before
// its next use checks it with NOOP, and returns a function that restores
// the old value.
func SetIdleCheck(d time.Duration) (restore func()) {
	old := idleCheck
	idleCheck = d
	return func() { idleCheck = old }
}
