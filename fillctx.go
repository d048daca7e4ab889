package flightcache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the context of a fill: what its Store calls, leases, loads
// and writes get. It carries the values of the caller that started the fill,
// not its cancellation, and ends at the fill's deadline (with
// context.DeadlineExceeded) or when the fill's pipeline returns (with
// context.Canceled), whichever comes first. A fill has one timer, which ends
// its context and frees its keys together (see job.expire); a
// context.WithTimeout beside it would add a second timer to every miss.
//
// The context is an allocation of its own, never reused: a load, a Store or
// a log handler may keep it after the fill, whose job is reused (see
// filler.newJob). It reaches the job for the load hooks (see loadhooks.go)
// only while the fill runs.

// Context states.
const (
	ctxLive int32 = iota
	ctxDeadline
	ctxCanceled
)

// fillCtx is the context of one fill. The zero value is not ready: begin it
// first.
type fillCtx[K comparable, V any] struct {
	values   context.Context // the caller's values, without its cancellation
	deadline time.Time
	state    atomic.Int32
	// done holds the Done channel, a chan struct{}, made by the first call
	// of Done (most fills end without anyone asking for it), as the context
	// package's own cancelable contexts do; it is set under mu.
	done atomic.Value

	mu     sync.Mutex
	afters map[*func()]struct{} // functions to call when it ends; nil until the first

	// hooks guards job, sealed and the hooks' state in the job.
	hooks sync.Mutex
	// job is the fill, until its pipeline has returned; nil after, when
	// the job may serve another fill.
	job *job[K, V]
	// sealed is set once the fill's one call of the source has returned.
	sealed bool
}

// closedChan is the Done channel of a context that ended before anyone asked
// for it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (c *fillCtx[K, V]) begin(parent context.Context, deadline time.Time) {
	c.values = parent
	if parent != context.Background() && parent != context.TODO() {
		// Its values without its cancellation (context.Cause included).
		// A parent whose Done is nil may still hide a cancelable context
		// that its Value reaches (a "detach" context written before
		// context.WithoutCancel), whose cause context.Cause would find:
		// only the two empty contexts have nothing to hide, and save the
		// allocation.
		c.values = context.WithoutCancel(parent)
	}
	c.deadline = deadline
}

// String names the context without reading what the fill changes, as the
// context package's own contexts name themselves: fmt would otherwise print
// every field of the job, racing with the fill.
func (c *fillCtx[K, V]) String() string {
	return "flightcache.fill(" + c.deadline.Format("deadline 15:04:05.000") + ")"
}

// Deadline returns the fill's deadline.
func (c *fillCtx[K, V]) Deadline() (time.Time, bool) { return c.deadline, true }

// Done is closed when the context ends.
func (c *fillCtx[K, V]) Done() <-chan struct{} {
	if d := c.done.Load(); d != nil {
		return d.(chan struct{})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.done.Load()
	if d == nil {
		// Once the context has ended, end has stored closedChan already:
		// a channel made here is closed by the end that follows.
		d = make(chan struct{})
		c.done.Store(d)
	}
	return d.(chan struct{})
}

// Err is nil while the context is live, then context.DeadlineExceeded or
// context.Canceled.
func (c *fillCtx[K, V]) Err() error {
	s := c.state.Load()
	if s != ctxLive {
		<-c.Done() // as the context package's: an error only once Done is closed
	}
	switch s {
	case ctxDeadline:
		return context.DeadlineExceeded
	case ctxCanceled:
		return context.Canceled
	}
	return nil
}

// AfterFunc calls f on a goroutine of its own once the context ends, as
// context.AfterFunc does; stop unregisters it. The context package uses it
// so that a context derived from a fill's (context.WithTimeout in a load or
// a Store) follows it without a goroutine of its own.
func (c *fillCtx[K, V]) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != ctxLive {
		go f()
		return func() bool { return false }
	}
	if c.afters == nil {
		c.afters = make(map[*func()]struct{})
	}
	key := &f
	c.afters[key] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.afters[key]
		delete(c.afters, key)
		return ok
	}
}

// end ends the context in state, unless it has ended already.
func (c *fillCtx[K, V]) end(state int32) {
	if !c.state.CompareAndSwap(ctxLive, state) {
		return
	}
	c.mu.Lock()
	if d := c.done.Load(); d != nil {
		close(d.(chan struct{}))
	} else {
		c.done.Store(closedChan)
	}
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for f := range afters {
		go (*f)()
	}
}
