package singleflight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// ErrGoexit is the error every waiter receives when fn calls runtime.Goexit
// (as testing.T.FailNow does) instead of returning.
var ErrGoexit = errors.New("singleflight: fn called runtime.Goexit")

// errNilFunc is returned instead of panicking when fn is nil.
var errNilFunc = errors.New("singleflight: nil function")

// PanicError is the error that stands for a panic in fn. Do re-panics with it
// in every caller; DoChan delivers it as Result.Err.
type PanicError struct {
	// Value is the value fn panicked with.
	Value any
	// Stack is the stack of the goroutine that ran fn, taken when it
	// panicked.
	Stack []byte
}

// Error reports the panic value and the stack it was raised on.
func (p *PanicError) Error() string {
	return fmt.Sprintf("singleflight: fn panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns Value when it is an error, so that errors.Is and errors.As
// see through a panic with an error value.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

func newPanicError(v any) *PanicError {
	stack := debug.Stack()
	// The first line names the goroutine and its state at the time of the
	// panic; by the time a waiter reads it that goroutine is gone.
	if i := bytes.IndexByte(stack, '\n'); i >= 0 {
		stack = stack[i+1:]
	}
	return &PanicError{Value: v, Stack: stack}
}

// Result is what DoChan delivers: the value and error of the call, and
// whether the receiver shared the call with another caller.
type Result[V any] struct {
	Val    V
	Err    error
	Shared bool
}

// Group runs at most one call of fn per key at a time and gives its result to
// every caller that asked for that key while it ran.
//
// The zero value is ready to use. A Group must not be copied after first use.
// All methods are safe for concurrent use.
//
// Unlike golang.org/x/sync/singleflight, a Group is typed, lets each caller
// stop waiting when its own context ends, and never crashes the process when
// fn panics.
type Group[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*call[V]
}

// call is one run of fn for one key.
type call[V any] struct {
	// finished is closed after val and err are set. It is made only when
	// someone has to select on it: a caller with a context that can end.
	finished chan struct{}
	// wg is released at the same moment, for callers whose context never
	// ends: they wait without a channel, which saves an allocation.
	wg sync.WaitGroup

	// val, err and panicked are written once by the goroutine that runs fn,
	// before finished is closed and wg is released.
	val      V
	err      error
	panicked bool
	// ended is set by the first Finish of a call started with Claim.
	ended atomic.Bool

	// The fields below are guarded by the Group's mu.
	joiners int              // callers that joined after the first
	chans   []*chanWaiter[V] // DoChan receivers still owed a Result
}

// chanWaiter is one DoChan receiver.
type chanWaiter[V any] struct {
	ch     chan Result[V]
	shared bool
	stop   func() bool // stops the context watch; nil when ctx never ends
}

// Do runs fn for key unless a call for key is already in flight, in which case
// it waits for that call instead, and returns the result of the call.
//
// fn runs on a goroutine of the Group's, with a context that keeps ctx's
// values but not its deadline or cancellation (context.WithoutCancel): the
// call goes on for the other callers, and to completion even when every
// caller has left, so bound fn by a deadline of its own. Do itself returns
// ctx.Err() as soon as ctx ends; shared then reports whether the caller had
// joined a call that another caller started. A caller whose ctx is already
// done starts nothing and joins nothing.
//
// shared is true for a caller that joined a call in flight, and for the
// caller that started the call when anyone joined it. Every caller of one
// call receives the same value and the same error.
//
// When fn panics, Do panics in every caller with the same *PanicError. When
// fn calls runtime.Goexit, every caller gets ErrGoexit. In both cases the key
// is free again before any caller hears of it.
func (g *Group[K, V]) Do(ctx context.Context, key K, fn func(context.Context) (V, error)) (v V, err error, shared bool) {
	if err := ctx.Err(); err != nil {
		return v, err, false
	}
	if fn == nil {
		return v, errNilFunc, false
	}
	mayEnd := ctx.Done() != nil

	g.mu.Lock()
	c, joined := g.calls[key]
	if joined {
		c.joiners++
		if mayEnd && c.finished == nil {
			c.finished = make(chan struct{})
		}
	} else {
		c = g.start(ctx, key, fn, mayEnd)
	}
	g.mu.Unlock()

	if mayEnd {
		select {
		case <-c.finished:
		case <-ctx.Done():
			return v, ctx.Err(), joined
		}
	} else {
		c.wg.Wait()
	}
	if c.panicked {
		panic(c.err)
	}
	// joiners stopped changing when the call left the map, which happened
	// before finished was closed or wg released.
	return c.val, c.err, joined || c.joiners > 0
}

// DoChan is like Do but returns at once with a channel that receives the
// Result. The channel is buffered: nobody has to read it, and it receives
// exactly one Result and is never closed.
//
// When ctx ends before the call does, the channel receives Result{Err:
// ctx.Err()} at once and the call goes on for the others. A panic in fn is
// delivered as a Result whose Err is the *PanicError, never re-raised.
func (g *Group[K, V]) DoChan(ctx context.Context, key K, fn func(context.Context) (V, error)) <-chan Result[V] {
	ch, _ := g.DoChanStarted(ctx, key, fn)
	return ch
}

// DoChanStarted is DoChan that also reports whether this call started fn for
// key (true) or joined the call already in flight (false). Code that does
// many keys at once uses it to learn, when the call returns, which keys are
// its own to do.
func (g *Group[K, V]) DoChanStarted(ctx context.Context, key K, fn func(context.Context) (V, error)) (ch <-chan Result[V], started bool) {
	out := make(chan Result[V], 1)
	if err := ctx.Err(); err != nil {
		out <- Result[V]{Err: err}
		return out, false
	}
	if fn == nil {
		out <- Result[V]{Err: errNilFunc}
		return out, false
	}
	mayEnd := ctx.Done() != nil

	g.mu.Lock()
	c, joined := g.calls[key]
	if joined {
		c.joiners++
	} else {
		c = g.start(ctx, key, fn, mayEnd)
	}
	w := &chanWaiter[V]{ch: out, shared: joined}
	if mayEnd {
		// The watch runs its function on a goroutine of its own, which
		// takes mu, so setting it up under mu cannot deadlock, and the
		// finisher always sees stop.
		w.stop = context.AfterFunc(ctx, func() {
			if g.dropWaiter(c, w) {
				out <- Result[V]{Err: ctx.Err(), Shared: w.shared}
			}
		})
	}
	c.chans = append(c.chans, w)
	g.mu.Unlock()
	return out, !joined
}

// dropWaiter removes w from c's receivers and reports whether it was still
// there, that is, whether the caller now owns delivering to w.
func (g *Group[K, V]) dropWaiter(c *call[V], w *chanWaiter[V]) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, x := range c.chans {
		if x == w {
			last := len(c.chans) - 1
			c.chans[i] = c.chans[last]
			c.chans[last] = nil
			c.chans = c.chans[:last]
			return true
		}
	}
	return false
}

// start records a new call for key and runs fn for it on a new goroutine.
// g.mu must be held.
func (g *Group[K, V]) start(ctx context.Context, key K, fn func(context.Context) (V, error), mayEnd bool) *call[V] {
	c := &call[V]{}
	c.wg.Add(1)
	if mayEnd {
		c.finished = make(chan struct{})
		ctx = context.WithoutCancel(ctx)
	}
	if g.calls == nil {
		g.calls = make(map[K]*call[V])
	}
	g.calls[key] = c
	go g.run(ctx, key, c, fn)
	return c
}

// run calls fn and hands its outcome to the waiters, whichever way fn ends:
// by returning, by panicking or by runtime.Goexit.
func (g *Group[K, V]) run(ctx context.Context, key K, c *call[V], fn func(context.Context) (V, error)) {
	returned, recovered := false, false
	defer func() {
		if !returned && !recovered {
			// Only runtime.Goexit unwinds past the recover below.
			c.err = ErrGoexit
		}
		g.finish(key, c)
	}()
	func() {
		defer func() {
			if !returned {
				if r := recover(); r != nil {
					c.err = newPanicError(r)
					c.panicked = true
				}
			}
		}()
		c.val, c.err = fn(ctx)
		returned = true
	}()
	recovered = !returned
}

// finish frees the key, then releases the waiters.
func (g *Group[K, V]) finish(key K, c *call[V]) {
	g.mu.Lock()
	if g.calls[key] == c {
		delete(g.calls, key)
	}
	chans := c.chans
	c.chans = nil
	if c.finished != nil {
		close(c.finished)
	}
	g.mu.Unlock()
	c.wg.Done()

	for _, w := range chans {
		if w.stop != nil {
			w.stop()
		}
		w.ch <- Result[V]{Val: c.val, Err: c.err, Shared: w.shared || c.joiners > 0}
	}
}

// Forget makes the next call for key start afresh instead of joining the call
// in flight. The call in flight is neither cancelled nor changed: its
// callers still receive its result, and when it ends it leaves any newer
// call for key in place.
func (g *Group[K, V]) Forget(key K) {
	g.mu.Lock()
	delete(g.calls, key)
	g.mu.Unlock()
}

// Wrap returns fn with duplicate suppression: concurrent calls with the same
// key run fn once and share its result, as with Group.Do. It is the
// decorator form of Do.
func Wrap[K comparable, V any](g *Group[K, V], fn func(context.Context, K) (V, error)) func(context.Context, K) (V, error) {
	return func(ctx context.Context, key K) (V, error) {
		if fn == nil {
			var zero V
			return zero, errNilFunc
		}
		v, err, _ := g.Do(ctx, key, func(ctx context.Context) (V, error) { return fn(ctx, key) })
		return v, err
	}
}
