package singleflight

import (
	"context"
	"fmt"
	"time"
)

// detachedCtx is the context fn runs with when the caller that started the
// call can leave: the caller's values, without its deadline or cancellation,
// as context.WithoutCancel gives. Each call gets one of its own, which fn
// may keep after it returns.
type detachedCtx struct {
	parent context.Context
}

func (*detachedCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*detachedCtx) Done() <-chan struct{}       { return nil }
func (*detachedCtx) Err() error                  { return nil }

// Value returns the parent's value for key, except for the key by which the
// context package finds a context's canceller, so that context.Cause, like
// Err, reports nothing: the parent's cancellation does not reach fn.
func (d *detachedCtx) Value(key any) any {
	if cancelKey != nil && key == cancelKey {
		return nil
	}
	return d.parent.Value(key)
}

func (d *detachedCtx) String() string {
	return fmt.Sprintf("%v.WithoutCancel", d.parent)
}

// cancelKey is the key that context.Cause asks a context's Value for to
// find its canceller (since Go 1.26 only when the context's Err is not nil).
// The context package does not export it, so it is learnt once by watching
// which key context.Cause asks for; if it asks for none, nothing needs
// hiding.
var cancelKey = func() any {
	p := &keyProbe{Context: context.Background()}
	_ = context.Cause(p)
	return p.key
}()

// keyProbe is a cancelled context that records the key of the last call to
// Value.
type keyProbe struct {
	context.Context
	key any
}

func (*keyProbe) Err() error { return context.Canceled }

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}
