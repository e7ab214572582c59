package lingering_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/ferry-ftp/ferry/internal/lingering"
)

// Work started under a context carrying a Tracker is waited for after
// the context has ended; without a Tracker, Start costs nothing.
func TestTracker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		lingering.Start(context.Background())() // no tracker: a no-op

		var tr lingering.Tracker
		ctx, cancel := context.WithCancel(lingering.With(t.Context(), &tr))
		first, second := lingering.Start(ctx), lingering.Start(ctx)
		cancel() // the caller gives up; the work runs on
		waited := make(chan struct{})
		go func() {
			tr.Wait()
			close(waited)
		}()
		returned := func() bool {
			synctest.Wait()
			select {
			case <-waited:
				return true
			default:
				return false
			}
		}
		if returned() {
			t.Fatal("Wait returned with both pieces of work running")
		}
		first()
		if returned() {
			t.Fatal("Wait returned with one piece of work running")
		}
		second()
		if !returned() {
			t.Fatal("Wait did not return once all the work had ended")
		}
		tr.Wait() // nothing left: at once
	})
}
