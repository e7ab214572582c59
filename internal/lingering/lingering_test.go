package lingering_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

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
		for _, d := range []time.Duration{time.Second, 3 * time.Second} {
			ended := lingering.Start(ctx)
			go func() {
				time.Sleep(d)
				ended()
			}()
		}
		cancel() // the caller gives up; the work runs on
		start := time.Now()
		tr.Wait()
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("Wait returned after %v, want the longest work's 3s", waited)
		}
		tr.Wait() // nothing left: at once
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("a second Wait took %v more", waited-3*time.Second)
		}
	})
}
