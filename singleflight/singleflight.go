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

// ErrGoexit is the error every waiter receives when fn calls [runtime.Goexit]
// (as [testing.T.FailNow] does) instead of returning. When fn ran on a
// caller's own goroutine (see [Group.Do]), that caller's goroutine ends
// instead, as runtime.Goexit makes it.
var ErrGoexit = errors.New("singleflight: fn called runtime.Goexit")

// ErrUnhashableKey is the error every entry point returns, instead of
// panicking, for a key that Go cannot hash: a key of an interface type, or of
// a struct or array type holding one, whose dynamic value is a slice, a map,
// a func, or a struct or array holding one. The error returned wraps it, so
// match it with [errors.Is]; its text names the key's dynamic type.
var ErrUnhashableKey = errors.New("singleflight: key cannot be hashed")

// errNilFunc is returned instead of panicking when fn is nil.
var errNilFunc = errors.New("singleflight: nil function")

// PanicError is the error that stands for a panic in fn. [Group.Do] re-panics
// with it in every caller; [Group.DoChan] delivers it as [Result].Err.
//
// Its Error text names the panic value only, without the stack, so that
// sending it to a client sends no stack trace; the stack stays in the Stack
// field. Reach it with [errors.As].
type PanicError struct {
	// Value is the value fn panicked with.
	Value any
	// Stack is the stack of the goroutine that ran fn, taken when it
	// panicked.
	Stack []byte
}

// Error reports the panic value, without the stack.
func (p *PanicError) Error() string {
	return fmt.Sprintf("singleflight: fn panicked: %v", p.Value)
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
	// panic; by the time a waiter reads it that has changed.
	if i := bytes.IndexByte(stack, '\n'); i >= 0 {
		stack = stack[i+1:]
	}
	return &PanicError{Value: v, Stack: stack}
}

// Result is what [Group.DoChan] delivers: the value and error of the call, and
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
// stop waiting when its own context ends, never crashes the process when fn
// panics, and returns ErrUnhashableKey for a key Go cannot hash.
type Group[K comparable, V any] struct {
	mu sync.Mutex
	// The calls in flight, one per key, guarded by mu: the first in one
	// (with its key in oneKey), the others in calls while one is taken.
	// Mostly a single key is in flight, and then starting and ending a call
	// compares keys but hashes nothing. A key is in one or in calls, never
	// in both. See lookup, record and remove.
	one    *call[K, V]
	oneKey K
	calls  map[K]*call[K, V]

	// keys is the keyKind of K, worked out on first use.
	keys atomic.Uint32

	// last and spare hold ended calls of the kind a cancellable Do starts,
	// for the next such Do to reuse: it saves allocating the call and the
	// closure its goroutine starts from (see call.refs for when a call is
	// spare). last holds the call given back last, and costs one atomic
	// swap to take from or put in, less than a sync.Pool; spare holds the
	// others, which many calls at once leave.
	last  atomic.Pointer[call[K, V]]
	spare sync.Pool
}

// call is one run of fn for one key.
type call[K comparable, V any] struct {
	// wg is released when the call ends, for callers whose context never
	// ends: they wait without a channel. It is used only when the call
	// started without a channel (usesWG); joiners of a call that has one wait
	// on it instead, so that a reusable call never touches wg (a WaitGroup
	// once added to inside a testing/synctest bubble must never be added to
	// outside it, and a spare call may serve either next).
	wg sync.WaitGroup

	// val, err and panicked are written once by the goroutine that runs fn,
	// before the call is released.
	val      V
	err      error
	panicked bool

	usesWG bool
	// claimed is true for a call started with Claim, the only kind that a
	// Ticket's Finish may end.
	claimed bool
	// listed is true while the call is the Group's call in flight for its
	// key, so that finish removes it without looking it up first. It is
	// false from the start for a call of a key that does not equal itself
	// (which nobody can join) and for an unshared call, and becomes false
	// when Forget removes the entry. It is guarded by the Group's mu once
	// the call is in flight.
	listed bool
	// state is where the call is: running, ended (the first Finish of a
	// call started with Claim set it; the result may still be being
	// written) or released (the result is written and the call has left
	// the Group, so joiners no longer changes). It becomes released under
	// the Group's mu, so that a caller who wants a channel to block on
	// decides under mu whether the call has ended already (see
	// Group.finishedChan); a reader who loads released may read val, err,
	// panicked and joiners without the lock.
	state atomic.Uint32

	// refs counts the parties that may still read a reusable call, one
	// that a cancellable Do started on a goroutine of the Group's: the
	// goroutine that runs fn, the caller that started it, and each caller
	// of Do that joined it, each of which gives its reference back once it
	// has read the result or left. A Ticket or a DoChan receiver that joins
	// takes a reference it never gives back, since it may read the call at
	// any time. The party that gives back the last reference puts the call
	// among the Group's spare calls; until then nobody else can see it.
	refs atomic.Int32
	// task is what the goroutine of a reusable call runs; nil for any other
	// call.
	task *task[K, V]

	// The fields below are guarded by the Group's mu.
	joiners int // callers that joined after the first
	// finished is closed when the call ends. It is made only when a caller
	// has to block on it: one whose context can end starts or joins the
	// call, Do joins a call started with Claim (which has no WaitGroup), or
	// a Ticket waits for a call that has not been released, or asks for its
	// Done channel (Group.finishedChan). A call nobody waits on never has
	// one.
	finished chan struct{}
	chans    []*chanWaiter[V] // DoChan receivers still owed a Result
	note     *any             // the callers' own note on the call (see Ticket.NoteOnce); nil: none
}

// task is what the goroutine of a reusable call needs, kept apart so that
// other calls do not carry it.
type task[K comparable, V any] struct {
	key   K
	fn    func(context.Context) (V, error)
	ctx   context.Context // the context fn runs with
	start func()          // runs the call: made once per call struct
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
// When ctx can never end (ctx.Done() returns nil, as for
// context.Background()) and Do starts the call, fn runs on the caller's own
// goroutine, with ctx itself, and Do returns when fn does: nothing could make
// this caller leave earlier. Otherwise fn runs on a new goroutine, with a
// context that keeps ctx's values but not its deadline or cancellation (as
// [context.WithoutCancel] gives): the call goes on for the other callers, and to
// completion even when every caller has left, so bound fn by a deadline of
// its own. Do itself returns ctx.Err() as soon as ctx ends; shared then
// reports whether the caller had joined a call that another caller started.
// A caller whose ctx is already done starts nothing and joins nothing. A
// caller of either kind may join a call that a caller of the other kind
// started, and each waits only as long as its own ctx allows.
//
// shared is true for a caller that joined a call in flight, and for the
// caller that started the call when anyone joined it. Every caller of one
// call receives the same value and the same error.
//
// When fn panics, Do panics in every caller with the same [*PanicError]. When
// fn calls runtime.Goexit, every caller gets [ErrGoexit], except that when fn
// ran on the caller's own goroutine that goroutine ends, as runtime.Goexit
// makes it. In both cases the key is free again before any caller hears of
// it.
//
// A key that Go cannot hash gets an error wrapping [ErrUnhashableKey], and fn
// does not run. A key that does not equal itself (a NaN, or a value holding
// one) can never be joined: fn runs for that caller alone, and nothing of the
// call is left behind when it ends.
func (g *Group[K, V]) Do(ctx context.Context, key K, fn func(context.Context) (V, error)) (v V, err error, shared bool) {
	if err := ctx.Err(); err != nil {
		return v, err, false
	}
	if fn == nil {
		return v, errNilFunc, false
	}
	listable, err := g.checkKey(key)
	if err != nil {
		return v, err, false
	}
	mayEnd := ctx.Done() != nil

	g.mu.Lock()
	var c *call[K, V]
	joined := false
	if listable {
		c, joined = g.lookup(key)
	}
	switch {
	case joined:
		c.joiners++
		if c.task != nil {
			c.refs.Add(1)
		}
		if !mayEnd {
			if c.finished == nil && !c.usesWG {
				// A call Claim started has no WaitGroup to wait on.
				c.finished = make(chan struct{})
			}
			finished := c.finished
			g.mu.Unlock()
			if finished != nil {
				<-finished
			} else {
				c.wg.Wait()
			}
			break
		}
		if c.finished == nil {
			c.finished = make(chan struct{})
		}
		g.mu.Unlock()
		select {
		case <-c.finished:
		case <-ctx.Done():
			g.release(c)
			return v, ctx.Err(), true
		}
	case !mayEnd:
		// Nothing can make this caller leave: run fn here, with no
		// hand-off. A Goexit in fn ends this goroutine inside run, after
		// the waiters are released.
		c = g.newCall(key, listable, false)
		g.mu.Unlock()
		g.run(ctx, key, c, fn)
	default:
		// This caller may leave while fn goes on, so fn cannot run on
		// its goroutine: it runs on a new one, with a call taken from the
		// spare ones. The channel and fn's context are new for every call:
		// a channel made inside a testing/synctest bubble must never be
		// used outside it, and fn may keep its context after it returns.
		c = g.reusableCall(key, listable)
		c.finished = make(chan struct{})
		g.mu.Unlock()
		// Only the goroutine started below reads the task, so it is set
		// without holding mu. fn may keep its context after it returns, by
		// when the call may serve another caller: the context is fn's own.
		c.task.fn = fn
		c.task.ctx = &detachedCtx{parent: ctx}
		go c.task.start()
		select {
		case <-c.finished:
		case <-ctx.Done():
			g.release(c)
			return v, ctx.Err(), false
		}
	}
	// joiners stopped changing when the call left the Group, which happened
	// before the call was released.
	v, err, panicked := c.val, c.err, c.panicked
	shared = joined || c.joiners > 0
	g.release(c)
	if panicked {
		panic(err)
	}
	return v, err, shared
}

// DoChan is like Do but returns at once with a channel that receives the
// Result. The channel is buffered: nobody has to read it, and it receives
// exactly one Result and is never closed. fn always runs on a new goroutine,
// with ctx itself when ctx can never end, and otherwise with a context that
// keeps ctx's values but not its deadline or cancellation.
//
// When ctx ends before the call does, the channel receives Result{Err:
// ctx.Err()} at once and the call goes on for the others. A panic in fn is
// delivered as a Result whose Err is the *PanicError, never re-raised. A key
// Go cannot hash gets Result{Err: an error wrapping ErrUnhashableKey}; a key
// that does not equal itself runs fn unshared, as for Do.
func (g *Group[K, V]) DoChan(ctx context.Context, key K, fn func(context.Context) (V, error)) <-chan Result[V] {
	ch, _ := g.DoChanStarted(ctx, key, fn)
	return ch
}

// DoChanStarted is DoChan that also reports whether this call started fn for
// key (true) or joined the call already in flight or started nothing because
// of an error (false). Code that does many keys at once uses it to learn,
// when the call returns, which keys are its own to do.
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
	listable, err := g.checkKey(key)
	if err != nil {
		out <- Result[V]{Err: err}
		return out, false
	}
	mayEnd := ctx.Done() != nil

	g.mu.Lock()
	var c *call[K, V]
	joined := false
	if listable {
		c, joined = g.lookup(key)
	}
	if joined {
		c.joiners++
		if c.task != nil {
			c.refs.Add(1) // never given back: the watch below reads c
		}
	} else {
		c = g.newCall(key, listable, false)
		fctx := ctx
		if mayEnd {
			fctx = &detachedCtx{parent: ctx}
		}
		// run's finish takes mu, so it sees the waiter added below.
		go g.run(fctx, key, c, fn)
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
func (g *Group[K, V]) dropWaiter(c *call[K, V], w *chanWaiter[V]) bool {
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

// newCall records a new call for key, in the Group when listable. Unless
// claimed, the call is released through its WaitGroup, and gets a channel
// only when a caller who can leave joins it. A claimed call (one Claim
// started) has neither: it gets a channel only when somebody has to block on
// it. g.mu must be held.
func (g *Group[K, V]) newCall(key K, listable, claimed bool) *call[K, V] {
	c := &call[K, V]{listed: listable, claimed: claimed}
	if !claimed {
		c.usesWG = true
		c.wg.Add(1)
	}
	g.record(key, c)
	return c
}

// closedChan is the channel a caller gets to block on for a call that has
// been released already.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// finishedChan returns a channel that is closed when c is released: c's own,
// made now if it has none yet and has not been released, or closedChan once
// it has.
func (g *Group[K, V]) finishedChan(c *call[K, V]) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.state.Load() == callReleased {
		return closedChan
	}
	if c.finished == nil {
		c.finished = make(chan struct{})
	}
	return c.finished
}

// lookup returns the call in flight for key, if any. key must equal itself.
// g.mu must be held.
func (g *Group[K, V]) lookup(key K) (*call[K, V], bool) {
	if g.one != nil && g.oneKey == key {
		return g.one, true
	}
	if len(g.calls) == 0 {
		return nil, false
	}
	c, ok := g.calls[key]
	return c, ok
}

// record makes c the call in flight for key when c.listed. No call for key
// may be in flight. g.mu must be held.
func (g *Group[K, V]) record(key K, c *call[K, V]) {
	switch {
	case !c.listed:
	case g.one == nil:
		g.one, g.oneKey = c, key
	default:
		if g.calls == nil {
			g.calls = make(map[K]*call[K, V])
		}
		g.calls[key] = c
	}
}

// remove takes c, the call in flight for key, out of the Group, so that
// the next call for key starts afresh. g.mu must be held.
func (g *Group[K, V]) remove(key K, c *call[K, V]) {
	c.listed = false
	if g.one == c {
		var zero K
		g.one, g.oneKey = nil, zero // keep no reference to the key
		return
	}
	delete(g.calls, key)
}

// reusableCall records a call for key taken from the spare ones, or a new
// one, with a reference for its caller and one for its goroutine. Its
// finished, fn and ctx are still to be set. g.mu must be held.
func (g *Group[K, V]) reusableCall(key K, listable bool) *call[K, V] {
	c := g.last.Swap(nil)
	if c == nil {
		c, _ = g.spare.Get().(*call[K, V])
	}
	if c == nil {
		c = &call[K, V]{task: new(task[K, V])}
		c.task.start = func() { g.runReusable(c) }
	}
	c.listed, c.task.key = listable, key
	c.refs.Store(2)
	g.record(key, c)
	return c
}

// runReusable runs a reusable call on its own goroutine, then gives back
// the goroutine's reference, however fn ended.
func (g *Group[K, V]) runReusable(c *call[K, V]) {
	defer g.release(c)
	g.run(c.task.ctx, c.task.key, c, c.task.fn)
}

// release gives back a reference to c, and keeps c for reuse (in last, or
// else in spare) when that was the last one. It does nothing for a call
// that is not reusable.
func (g *Group[K, V]) release(c *call[K, V]) {
	if c.task == nil || c.refs.Add(-1) != 0 {
		return
	}
	// Nobody else holds c: it left the Group before its goroutine gave its
	// reference back, and every party that found it there took one.
	var zeroK K
	var zeroV V
	c.val, c.err, c.panicked = zeroV, nil, false
	c.state.Store(callRunning)
	c.joiners, c.finished, c.chans, c.note = 0, nil, nil, nil
	c.task.key, c.task.fn, c.task.ctx = zeroK, nil, nil
	if !g.last.CompareAndSwap(nil, c) {
		g.spare.Put(c)
	}
}

// run calls fn and hands its outcome to the waiters, whichever way fn ends:
// by returning, by panicking or by runtime.Goexit.
func (g *Group[K, V]) run(ctx context.Context, key K, c *call[K, V], fn func(context.Context) (V, error)) {
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

// The states of a call (call.state).
const (
	callRunning  = iota // fn or the claimant's work is under way
	callEnded           // Finish has been called; the result is being written
	callReleased        // the result is written and the call has left the Group
)

// finish frees the key, then releases the waiters. c's result must be
// written.
func (g *Group[K, V]) finish(key K, c *call[K, V]) {
	g.mu.Lock()
	if c.listed {
		// c is still the call in flight for key: Forget would have
		// cleared listed.
		g.remove(key, c)
	}
	chans := c.chans
	c.chans = nil
	// Nobody can find c any more, and from now on finishedChan makes no
	// channel for it, so finished stays as it is: close it without
	// holding mu, which waking many joiners would hold for long.
	c.state.Store(callReleased)
	finished := c.finished
	g.mu.Unlock()
	if finished != nil {
		close(finished)
	}
	if c.usesWG {
		c.wg.Done()
	}

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
// call for key in place. Forget of a key Go cannot hash, or of one that does
// not equal itself, does nothing: no call for it is ever in flight.
func (g *Group[K, V]) Forget(key K) {
	if listable, err := g.checkKey(key); err != nil || !listable {
		return
	}
	g.mu.Lock()
	if c, ok := g.lookup(key); ok {
		// remove clears c.listed, so that c, when it ends, leaves any
		// newer call for key in place.
		g.remove(key, c)
	}
	g.mu.Unlock()
}

// ForgetAll is Forget of every key in flight: the next call for any key
// starts afresh. The calls in flight go on as Forget leaves them.
func (g *Group[K, V]) ForgetAll() {
	g.mu.Lock()
	if g.one != nil {
		g.remove(g.oneKey, g.one)
	}
	for key, c := range g.calls {
		g.remove(key, c)
	}
	g.mu.Unlock()
}

// Wrap returns fn with duplicate suppression: concurrent calls with the same
// key run fn once and share its result, as with [Group.Do], whose contract,
// errors included, it keeps. It is the decorator form of Do.
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
