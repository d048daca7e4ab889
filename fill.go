package flightcache

import (
	"bytes"
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"time"

	"github.com/flightcache/flightcache/singleflight"
)

// This file is the fill pipeline: the one way a key is loaded, for
// GetOrLoad, GetOrLoadMany and every kind of refresh alike. A fill looks at
// the Store again, leases over a Leaser, loads under LoadTimeout, turns
// panics into errors, builds entries with the policy, records statistics and
// writes in per-key order, for one key or many.

// Ticket is the part a caller has in the fill of one key.
type ticket[K comparable, V any] = singleflight.Ticket[K, Entry[V]]

// filler runs fills. Its state is the singleflight group, in which each key
// being filled has a call that callers join, the write order, and the
// fills running, which Close waits for. Safe for concurrent use.
type filler[K comparable, V any] struct {
	view     *storeView[K, V]
	policy   *policy
	throttle *throttle[K]
	clock    clock
	timeout  time.Duration
	maxBatch int
	rep      *reporter
	// keysMayFail: keys a load names to its hooks must be checked (see
	// keysMayFail).
	keysMayFail bool

	group  singleflight.Group[K, Entry[V]]
	pass   *passSet[K] // keys whose last result was private (hit-for-pass)
	writes *writeOrder[K]
	// spare holds jobs whose fill is over, for the next fill to reuse (see
	// newJob).
	spare sync.Pool

	mu     sync.RWMutex // guards closed against jobs.add
	closed bool
	jobs   counter // fills that have not ended
}

// source is what a fill loads from: one key at a time, or many at once.
type source[K comparable, V any] struct {
	one  LoadFunc[K, V]
	many BatchLoadFunc[K, V]
}

// claim takes, for each of keys, the call that fills it: a new one, which
// the caller must submit, or the one in flight, which it joins. started
// reports which. keys must be valid (see keyChecker).
func (f *filler[K, V]) claim(keys []K) (tickets []ticket[K, V], started []bool, err error) {
	tickets = make([]ticket[K, V], len(keys))
	started = make([]bool, len(keys))
	for i, k := range keys {
		tickets[i], started[i], err = f.group.Claim(k)
		if err != nil {
			// Cannot happen for checked keys; give back what was taken.
			for j := range i {
				if started[j] {
					tickets[j].Finish(Entry[V]{}, err)
				}
			}
			return nil, nil, err
		}
	}
	return tickets, started, nil
}

// forget makes the next caller of key start a new fill instead of joining
// the one in flight.
func (f *filler[K, V]) forget(key K) { f.group.Forget(key) }

// fillOptions are what a fill does beyond loading its keys.
type fillOptions[K comparable] struct {
	// replacing, when not nil, gives for each key the FreshUntil of an entry
	// that does not count as already refreshed (early refresh replaces
	// fresh entries).
	replacing []Deadline
	// force makes the fill load whatever the Store holds (Loader.Refresh).
	force bool
	// onEnd, when not nil, is called with each key's error once every key
	// has its result and the fill is over (or has timed out).
	onEnd func(keys []K, errs []error)
	// background marks a refresh, whose failures the throttle keeps even
	// when loads a caller waits for are not throttled.
	background bool
	// inline runs the fill on the caller's goroutine, and submit returns
	// once it has ended: for a caller that could not leave before the fill
	// ends anyway (its ctx can never end, and it has no SoftTimeout to
	// keep), which a hand-off to another goroutine would only slow down.
	// Other callers of its keys are still freed at the deadline.
	inline bool
}

// submit starts the fill of keys, whose calls the caller started with
// claim, on a goroutine of its own, and returns at once (or, inline, runs it
// and returns when it ends); the tickets receive the results. After Close,
// submit finishes the tickets with ErrClosed and returns it. The fill keeps
// keys; the caller must not change them afterwards.
func (f *filler[K, V]) submit(ctx context.Context, keys []K, tickets []ticket[K, V], src source[K, V], o fillOptions[K]) error {
	j := f.newJob()
	j.keys, j.tickets = keys, tickets
	return f.start(ctx, j, src, o)
}

// submitOne is submit of one key, whose slices the job holds itself.
func (f *filler[K, V]) submitOne(ctx context.Context, key K, t ticket[K, V], src source[K, V], o fillOptions[K]) error {
	j := f.newJob()
	j.one.key[0], j.one.ticket[0] = key, t
	j.keys, j.tickets = j.one.key[:], j.one.ticket[:]
	j.kws, j.gens = j.one.kw[:], j.one.gen[:]
	return f.start(ctx, j, src, o)
}

// start is submit of the job j, which holds its keys and tickets.
func (f *filler[K, V]) start(ctx context.Context, j *job[K, V], src source[K, V], o fillOptions[K]) error {
	f.mu.RLock()
	if f.closed {
		f.mu.RUnlock()
		for _, t := range j.tickets {
			t.Finish(Entry[V]{}, ErrClosed)
		}
		for _, a := range j.also {
			a.t.Finish(Entry[V]{}, ErrClosed)
		}
		return ErrClosed
	}
	f.jobs.add()
	f.mu.RUnlock()

	j.f, j.src = f, src
	j.replacing, j.force, j.onEnd = o.replacing, o.force, o.onEnd
	j.throttled, j.inline, j.refresh = o.background || f.throttle.callers, o.inline, o.background
	j.ctx = &fillCtx[K, V]{job: j}
	now := time.Now()
	j.ctx.begin(ctx, now.Add(f.timeout))
	// The fill's place in each key's write order is taken now, before its
	// deadline can pass.
	if j.kws == nil {
		j.kws = make([]*keyWrites, len(j.keys))
		j.gens = make([]uint64, len(j.keys))
	}
	for i, k := range j.keys {
		j.kws[i], j.gens[i] = f.writes.begin(k)
	}
	j.refs.Store(2) // the pipeline's and the timer's
	j.arm(now)
	if o.inline {
		j.run()
	} else {
		go j.run()
	}
	return nil
}

// close refuses new fills and waits, as long as ctx allows, for those
// running to end.
func (f *filler[K, V]) close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return f.wait(ctx)
}

// wait waits, as long as ctx allows, for a moment when no fill is running.
func (f *filler[K, V]) wait(ctx context.Context) error {
	select {
	case <-f.jobs.zero():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newJob returns a job ready for start: a spare one, or a new one. Jobs are
// reused because a miss would otherwise allocate one (most of a miss's
// bytes); nothing outside the fill keeps a job: its context, which loads,
// Stores and log handlers may keep, is its own (see fillCtx), and the job is
// given back only once both its pipeline and its timer are done with it
// (see unref).
func (f *filler[K, V]) newJob() *job[K, V] {
	if j, ok := f.spare.Get().(*job[K, V]); ok {
		return j
	}
	j := new(job[K, V])
	j.expireFunc = j.expire
	return j
}

// unref gives back a reference to j, held by its pipeline and by its timer,
// and the job to the filler's spare ones with the last. The timer, which
// has fired or been stopped by then, goes with it, for arm to set again.
func (j *job[K, V]) unref() {
	if j.refs.Add(-1) != 0 {
		return
	}
	j.unregister()
	f, expire, expiry, bubbled := j.f, j.expireFunc, j.expiry, j.bubbled
	*j = job[K, V]{expireFunc: expire, expiry: expiry, bubbled: bubbled}
	f.spare.Put(j)
}

// unregister ends the registrations of j's keys in the write order, once.
// It is called by the pipeline once it has stopped the timer, or else with
// the last reference (see unref): expire, which may run as the pipeline
// ends, advances them, and the write order reuses a key's state once
// nobody has registered it.
func (j *job[K, V]) unregister() {
	if j.unregistered {
		return
	}
	j.unregistered = true
	for _, k := range j.keys {
		j.f.writes.end(k)
	}
}

// arm sets j's timer to run expire at the fill's deadline, LoadTimeout
// after now: the timer of the fill the job served before, when there is one,
// so that a miss allocates none. A testing/synctest bubble (see inBubble)
// gets a timer of its own every time: a
// timer made in a bubble belongs to it, and may not be set from outside,
// nor one made outside from within.
func (j *job[K, V]) arm(now time.Time) {
	bubble := inBubble(now)
	if j.expiry != nil && !j.bubbled && !bubble {
		j.expiry.Reset(j.f.timeout)
		return
	}
	j.expiry, j.bubbled = time.AfterFunc(j.f.timeout, j.expireFunc), bubble
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// isPanic reports whether err stands for a panic.
func isPanic(err error) bool {
	var pe *singleflight.PanicError
	return errors.As(err, &pe)
}

// newPanicError wraps a recovered panic value with the stack of the
// goroutine that panicked, less its first line (which names a goroutine that
// is gone by the time anyone reads it), as package singleflight does.
func newPanicError(p any) *singleflight.PanicError {
	stack := debug.Stack()
	if i := bytes.IndexByte(stack, '\n'); i >= 0 {
		stack = stack[i+1:]
	}
	return &singleflight.PanicError{Value: p, Stack: stack}
}
