package ftpserver

import (
	"errors"
	"fmt"
	"testing"
)

// A transfer that failed on its own keeps its failure's reply even when
// an ABOR, provoked by the data connection closing on that failure,
// arrives before the reply goes out; an abort that came first makes the
// failure it causes an interruption.
func TestFailureBeforeAbortKeepsItsReply(t *testing.T) {
	t.Parallel()
	quota := fmt.Errorf("store: %w", ErrQuota)

	failedFirst := &transfer{}
	failedFirst.markFailed(quota)
	failedFirst.abort()
	if failedFirst.interrupted() || transferResult(failedFirst, quota) != TransferFailed {
		t.Error("a quota failure followed by ABOR counts as an interruption")
	}

	abortedFirst := &transfer{}
	abortedFirst.abort()
	abortedFirst.markFailed(quota)
	if !abortedFirst.interrupted() || transferResult(abortedFirst, quota) != TransferAborted {
		t.Error("an ABOR followed by the failure it caused does not count as an interruption")
	}

	lost := &transfer{}
	lost.markFailed(netErr{errors.New("connection reset")})
	lost.abort()
	if !lost.interrupted() {
		t.Error("a lost data connection followed by ABOR is not an interruption")
	}
}
