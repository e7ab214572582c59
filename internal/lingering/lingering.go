// Package lingering lets a caller that gives up on work (by cancelling
// its context) learn when that work has really ended. A password hash
// cannot be stopped: an authenticator returns as soon as its client has
// gone, but the hash runs on, and a per-address bound on logins must keep
// counting it until it ends, or one address could start hash after hash by
// hanging up.
package lingering

import (
	"context"
	"sync"
)

// Tracker counts the work started under a context that carries it.
type Tracker struct{ wg sync.WaitGroup }

type key struct{}

// With returns a context carrying t: work started under it (Start) is
// counted by t even after the context ends.
func With(ctx context.Context, t *Tracker) context.Context {
	return context.WithValue(ctx, key{}, t)
}

// Start counts one piece of work under ctx's Tracker, if it has one, and
// returns the function that ends it; call it once the work is over.
func Start(ctx context.Context) (done func()) {
	t, _ := ctx.Value(key{}).(*Tracker)
	if t == nil {
		return func() {}
	}
	t.wg.Add(1)
	return t.wg.Done
}

// Wait blocks until every piece of work started under t has ended.
func (t *Tracker) Wait() { t.wg.Wait() }
