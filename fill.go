package flightcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// This file is the fill pipeline: the one way a key is loaded, for
// GetOrLoad, GetOrLoadMany and every kind of refresh alike. A fill looks at
// the Store again, leases over a Leaser, loads under LoadTimeout, turns
// panics into errors, builds entries with the policy, records statistics and
// writes in per-key order, for one key or many.

// maxLeaseRounds bounds how often a fill asks for a lease that another
// instance holds, looking at the Store between asks; Lease waits for the
// holder each time, so a fleet needs two or three.
const maxLeaseRounds = 100

var errLeaseSpins = errors.New("flightcache: Leaser.Lease keeps answering that another instance holds the lease, without waiting for it")

// batchWorkers bounds the calls of a BatchLoadFunc that one fill runs at
// once when MaxBatch splits its keys, so that a fill of any number of keys
// costs a bounded number of goroutines.
const batchWorkers = 4

// Ticket is the part a caller has in the fill of one key.
type ticket[K comparable, V any] = singleflight.Ticket[K, Entry[V]]

// filler runs fills. Its state is the singleflight group, in which each key
// being filled has a call that callers join, the write order, and the
// fills running, which Close waits for. Safe for concurrent use.
type filler[K comparable, V any] struct {
	store    Store[K, V]
	batch    BatchStore[K, V]  // store, when it is one
	leaser   Leaser[K, V]      // store, when it is one
	bleaser  BatchLeaser[K, V] // store, when it is one
	fencer   Fencer[K, V]      // store, when it is one
	bfencer  BatchFencer[K, V] // store, when it is one
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
	replacing []time.Time
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
	j.throttled, j.inline = o.background || f.throttle.callers, o.inline
	j.ctx = &fillCtx[K, V]{job: j}
	j.ctx.begin(ctx, time.Now().Add(f.timeout))
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
	j.expiry = time.AfterFunc(f.timeout, j.expireFunc)
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
// and the job to the filler's spare ones with the last.
func (j *job[K, V]) unref() {
	if j.refs.Add(-1) != 0 {
		return
	}
	f, expire := j.f, j.expireFunc
	*j = job[K, V]{expireFunc: expire}
	f.spare.Put(j)
}

// job is one fill of one or more keys. Its pipeline and its timer share it;
// when both are done with it, it serves another fill (see newJob).
type job[K comparable, V any] struct {
	f         *filler[K, V]
	src       source[K, V]
	keys      []K
	tickets   []ticket[K, V]
	replacing []time.Time
	force     bool
	onEnd     func(keys []K, errs []error)
	throttled bool // a failed load blocks its key in the throttle
	inline    bool // the fill runs on its caller's goroutine

	// ctx is the context of the fill's Store calls, leases, loads and
	// writes (see fillctx.go), which ends at the fill's deadline,
	// LoadTimeout after it began; it reaches the load hooks.
	ctx        *fillCtx[K, V]
	expiry     *time.Timer // runs expireFunc at the deadline
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
			j.unref() // the timer's: expire will not run
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

	defer func() {
		for _, k := range j.keys {
			j.f.writes.end(k)
		}
	}()

	all := j.one.all[:]
	if len(j.keys) > 1 {
		all = make([]int, len(j.keys))
		for i := range all {
			all[i] = i
		}
	}
	if j.f.fencer != nil {
		j.versions = make([]Version, len(j.keys))
	}
	// A forced fill (Loader.Refresh) looks too, for the entry it replaces
	// (Previous) and the Versions, but loads whatever it finds.
	todo := j.lookAgain(all)
	if len(todo) > 0 {
		if j.f.leaser != nil {
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
	// Deferred, so that a Recorder that calls runtime.Goexit (contain
	// stops only panics) does not leave the keys without their timeout and
	// the context live for ever.
	defer j.unref()
	defer func() {
		for _, i := range left {
			err := fmt.Errorf("%w after %v (key %v): %w", ErrLoadTimeout, j.f.timeout, j.keys[i], context.DeadlineExceeded)
			j.finish(i, Entry[V]{}, err)
		}
		// Set once every key has its result: a pipeline that sees it
		// has nothing left to give.
		j.expired.Store(true)
		// The context ends only now, so that a load that returns as
		// soon as it sees its deadline finds its keys answered already:
		// at the deadline, the callers get the timeout, whatever the
		// load returns.
		j.ctx.end(ctxDeadline)
		// Whatever the pipeline is stuck in (a load, a Store call, a
		// lease's release), the fill is over for Close at its deadline.
		j.end()
	}()
	// Only keys whose source was called count as loads that timed out
	// (rule 15): not those still waiting for a lease or a Store read.
	// Counted before the keys hear of it, so that their callers see the
	// count.
	if n := min(int(j.calling.Load()), len(left)); n > 0 {
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

// lookAgain reads the keys at idx from the Store, gives each key that has
// an entry the fill need not replace that entry, and returns the others. A
// fill that ended just before this one began may have stored the entry after
// the callers of this one missed it, and another instance of a fleet may
// have stored it while this one waited for its lease.
func (j *job[K, V]) lookAgain(idx []int) []int {
	var found []lookup[V]
	if len(j.keys) == 1 {
		found = j.one.found[:]
		j.f.readInto(j.ctx, j.keys, true, found)
	} else {
		found = j.f.read(j.ctx, j.keysAt(idx), true)
	}
	now := j.f.clock.exactNow()
	todo := idx[:0] // filtered in place: idx is the caller's to give up
	for n, i := range idx {
		e, ok := found[n].e, found[n].ok
		if j.versions != nil {
			// The load that follows reads the source after this look:
			// its result may replace what the Store held then, and
			// nothing written since (rule 9).
			j.versions[i] = found[n].v
		}
		if ok && !e.ExpiresAt.IsZero() && !isBefore(now, e.ExpiresAt) {
			// Past its ExpiresAt, an entry is never served, nor kept for
			// Previous: a Store may return one it has not dropped yet.
			ok = false
			found[n].ok = false
		}
		j.remember(i, &found[n])
		if ok && !j.force && j.usable(i, &e, now) {
			var err error
			if e.Missing {
				err = ErrNotFound
			}
			j.finish(i, e, err)
			continue
		}
		todo = append(todo, i)
	}
	return todo
}

// usable reports whether e, found in the Store at now, answers key i.
func (j *job[K, V]) usable(i int, e *Entry[V], now int64) bool {
	switch judge(j.f.policy, e, now, noRefresh) {
	case verdictFresh, verdictRefreshEarly, verdictMissing:
		return j.replacing == nil || !e.FreshUntil.Equal(j.replacing[i])
	}
	return false
}

// noRefresh stands in for the random draw of early refresh where only
// freshness matters.
func noRefresh() float64 { return 0 }

// lookup is what the Store holds for one key.
type lookup[V any] struct {
	e  Entry[V]
	ok bool
	v  Version // the key's Version, over a Fencer
}

// read reads keys from the Store, in one call when it is a BatchStore and
// there is more than one key, and returns what it holds for each, in the
// order of keys. A failed read reads as misses, counted and logged. A fill's
// read (byFill) also reads each key's Version over a Fencer, in the same
// round trip; a caller's read waits for its log line as long as ctx allows
// (see reporter.warn).
func (f *filler[K, V]) read(ctx context.Context, keys []K, byFill bool) []lookup[V] {
	out := make([]lookup[V], len(keys))
	f.readInto(ctx, keys, byFill, out)
	return out
}

// readInto is read into out, which has the length of keys.
func (f *filler[K, V]) readInto(ctx context.Context, keys []K, byFill bool, out []lookup[V]) {
	wait := !byFill
	if f.fencer != nil && byFill {
		f.readVersioned(ctx, keys, wait, out)
		return
	}
	if f.batch != nil && len(keys) > 1 {
		found, err := f.batch.GetMany(ctx, slices.Clone(keys)) // a Store may change the slice
		if err != nil {
			f.rep.storeFailed(ctx, wait, "get", slices.Clone(keys), err)
			return
		}
		for n, k := range keys {
			out[n].e, out[n].ok = found[k]
		}
		return
	}
	for n, k := range keys {
		e, ok, err := f.store.Get(ctx, k)
		if err != nil {
			f.rep.storeFailed(ctx, wait, "get", k, err)
			continue
		}
		out[n] = lookup[V]{e: e, ok: ok}
	}
}

// readVersioned is read over a Fencer: it also reads each key's Version, in
// the same round trip.
func (f *filler[K, V]) readVersioned(ctx context.Context, keys []K, wait bool, out []lookup[V]) {
	if f.bfencer != nil && len(keys) > 1 {
		found, versions, err := f.bfencer.GetManyVersioned(ctx, slices.Clone(keys))
		if err != nil {
			f.rep.storeFailed(ctx, wait, "get", slices.Clone(keys), err)
			return
		}
		for n, k := range keys {
			out[n].e, out[n].ok = found[k]
			out[n].v = versions[k]
		}
		return
	}
	for n, k := range keys {
		e, ok, v, err := f.fencer.GetVersioned(ctx, k)
		if err != nil {
			f.rep.storeFailed(ctx, wait, "get", k, err)
			continue
		}
		out[n] = lookup[V]{e, ok, v}
	}
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

// leaseAndLoad loads the keys at idx holding the fleet-wide lease of each
// (rule 10). Over a BatchLeaser it first takes, in one round trip, the
// leases that no other instance holds and loads those keys together; then,
// holding nothing, it waits for the others one by one, so that two
// instances holding different parts of one batch never wait on each other.
// Over a plain Leaser every key is leased and loaded on its own. When the
// Store fails to lease, the fill loads anyway: a fleet with its shared tier
// down loads once per instance rather than not at all.
func (j *job[K, V]) leaseAndLoad(idx []int) {
	if j.f.bleaser != nil && len(idx) > 1 {
		keys := j.keysAt(idx)
		taken, release, err := j.f.bleaser.LeaseMany(j.ctx, keys)
		if err != nil {
			if release != nil {
				j.release(release)
			}
			j.leaseFailed(keys, err)
			j.load(idx)
			return
		}
		held := make(map[K]bool, len(taken))
		for _, k := range taken {
			held[k] = true
		}
		var mine, others []int
		for n, i := range idx {
			if held[keys[n]] {
				mine = append(mine, i)
			} else {
				others = append(others, i)
			}
		}
		if len(mine) > 0 {
			func() {
				if release != nil {
					defer j.release(release)
				}
				// Another instance may have stored some keys and
				// released their leases since this fill looked.
				if todo := j.lookAgain(mine); len(todo) > 0 {
					j.load(todo)
				}
			}()
		} else if release != nil {
			j.release(release)
		}
		idx = others
	}
	for _, i := range idx {
		j.waitLease(i)
	}
}

// waitLease loads key i under its lease, waiting while another instance
// holds it; when that instance stores the entry, key i gets it instead.
func (j *job[K, V]) waitLease(i int) {
	for round := 0; j.ctx.Err() == nil; round++ {
		if round == maxLeaseRounds {
			// A Leaser that answers "held elsewhere" without waiting
			// would spin here until the deadline.
			j.leaseFailed(j.keys[i], errLeaseSpins)
			j.load([]int{i})
			return
		}
		release, err := j.f.leaser.Lease(j.ctx, j.keys[i])
		if err != nil {
			if j.ctx.Err() != nil {
				return // the deadline gives the key its error
			}
			j.leaseFailed(j.keys[i], err)
			j.load([]int{i})
			return
		}
		if release != nil {
			defer j.release(release)
			if len(j.lookAgain(j.indexSlice(i))) > 0 {
				j.load([]int{i})
			}
			return
		}
		if len(j.lookAgain(j.indexSlice(i))) == 0 {
			return
		}
	}
}

// release calls a lease's release function, on a goroutine of its own when
// the fill runs on its caller's (inline): the caller has its result by then,
// and a release that blocks must not hold it.
func (j *job[K, V]) release(release func()) {
	if j.inline {
		// Close waits for the release, as for any fill's, up to the
		// fill's deadline. The goroutine does not keep the job, which
		// another fill may reuse by then.
		f := j.f
		f.jobs.add()
		var once sync.Once
		done := func() { once.Do(f.jobs.done) }
		timer := time.AfterFunc(time.Until(j.ctx.deadline), done)
		go func() {
			defer done()
			defer timer.Stop()
			f.rep.contain("lease release", release)
		}()
		return
	}
	j.f.rep.contain("lease release", release)
}

func (j *job[K, V]) leaseFailed(keys any, err error) {
	j.f.rep.record(stats.StoreError)
	j.f.rep.warn(j.ctx, false, logLease, "flightcache: fleet-wide lease failed; loading without it", keys, err)
}

// load loads the keys at idx, in calls of at most MaxBatch keys for a batch
// source (at most batchWorkers at once), and stores and delivers the
// results.
func (j *job[K, V]) load(idx []int) {
	size := len(idx)
	if j.src.one != nil {
		size = 1
	} else if j.f.maxBatch > 0 {
		size = j.f.maxBatch
	}
	if size >= len(idx) {
		j.loadChunk(idx)
		return
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, batchWorkers)
	for chunk := range slices.Chunk(idx, size) {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			normal := false
			defer func() {
				if !normal {
					// A panic or Goexit on this goroutine; the
					// pipeline's own guard does not see it.
					j.recovered(recover(), chunk)
				}
			}()
			j.loadChunk(chunk)
			normal = true
		})
	}
	wg.Wait()
}

// outcome is what the source said of one key.
type outcome[V any] struct {
	v   V
	err error // nil: v was loaded; wrapping ErrNotFound: the key does not exist
}

// loadChunk makes one call of the source for the keys at idx, then writes
// and delivers the results.
func (j *job[K, V]) loadChunk(idx []int) {
	if j.ctx.Err() != nil {
		// The deadline passed while the fill read the Store or waited
		// for a lease: the source is never called with an ended context
		// (rule 3), and expire has answered the keys.
		return
	}
	sc := j.scopeOf(idx)
	start := time.Now()
	outs, err := j.callCounted(sc, idx)
	elapsed := time.Since(start)
	sc.seal() // what the load says from now on changes nothing
	if j.expired.Load() {
		return // the callers have the timeout; the result is dropped
	}
	switch {
	case err == nil:
	case isPanic(err):
		j.f.rep.contain("Recorder", func() { j.f.rep.record(stats.Panic) })
	case j.ctx.Err() == context.DeadlineExceeded:
		// A load that honours its context ends at the fill's deadline:
		// its callers learn it timed out, as those of a load that does not.
		err = fmt.Errorf("%w after %v (%s): %w", ErrLoadTimeout, j.f.timeout, j.describe(), err)
	}
	j.f.rep.contain("Recorder", func() { j.f.rep.recordLoad(elapsed, len(idx), err) })
	if err != nil {
		for _, i := range idx {
			j.finish(i, Entry[V]{}, err)
		}
		return
	}

	// Stamped by the system clock that judges entries, and never later
	// than the load returned: the pipeline may have been held since
	// (descheduled, or in a Recorder), and an entry's windows must not
	// outlast its value's age.
	loadedAt := time.Unix(0, min(j.f.clock.exactNow(), start.Add(elapsed).UnixNano()))
	entries, write := j.one.entry[:], j.one.write[:]
	if len(j.keys) > 1 {
		entries, write = make([]Entry[V], len(idx)), make([]bool, len(idx))
	}
	var stored []Entry[V] // what is written, when it differs from entries (NoStore)
	for n, i := range idx {
		p := j.policyOf(i)
		entries[n], outs[n].err, write[n] = j.build(i, p, outs[n], loadedAt, elapsed)
		j.sharing(i, p, &outs[n].err)
		if p.NoStore || p.Private {
			if stored == nil {
				stored = slices.Clone(entries)
			}
			// The result is not kept, and what the Store held is
			// dropped: it would otherwise be served stale in its place.
			_, had := j.previousOf(i)
			stored[n], write[n] = goneEntry[V](), had
		} else if stored != nil {
			stored[n] = entries[n]
		}
	}
	if stored == nil {
		stored = entries
	}
	j.write(idx, stored, write)
	for n, i := range idx {
		j.finish(i, entries[n], outs[n].err)
	}
}

// sharing applies what a Private policy p says of key i's result, whose
// error for its callers is *err: the result goes to the caller that started
// the call only (errPrivate), and callers of the key load alone until a load
// returns a result that can be shared (hit-for-pass).
func (j *job[K, V]) sharing(i int, p *EntryPolicy, err *error) {
	switch {
	case p.Private && (*err == nil || isNotFound(*err)):
		j.f.pass.mark(j.keys[i])
		*err = errPrivate
	case *err == nil || isNotFound(*err):
		j.f.pass.unmark(j.keys[i])
	}
}

// build returns the entry for key i under ep, whose load answered o at
// loadedAt after took, the error its callers get, and whether the entry is to be
// stored. A "not modified" answer keeps the previous entry's value (or its
// "not found") under the new policy.
func (j *job[K, V]) build(i int, ep *EntryPolicy, o outcome[V], loadedAt time.Time, took time.Duration) (e Entry[V], err error, store bool) {
	p := j.f.policy
	r := rand.Float64()
	if o.err != nil && errors.Is(o.err, ErrNotModified) {
		prev, ok := j.previousOf(i)
		switch {
		case !ok:
			return Entry[V]{}, fmt.Errorf("flightcache: load of key %v answered %w, but the Store held no entry to keep", j.keys[i], o.err), false
		case prev.Missing:
			o = outcome[V]{err: ErrNotFound}
		default:
			o = outcome[V]{v: prev.Value}
		}
		// The entry keeps the windows its source gave it, re-based at
		// now, unless this load set new ones (rule 14), and no jitter
		// shortens them again.
		if w, ok := windowsOf(&prev); ok && ep == &p.def {
			ep, r = &w, 1
		}
	}
	switch {
	case o.err == nil:
		return valueEntry(p, ep, o.v, loadedAt, took, r), nil, true
	case isNotFound(o.err):
		return missingEntry[V](p, ep, loadedAt, took, r), o.err, true
	}
	return Entry[V]{}, o.err, false
}

// callCounted is call, with the keys at idx counted in j.calling while the
// source has them, however the call ends (a runtime.Goexit included).
func (j *job[K, V]) callCounted(ctx scope, idx []int) (outs []outcome[V], err error) {
	n := int32(len(idx))
	j.calling.Add(n)
	returned := false
	defer func() {
		j.calling.Add(-n)
		if !returned {
			j.sourceExited.Store(true) // call recovers panics: this is a Goexit
		}
	}()
	outs, err = j.call(ctx, idx)
	returned = true
	return outs, err
}

// call calls the source for the keys at idx. An error fails every key; a
// panic in the source is an error wrapping *singleflight.PanicError. A batch
// source is given a copy of the keys, so that whatever it does with the
// slice (filter it in place, keep it), the fill reads its own keys back; a
// key missing from its answer does not exist.
func (j *job[K, V]) call(ctx scope, idx []int) (outs []outcome[V], err error) {
	defer func() {
		if p := recover(); p != nil {
			outs, err = nil, fmt.Errorf("flightcache: load of %s: %w", j.describe(), newPanicError(p))
		}
	}()
	if len(j.keys) == 1 {
		outs = j.one.out[:]
	} else {
		outs = make([]outcome[V], len(idx))
	}
	if j.src.one != nil {
		// A single-key source has chunks of one key.
		i := idx[0]
		v, err := j.src.one(ctx, j.keys[i])
		if err != nil && !isNotFound(err) && !errors.Is(err, ErrNotModified) {
			return nil, err
		}
		outs[0] = outcome[V]{v, err}
		return outs, nil
	}
	vals, err := j.src.many(ctx, j.keysAt(idx))
	if err != nil && errors.Is(err, ErrNotModified) {
		// The whole call answered "not modified": each key keeps its
		// previous entry.
		for n := range outs {
			outs[n].err = err
		}
		return outs, nil
	}
	if err != nil {
		return nil, err
	}
	for n, i := range idx {
		v, ok := vals[j.keys[i]]
		if !ok {
			outs[n].err = ErrNotFound
			continue
		}
		outs[n].v = v
	}
	return outs, nil
}

// write stores the entries of the keys at idx whose write is set, leaving
// out each key that a Set or Invalidate reached since the fill began (rule
// 8), in one call when the Store is a BatchStore. A Store error is counted
// and logged, not returned: the callers still get the loaded values.
func (j *job[K, V]) write(idx []int, entries []Entry[V], write []bool) {
	var kws []*keyWrites
	for n, i := range idx {
		if write[n] {
			kws = append(kws, j.kws[i])
		}
	}
	if len(kws) == 0 {
		return
	}
	if len(kws) == 1 {
		if kws[0].lock(j.ctx) != nil {
			return // the deadline passed; the key has its timeout
		}
		defer kws[0].unlock()
	} else {
		unlock, err := lockAll(j.ctx, kws)
		if err != nil {
			return // the deadline passed; the keys have their timeout
		}
		defer unlock()
	}
	if j.expired.Load() {
		return // the result is dropped: a newer fill may have begun
	}

	if j.f.fencer != nil {
		j.writeFenced(idx, entries, write)
		return
	}
	if j.f.batch == nil || len(kws) == 1 {
		for n, i := range idx {
			if write[n] && j.kws[i].current(j.gens[i]) {
				j.storeWrite(idx[n:n+1], func() error { return j.f.store.Set(j.ctx, j.keys[i], entries[n]) })
			}
		}
		return
	}
	many := make(map[K]Entry[V], len(kws))
	for n, i := range idx {
		if write[n] && j.kws[i].current(j.gens[i]) {
			many[j.keys[i]] = entries[n]
		}
	}
	if len(many) > 0 {
		j.storeWrite(idx, func() error { return j.f.batch.SetMany(j.ctx, many) })
	}
}

// writeFenced is write over a Fencer: each key is written only if its
// Version is still the one the fill read before it loaded, checked and
// written in one step inside the Store, so that a Set or Invalidate on any
// instance of a fleet wins over this fill (rule 9). The write tokens are
// held, as in write.
func (j *job[K, V]) writeFenced(idx []int, entries []Entry[V], write []bool) {
	if j.f.bfencer != nil && len(idx) > 1 {
		many := make(map[K]Entry[V], len(idx))
		versions := make(map[K]Version, len(idx))
		for n, i := range idx {
			if write[n] && j.kws[i].current(j.gens[i]) {
				many[j.keys[i]] = entries[n]
				versions[j.keys[i]] = j.versions[i]
			}
		}
		if len(many) > 0 {
			j.storeWrite(idx, func() error {
				_, err := j.f.bfencer.SetManyIfVersion(j.ctx, many, versions)
				return err
			})
		}
		return
	}
	for n, i := range idx {
		if write[n] && j.kws[i].current(j.gens[i]) {
			j.storeWrite(idx[n:n+1], func() error {
				_, err := j.f.fencer.SetIfVersion(j.ctx, j.keys[i], entries[n], j.versions[i])
				return err
			})
		}
	}
}

// storeWrite runs a write to the Store of the keys at idx. A write that
// fails, or panics, is a lost write, counted and logged: the callers still
// get the loaded values.
func (j *job[K, V]) storeWrite(idx []int, set func() error) {
	if err := j.guardWrite(idx, set); err != nil {
		j.f.rep.storeFailed(j.ctx, false, "set", j.keysNamed(idx), err)
	}
}

// guardWrite runs set, and turns a panic in it into an error.
func (j *job[K, V]) guardWrite(idx []int, set func() error) (err error) {
	defer j.recoverWrite(idx, &err)
	return set()
}

// recoverWrite is guardWrite's deferred call: it recovers a panic of the
// write of the keys at idx into *err, and keeps it for onEnd.
func (j *job[K, V]) recoverWrite(idx []int, err *error) {
	p := recover()
	if p == nil {
		return
	}
	e := fmt.Errorf("flightcache: store write of %v: %w", j.keysNamed(idx), newPanicError(p))
	*err = e
	j.writePanic.Store(&e)
	j.f.rep.contain("Recorder", func() { j.f.rep.record(stats.Panic) })
}

// keysNamed names the keys at idx in errors and logs: the key itself for
// one, their slice for more.
func (j *job[K, V]) keysNamed(idx []int) any {
	if len(idx) == 1 {
		return j.keys[idx[0]]
	}
	return j.keysAt(idx)
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
