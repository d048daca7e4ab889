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

// Context states.
const (
	ctxLive int32 = iota
	ctxDeadline
	ctxCanceled
)

// fillCtx is the context.Context part of a job. The zero value is not
// ready: begin it first.
type fillCtx struct {
	values   context.Context // the caller's values, without its cancellation
	deadline time.Time
	done     chan struct{}
	state    atomic.Int32

	mu     sync.Mutex
	afters map[*func()]struct{} // functions to call when it ends; nil until the first
}

func (c *fillCtx) begin(parent context.Context, deadline time.Time) {
	c.values = context.WithoutCancel(parent)
	c.deadline = deadline
	c.done = make(chan struct{})
}

// String names the context without reading what the fill changes, as the
// context package's own contexts name themselves: fmt would otherwise print
// every field of the job, racing with the fill.
func (c *fillCtx) String() string {
	return "flightcache.fill(" + c.deadline.Format("deadline 15:04:05.000") + ")"
}

// Deadline returns the fill's deadline.
func (c *fillCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done is closed when the context ends.
func (c *fillCtx) Done() <-chan struct{} { return c.done }

// Err is nil while the context is live, then context.DeadlineExceeded or
// context.Canceled.
func (c *fillCtx) Err() error {
	s := c.state.Load()
	if s != ctxLive {
		<-c.done // as the context package's: an error only once Done is closed
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
func (c *fillCtx) AfterFunc(f func()) (stop func() bool) {
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
func (c *fillCtx) end(state int32) {
	if !c.state.CompareAndSwap(ctxLive, state) {
		return
	}
	close(c.done)
	c.mu.Lock()
	afters := c.afters
	c.afters = nil
	c.mu.Unlock()
	for f := range afters {
		go (*f)()
	}
}
