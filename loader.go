package flightcache

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// LoadFunc loads the value for key from the source. It returns ErrNotFound,
// wrapped or not, when the key does not exist there. ctx carries the values of
// the caller that started the load, not its cancellation, and ends after
// Options.LoadTimeout (context.DeadlineExceeded), or once the fill is over
// (context.Canceled): a load that keeps work going past its return must not
// keep ctx for it (context.WithoutCancel keeps its values).
type LoadFunc[K comparable, V any] func(ctx context.Context, key K) (V, error)

// Loader is a read-through cache in front of a slow source. GetOrLoad returns
// the value the Store holds for a key while it is fresh, and otherwise loads
// it once, however many callers miss at once, and stores the result.
//
// All methods are safe for concurrent use. A Loader must be closed with Close
// (or Shutdown) when it is no longer needed; Close does not close the Store.
type Loader[K comparable, V any] struct {
	view        storeView[K, V] // the Store, with its capabilities
	policy      policy
	clock       clock
	keysMayFail bool // keys must be checked at each call (see keysMayFail)
	closed      atomic.Bool
	loadTimeout time.Duration
	softTimeout time.Duration

	rep     *reporter
	writes  *writeOrder[K]
	fill    *filler[K, V]
	refresh *refresher[K, V]

	// unwatch stops the InvalidationLog's calls of applyInvalidation; nil
	// without a log.
	unwatch     func()
	unwatchOnce sync.Once
}

// New returns a Loader that keeps its entries in store. A nil opts means the
// zero Options. It returns an error naming the problem when store is nil
// (a nil interface or a nil pointer in one), or an option is not valid.
func New[K comparable, V any](store Store[K, V], opts *Options) (*Loader[K, V], error) {
	if isNil(store) {
		return nil, errNilStore
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	o, err := o.validate()
	if err != nil {
		return nil, err
	}
	l := &Loader[K, V]{
		view:        newStoreView(store),
		policy:      newPolicy(&o),
		clock:       newClock(),
		keysMayFail: keysMayFail[K](),
		loadTimeout: o.LoadTimeout,
		softTimeout: o.SoftTimeout,
		rep:         &reporter{rec: o.Recorder, tracer: o.Tracer, logger: o.Logger},
	}
	l.writes = newWriteOrder[K]()
	l.fill = &filler[K, V]{
		view:     &l.view,
		pass:     newPassSet[K](),
		policy:   &l.policy,
		throttle: newThrottle[K](o.FailureBackoff),
		clock:    l.clock,
		timeout:  o.LoadTimeout,
		maxBatch: o.MaxBatch,
		rep:      l.rep,
		writes:   l.writes,

		keysMayFail: l.keysMayFail,
	}
	l.refresh = newRefresher(l.fill, l.rep, l.clock, o.MaxRefreshes)
	if err := l.watchInvalidations(); err != nil {
		return nil, err
	}
	return l, nil
}

// admit returns the error a call gets before it starts: after Close, or
// with a nil context or a key that cannot be used.
func (l *Loader[K, V]) admit(ctx context.Context, key K) error {
	if l.closed.Load() || ctx == nil || l.keysMayFail {
		return l.refuse(ctx, key)
	}
	return nil
}

// refuse is admit's answer when the call may have to be refused.
func (l *Loader[K, V]) refuse(ctx context.Context, key K) error {
	switch {
	case l.closed.Load():
		return ErrClosed
	case ctx == nil:
		return errNilContext
	case l.keysMayFail:
		return checkKey(key)
	}
	return nil
}

// GetOrLoad returns the value for key: the stored value while it is fresh,
// and otherwise the result of load, which runs once for all the callers that
// miss the key at the same time and is stored for the next ones.
//
// A caller waits for a load only as long as ctx allows and then gets
// ctx.Err(); the load goes on, under Options.LoadTimeout, and its result is
// stored even when every caller has left. When load returns ErrNotFound the
// caller gets that error; with Options.MissingFor set, the answer is cached
// and later callers get ErrNotFound itself until it expires. Other errors
// are returned as they are and not cached. A panic in load reaches every
// waiting caller as an error wrapping *singleflight.PanicError. A caller
// whose ctx can never end runs load on its own goroutine (see
// Options.LoadTimeout): a runtime.Goexit in load then ends that goroutine,
// and the other callers get an error wrapping singleflight.ErrGoexit.
//
// A hit costs one Store.Get and a clock comparison (one read of the
// system's monotonic clock for an entry that can go stale: a coarser clock
// could serve it past its windows): no allocation, no lock of the Loader's
// and no goroutine. (A method value such as db.LoadUser
// written in the call is a closure that Go allocates on every call, hit or
// not, because load may outlive the call; bind it once, as in
// loadUser := db.LoadUser, to keep hits free of allocations.) A Store that
// fails is treated as empty. After Close, GetOrLoad returns ErrClosed; a
// nil ctx or load, or a key that cannot be used (ErrInvalidKey), is an
// error.
func (l *Loader[K, V]) GetOrLoad(ctx context.Context, key K, load LoadFunc[K, V]) (V, error) {
	var r Result[V]
	err := l.get(ctx, key, load, nil, &r, false)
	return r.Value, err
}

// GetOrLoadResult is GetOrLoad that also says how the value was served:
// fresh, stale while a refresh runs, loaded, or an old value standing in for
// a load that failed, was throttled or passed SoftTimeout (with the reason
// in Result.Err), with the times of the entry served. It returns the errors
// GetOrLoad returns, and on a hit allocates nothing either.
func (l *Loader[K, V]) GetOrLoadResult(ctx context.Context, key K, load LoadFunc[K, V]) (Result[V], error) {
	var r Result[V]
	err := l.get(ctx, key, load, nil, &r, true)
	return r, err
}

// get is GetOrLoad and GetOrLoadResult, and a Batcher's. It loads with
// load, or, when win is not nil, in win's batches. It sets r, all of it when
// full and at least r.Value otherwise.
func (l *Loader[K, V]) get(ctx context.Context, key K, load LoadFunc[K, V], win *window[K, V], r *Result[V], full bool) error {
	if err := l.admit(ctx, key); err != nil {
		return err
	}
	if load == nil && win == nil {
		return errNilLoad
	}
	// e is the entry found: the Store's own over a RefStore, which a hit
	// need not copy whole, and r.Entry otherwise.
	e := &r.Entry
	var ok bool
	var err error
	if l.view.ref != nil {
		var p *Entry[V]
		if p, ok, err = l.view.ref.GetRef(ctx, key); ok && err == nil && p != nil {
			e = p
		} else {
			ok = false
		}
	} else {
		r.Entry, ok, err = l.view.store.Get(ctx, key)
	}
	if err != nil {
		l.rep.storeFailed(ctx, true, "get", key, err)
		ok = false
	}
	v := verdictMiss
	var now int64
	if ok {
		v, now = l.judgeNow(e)
	}
	l.rep.judged(v)
	if e != &r.Entry {
		if full || v == verdictMiss || v == verdictFallback {
			r.Entry = *e
		} else {
			r.Value = e.Value
		}
	}
	switch v {
	case verdictFresh:
		r.Served = ServedFresh
		return nil
	case verdictMissing:
		r.Served = ServedFresh
		return ErrNotFound
	case verdictRefreshEarly:
		r.Served = ServedFresh
		l.refreshKey(ctx, key, load, win, e.FreshUntil, now)
		return nil
	case verdictStale:
		r.Served = ServedStale
		l.refreshKey(ctx, key, load, win, 0, now)
		return nil
	}
	return l.missOne(ctx, key, load, win, v == verdictFallback, r)
}

// judgeNow judges e now, by the system clock (see clock.exactNow), and
// returns the verdict and the time it was judged at. An entry that can
// neither go stale nor expire, with no early refresh, is fresh whatever the
// time: it costs no clock read (rule 1).
func (l *Loader[K, V]) judgeNow(e *Entry[V]) (verdict, int64) {
	if l.policy.beta == 0 && !e.Missing && e.FreshUntil.IsZero() && e.ExpiresAt.IsZero() && !gone(&l.policy, e) {
		return verdictFresh, 0
	}
	now := l.clock.exactNow()
	return judge(&l.policy, e, now, rand.Float64), now
}

// refreshKey refreshes key in the background, with load or in win's
// batches; replacing is as for refresher.start.
func (l *Loader[K, V]) refreshKey(ctx context.Context, key K, load LoadFunc[K, V], win *window[K, V], replacing Deadline, now int64) {
	if win != nil {
		win.refresh(ctx, key, replacing, now)
		return
	}
	l.refresh.start(ctx, key, load, replacing, now)
}

// Refresh starts loading key now, in the background, whatever the Store
// holds for it, and returns without waiting; the result is stored as a
// GetOrLoad's would be, and readers keep getting the stored value meanwhile.
// When a load of key is already in flight (a miss, a refresh), Refresh joins
// it instead of starting another. When a Set, Invalidate, Expire,
// InvalidateTag or Clear has superseded an earlier Refresh of key whose
// load still runs, Refresh starts its load as soon as that one returns,
// and the Refreshes of key that come until then are that one load (with
// the latest ctx and load): a key has one Refresh in flight at most, however
// many writes and Refreshes come. ctx's values reach load, not its
// cancellation. A failed refresh is counted (stats.Stats.RefreshErrors) and
// logged, and leaves the stored value as it was. Refresh is an explicit
// call, which its caller paces: neither Options.MaxRefreshes nor the
// backoff after failed background refreshes applies to it. Refresh returns
// ErrClosed after Close, and an error for a nil ctx or load or a key that
// cannot be used.
func (l *Loader[K, V]) Refresh(ctx context.Context, key K, load LoadFunc[K, V]) error {
	if err := l.admit(ctx, key); err != nil {
		return err
	}
	if load == nil {
		return errNilLoad
	}
	return l.refresh.explicit.refresh(ctx, key, load)
}

// Stats returns a snapshot of the statistics when Options.Recorder can take
// one (it has a Snapshot() stats.Stats method, as *stats.Counter does), and
// the zero Stats otherwise.
func (l *Loader[K, V]) Stats() stats.Stats {
	if s, ok := l.rep.rec.(interface{ Snapshot() stats.Stats }); ok {
		return s.Snapshot()
	}
	return stats.Stats{}
}

// Wait waits until no load or refresh of the Loader's is running (those
// started meanwhile included), or until ctx ends, and then returns
// ctx.Err(). It is for tests, examples and orderly hand-overs: under steady
// traffic that moment may never come. Keys a Batcher is still collecting
// are not running yet.
func (l *Loader[K, V]) Wait(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	return l.fill.wait(ctx)
}

// Close stops the Loader. Calls that start after Close get ErrClosed. Close
// waits for the loads and refreshes that are running to finish and store
// their results, each within Options.LoadTimeout, and for warnings being
// logged, at most LoadTimeout more; a load that ignores its context may go
// on running after that, but its result is dropped. Close does not close the
// Store. Calling Close again does nothing. Shutdown is Close bounded by a
// context.
func (l *Loader[K, V]) Close() error {
	l.closed.Store(true)
	l.stopWatching()
	_ = l.fill.close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), l.loadTimeout)
	defer cancel()
	_ = l.rep.wait(ctx)
	return nil
}

// Shutdown stops the Loader as Close does, but waits for the loads and
// refreshes running, and the warnings being logged, only as long as ctx
// allows, and returns ctx.Err() if ctx ends first. The Loader is closed
// either way: calls that start after Shutdown get ErrClosed.
func (l *Loader[K, V]) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	l.closed.Store(true)
	l.stopWatching()
	if err := l.fill.close(ctx); err != nil {
		return err
	}
	return l.rep.wait(ctx)
}
