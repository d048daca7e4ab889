package flightcache

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// This file is a fill's job: the keys and calls of one fill, the pipeline
// that runs it, and its end, at the deadline or when the pipeline returns.

// job is one fill of one or more keys. Its pipeline and its timer share it;
// when both are done with it, it serves another fill (see newJob).
type job[K comparable, V any] struct {
	f         *filler[K, V]
	src       source[K, V]
	keys      []K
	tickets   []ticket[K, V]
	replacing []Deadline
	force     bool
	onEnd     func(keys []K, errs []error)
	throttled bool // a failed load blocks its key in the throttle
	inline    bool // the fill runs on its caller's goroutine
	refresh   bool // a refresh: readers are served the stored value meanwhile

	// ctx is the context of the fill's Store calls, leases, loads and
	// writes (see fillctx.go), which ends at the fill's deadline,
	// LoadTimeout after it began; it reaches the load hooks.
	ctx        *fillCtx[K, V]
	expiry     *time.Timer // runs expireFunc at the deadline; kept for the job's next fill (see arm)
	bubbled    bool        // expiry was made inside a testing/synctest bubble
	expireFunc func()      // expire, bound once per job
	refs       atomic.Int32

	// one holds the slices of a fill of one key, so that it needs no
	// allocation of its own.
	one struct {
		key    [1]K
		ticket [1]ticket[K, V]
		kw     [1]*keyWrites
		gen    [1]uint64
		all    [1]int
		found  [1]lookup[V]
		out    [1]outcome[V]
		entry  [1]Entry[V]
		write  [1]bool
		prev   [1]lookup[V]
	}
	// also holds more tickets of keys of the fill: a Batcher's window that
	// got a key twice (it was invalidated while queued, then missed again)
	// loads it once, for both (rule 14: a key appears at most once in any
	// call of a BatchLoadFunc).
	also []alsoTicket[K, V]

	kws      []*keyWrites // the write order of each key
	gens     []uint64     // each key's generation when the fill began
	versions []Version    // over a Fencer, each key's Version when the fill last looked
	expired  atomic.Bool  // the deadline passed and finished the keys left
	calling  atomic.Int32 // keys whose call of the source is under way (rule 15: only those count as loads)
	// sourceExited: the source called runtime.Goexit (not a Store or a
	// Recorder): the keys it left count as a failed load.
	sourceExited atomic.Bool
	// writePanic holds the error of a write that panicked: onEnd reports it
	// for the keys that got their values all the same, so that a refresh
	// whose Store panics counts as failed.
	writePanic atomic.Pointer[error]
	over       atomic.Bool // the fill has ended for Close and onEnd
	// unregistered: the keys' registrations in the write order have ended
	// (see unregister); set by the pipeline once the timer cannot run, or
	// by the last reference.
	unregistered bool

	// The load hooks' state (see loadhooks.go), guarded by ctx.hooks.
	prev     []lookup[V]   // what the Store held for each key when the fill looked; nil: nothing yet
	policies []EntryPolicy // set by SetPolicy; nil until the first
	set      []bool        // which policies are set
	index    map[K]int     // each key's index, built for fills of many keys on the first hook call
}

// run is the pipeline. Whatever happens in it (a panic in a Store or a
// Recorder, a load calling runtime.Goexit), every key gets a result.
func (j *job[K, V]) run() {
	defer j.unref()
	defer j.ctx.detach()
	defer j.end()
	defer func() {
		if j.expiry.Stop() {
			// expire will not run: nothing touches the keys' write
			// order from now on, and their registrations end before
			// the fill does (Close and Wait see none left).
			j.unregister()
			j.unref() // the timer's
		}
		j.ctx.end(ctxCanceled)
	}()
	normal := false
	defer func() {
		if normal {
			return
		}
		j.recovered(recover(), nil)
	}()

	all := j.one.all[:]
	if len(j.keys) > 1 {
		all = make([]int, len(j.keys))
		for i := range all {
			all[i] = i
		}
	}
	if j.f.view.fenced() {
		j.versions = make([]Version, len(j.keys))
	}
	// A forced fill (Loader.Refresh) looks too, for the entry it replaces
	// (Previous) and the Versions, but loads whatever it finds.
	todo := j.lookAgain(all)
	if len(todo) > 0 {
		if j.f.view.leases() {
			j.leaseAndLoad(todo)
		} else {
			j.load(todo)
		}
	}
	for i, t := range j.tickets {
		if !t.Ended() {
			j.finish(i, Entry[V]{}, fmt.Errorf("flightcache: fill of %s ended without a result", j.describe()))
		}
	}
	normal = true
}

// describe names the keys of the fill in errors.
func (j *job[K, V]) describe() string {
	if len(j.keys) == 1 {
		return fmt.Sprintf("key %v", j.keys[0])
	}
	return fmt.Sprintf("%d keys", len(j.keys))
}

// finish gives key i its result, unless it has one already, and tells the
// throttle how its load went.
func (j *job[K, V]) finish(i int, e Entry[V], err error) {
	if j.tickets[i].Ended() {
		return
	}
	// Told before the callers hear of it, so that none of them starts a
	// load the throttle would hold back.
	switch {
	case !refreshFailed(err):
		j.f.throttle.succeeded(j.keys[i])
	case j.throttled:
		j.f.throttle.failed(j.keys[i], err, j.f.clock.now())
	}
	j.tickets[i].Finish(e, err)
	if err == errPrivate {
		// A copy of the key's call is another caller's: it loads alone.
		e, err = Entry[V]{}, errReload
	}
	for _, a := range j.also {
		if a.i == i {
			a.t.Finish(e, err)
		}
	}
}

// alsoTicket is one more ticket of key i of a fill, finished with it.
type alsoTicket[K comparable, V any] struct {
	i int
	t ticket[K, V]
}

// recovered handles a pipeline goroutine that is unwinding from a panic
// with value p, or from runtime.Goexit (p nil), while it worked on the keys
// at idx (nil: every key): those that have no result yet get an error; a
// Goexit counts as a failed load; a panic is counted, and logged when no key
// was left to hear of it.
func (j *job[K, V]) recovered(p any, idx []int) {
	var err error
	if p != nil {
		err = fmt.Errorf("flightcache: fill of %s: %w", j.describe(), newPanicError(p))
	} else {
		err = fmt.Errorf("flightcache: fill of %s: %w", j.describe(), singleflight.ErrGoexit)
	}
	var left []int
	pick := func(i int) {
		if !j.tickets[i].Ended() {
			left = append(left, i)
		}
	}
	if idx == nil {
		for i := range j.keys {
			pick(i)
		}
	}
	for _, i := range idx {
		pick(i)
	}
	// Deferred, so that a Recorder that calls runtime.Goexit here (contain
	// stops only panics) does not leave the keys without a result, their
	// calls in flight for ever.
	defer func() {
		for _, i := range left {
			j.finish(i, Entry[V]{}, err)
		}
	}()
	// Counted before the keys hear of it, so that their callers see the
	// count.
	switch {
	case p == nil && j.sourceExited.Load():
		j.f.rep.contain("Recorder", func() { j.f.rep.recordLoad(0, len(left), err) })
	case p == nil:
	case len(left) == 0:
		j.f.rep.panicked("a Store, Recorder or lease", p)
	default:
		j.f.rep.contain("Recorder", func() { j.f.rep.record(stats.Panic) })
	}
}

// expire runs when the fill's context ends. At the deadline it gives the
// keys still waiting an error wrapping ErrLoadTimeout and ends the fill for
// Close: a load that ignores its context may go on, but its result is
// dropped.
func (j *job[K, V]) expire() {
	// A load that returns late must not write over the fill that a caller
	// may start now: its write order moves on without it, before the keys
	// are freed.
	for _, kw := range j.kws {
		kw.advance()
	}
	var left []int
	for i, t := range j.tickets {
		if !t.Ended() {
			left = append(left, i)
		}
	}
	// Only keys whose source was called count as loads that timed out
	// (rule 15): not those still waiting for a lease or a Store read.
	n := min(int(j.calling.Load()), len(left))
	defer j.unref()
	// Whatever the pipeline is stuck in (a load, a Store call, a lease's
	// release), the fill is over for Close at its deadline: deferred, so
	// that a Recorder that calls runtime.Goexit (contain stops only panics)
	// does not keep it live for ever.
	defer j.end()
	// The callers are answered first, so that a Recorder that blocks holds
	// none of them, nor later callers of the keys, which start new fills.
	for _, i := range left {
		err := fmt.Errorf("%w after %v (key %v): %w", ErrLoadTimeout, j.f.timeout, j.keys[i], context.DeadlineExceeded)
		j.finish(i, Entry[V]{}, err)
	}
	// Set once every key has its result: a pipeline that sees it has
	// nothing left to give.
	j.expired.Store(true)
	// The context ends only now, so that a load that returns as soon as it
	// sees its deadline finds its keys answered already: at the deadline,
	// the callers get the timeout, whatever the load returns.
	j.ctx.end(ctxDeadline)
	if n > 0 {
		j.f.rep.contain("Recorder", func() {
			j.f.rep.recordLoad(j.f.timeout, n, ErrLoadTimeout)
		})
	}
}

// end ends the fill for Close and onEnd, once: when the pipeline returns,
// or when the deadline gave every key its result.
func (j *job[K, V]) end() {
	if !j.over.CompareAndSwap(false, true) {
		return
	}
	defer j.f.jobs.done()
	if j.onEnd == nil {
		return
	}
	errs := make([]error, len(j.tickets))
	for i, t := range j.tickets {
		_, errs[i], _ = t.Wait(context.Background()) // every ticket has its result
		if p := j.writePanic.Load(); p != nil && errs[i] == nil {
			errs[i] = *p
		}
	}
	j.onEnd(j.keys, errs)
}

// keysNamed names the keys at idx in errors and logs: the key itself for
// one, their slice for more.
func (j *job[K, V]) keysNamed(idx []int) any {
	if len(idx) == 1 {
		return j.keys[idx[0]]
	}
	return j.keysAt(idx)
}

// indexSlice returns a slice holding i alone, with no allocation for a fill
// of one key.
func (j *job[K, V]) indexSlice(i int) []int {
	if len(j.keys) == 1 {
		j.one.all[0] = i
		return j.one.all[:]
	}
	return []int{i}
}

// keysAt returns a new slice of the keys at idx.
func (j *job[K, V]) keysAt(idx []int) []K {
	keys := make([]K, len(idx))
	for n, i := range idx {
		keys[n] = j.keys[i]
	}
	return keys
}
