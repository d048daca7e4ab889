package flightcache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// LoadFunc loads the value for key from the source. It returns ErrNotFound,
// wrapped or not, when the key does not exist there. ctx carries the values of
// the caller that started the load, not its cancellation, and ends after
// Options.LoadTimeout.
type LoadFunc[K comparable, V any] func(ctx context.Context, key K) (V, error)

// ErrLoadTimeout is wrapped by the error that callers get when a load ran
// longer than Options.LoadTimeout. The same error also matches
// context.DeadlineExceeded.
var ErrLoadTimeout = errors.New("flightcache: load timed out")

var (
	errNilStore = errors.New("flightcache: nil Store")
	errNilLoad  = errors.New("flightcache: nil LoadFunc")
)

// Loader is a read-through cache in front of a slow source. GetOrLoad returns
// the value the Store holds for a key while it is fresh, and otherwise loads
// it once, however many callers miss at once, and stores the result.
//
// All methods are safe for concurrent use. A Loader must be closed with Close
// when it is no longer needed; Close does not close the Store.
type Loader[K comparable, V any] struct {
	store  Store[K, V]
	leaser Leaser[K, V] // the store, when it is one; nil otherwise
	opts   Options
	rec    stats.Recorder // nil: no statistics
	clock  clock

	group singleflight.Group[K, Entry[V]]

	mu     sync.Mutex
	keys   map[K]*keyState // keys with a fill running
	closed atomic.Bool     // written under mu
	fills  sync.WaitGroup  // fills and refreshes running; Add under mu

	stale staleState[K]
	logs  logLimiter
}

// keyState orders a key's writes: the writes of fills, and those of Set and
// Invalidate, which must win over any fill already running.
type keyState struct {
	// writing holds a token while a fill writes its result to the Store, so
	// that Set and Invalidate can wait for that write before their own. It
	// is a channel rather than a sync.Mutex so that a goroutine waiting on
	// it is durably blocked for testing/synctest.
	writing chan struct{}
	// gen counts Set and Invalidate calls; a fill writes only if it is
	// unchanged since the fill began. Guarded by the Loader's mu.
	gen uint64
	// fills is the number of fills registered for the key. Guarded by the
	// Loader's mu.
	fills int
}

// New returns a Loader that keeps its entries in store. A nil opts means the
// zero Options. It returns an error naming the problem when store is nil or
// an option is not valid.
func New[K comparable, V any](store Store[K, V], opts *Options) (*Loader[K, V], error) {
	if store == nil {
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
		store: store,
		opts:  o,
		rec:   o.Recorder,
		keys:  make(map[K]*keyState),
	}
	l.leaser, _ = store.(Leaser[K, V])
	l.clock.init()
	l.stale.init(o)
	return l, nil
}

func (l *Loader[K, V]) record(e stats.Event) {
	if l.rec != nil {
		l.rec.Record(e, 1)
	}
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
// waiting caller as an error wrapping *singleflight.PanicError.
//
// A hit costs one Store.Get and a clock comparison: no allocation, no lock
// of the Loader's and no goroutine. (A method value such as db.LoadUser
// written in the call is a closure that Go allocates on every call, hit or
// not, because load may outlive the call; bind it once, as in
// loadUser := db.LoadUser, to keep hits free of allocations.) A Store that
// fails is treated as empty. After Close, GetOrLoad returns ErrClosed.
func (l *Loader[K, V]) GetOrLoad(ctx context.Context, key K, load LoadFunc[K, V]) (V, error) {
	var zero V
	if l.closed.Load() {
		return zero, ErrClosed
	}
	if load == nil {
		return zero, errNilLoad
	}
	e, ok, err := l.store.Get(ctx, key)
	if err != nil {
		l.storeFailed("get", key, err)
		ok = false
	}
	// fallback is an old value that may stand in for a failed load.
	var fallback V
	hasFallback := false
	if ok {
		now := l.clock.now()
		if e.freshAt(now) {
			if e.Missing {
				l.record(stats.MissingHit)
				return zero, ErrNotFound
			}
			l.record(stats.Hit)
			l.maybeRefreshEarly(ctx, key, &e, now, load)
			return e.Value, nil
		}
		if l.serveStale(ctx, key, &e, now, load) {
			l.record(stats.StaleHit)
			return e.Value, nil
		}
		if l.usableOnError(&e, now) {
			fallback, hasFallback = e.Value, true
		}
	}
	if !hasFallback {
		l.record(stats.Miss)
	}

	started := false
	loaded, err, _ := l.group.Do(ctx, key, func(ctx context.Context) (Entry[V], error) {
		started = true
		return l.fill(ctx, key, load, false, time.Time{})
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			if hasFallback {
				l.record(stats.Miss)
			}
			return zero, err // the caller left; the load goes on
		}
		if !started {
			l.record(stats.Coalesced)
		}
		if hasFallback && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrClosed) {
			l.record(stats.StaleHit)
			return fallback, nil
		}
		if hasFallback {
			l.record(stats.Miss)
		}
		return zero, err
	}
	if hasFallback {
		l.record(stats.Miss)
	}
	if !started {
		l.record(stats.Coalesced)
	}
	if loaded.Missing {
		return zero, ErrNotFound
	}
	return loaded.Value, nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// freshAt reports whether e may be served as it is at now (Unix nanoseconds).
func (e *Entry[V]) freshAt(now int64) bool {
	return e.FreshUntil.IsZero() || now < e.FreshUntil.UnixNano()
}

// expiredAt reports whether e must never be served again at now.
func (e *Entry[V]) expiredAt(now int64) bool {
	return !e.ExpiresAt.IsZero() && now >= e.ExpiresAt.UnixNano()
}

// fill loads key and stores the result, on behalf of every caller waiting for
// it. It runs on the singleflight group's goroutine, with ctx detached from
// those callers. An early refresh passes early and the FreshUntil of the
// entry it replaces.
func (l *Loader[K, V]) fill(ctx context.Context, key K, load LoadFunc[K, V], early bool, replacing time.Time) (e Entry[V], err error) {
	// load's own panics are caught where it runs; this catches a Store or
	// Recorder that panics, which would otherwise take down a background
	// refresh's goroutine and with it the process.
	defer recoverAsError(key, &err)
	ks, gen, err := l.beginFill(key)
	if err != nil {
		return Entry[V]{}, err
	}
	defer l.endFill(key, ks)

	// A fill that ended just before this one began may have stored the entry
	// after the callers of this one missed it: serve that entry instead of
	// loading again.
	if e, ok := l.lookAgain(ctx, key, early, replacing); ok {
		return e, nil
	}
	if l.leaser != nil {
		release, e, ok := l.lease(ctx, key, early, replacing)
		if ok {
			return e, nil
		}
		if release != nil {
			defer release()
		}
	}
	return l.loadAndStore(ctx, key, load, ks, gen)
}

// recoverAsError turns a panic into an error wrapping *singleflight.PanicError.
// It must be deferred.
func recoverAsError(what any, err *error) {
	if p := recover(); p != nil {
		pe := &singleflight.PanicError{Value: p, Stack: debug.Stack()}
		*err = fmt.Errorf("flightcache: fill of key %v: %w", what, pe)
	}
}

// lookAgain returns the entry for key when the Store has one that a fill
// need not replace: a fresh one, other than the one an early refresh was
// started for.
func (l *Loader[K, V]) lookAgain(ctx context.Context, key K, early bool, replacing time.Time) (Entry[V], bool) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.LoadTimeout)
	defer cancel()
	e, ok, err := l.store.Get(ctx, key)
	if err != nil {
		l.storeFailed("get", key, err)
		return e, false
	}
	return e, ok && e.freshAt(l.clock.now()) && (!early || !e.FreshUntil.Equal(replacing))
}

// lease takes the fleet-wide right to load key, waiting while another
// instance has it. It returns the entry that instance stored, or the release
// function of this instance's lease. When the Store fails, it gives up on the
// lease and the fill loads anyway: a fleet with its shared tier down loads
// once per instance rather than not at all.
func (l *Loader[K, V]) lease(ctx context.Context, key K, early bool, replacing time.Time) (release func(), e Entry[V], found bool) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.LoadTimeout)
	defer cancel()
	for {
		release, err := l.leaser.Lease(ctx, key)
		if err != nil {
			l.record(stats.StoreError)
			l.warn(logLease, "flightcache: fleet-wide lease failed; loading without it", key, err)
			return nil, e, false
		}
		if release != nil {
			// Another instance may have stored the entry and released
			// its lease between this fill's last look and this lease.
			if e, ok := l.lookAgain(ctx, key, early, replacing); ok {
				release()
				return nil, e, true
			}
			return release, e, false
		}
		if e, ok := l.lookAgain(ctx, key, early, replacing); ok {
			return nil, e, true
		}
	}
}

// loadAndStore runs load under the load timeout, then writes the result to
// the Store unless a Set or Invalidate of key came after gen.
func (l *Loader[K, V]) loadAndStore(ctx context.Context, key K, load LoadFunc[K, V], ks *keyState, gen uint64) (Entry[V], error) {
	start := time.Now()
	v, err := l.callLoad(ctx, key, load)
	elapsed := time.Since(start)

	var pe *singleflight.PanicError
	switch {
	case err == nil:
		l.recordLoad(elapsed, 1, nil)
		e := l.entryFor(v, false, start.Add(elapsed), l.opts.FreshFor, elapsed)
		l.write(ctx, key, e, ks, gen)
		return e, nil
	case isNotFound(err):
		l.recordLoad(elapsed, 1, nil)
		e := l.missingEntry(start.Add(elapsed), elapsed)
		l.write(ctx, key, e, ks, gen)
		return e, err
	case errors.As(err, &pe):
		l.recordLoad(elapsed, 1, err)
		l.record(stats.Panic)
		return Entry[V]{}, err
	default:
		l.recordLoad(elapsed, 1, err)
		return Entry[V]{}, err
	}
}

// recordLoad counts one call of the source, for keys keys.
func (l *Loader[K, V]) recordLoad(elapsed time.Duration, keys int, err error) {
	if l.rec != nil {
		l.rec.RecordLoad(elapsed, err)
		l.rec.Record(stats.KeysLoaded, keys)
	}
}

// callLoad runs load for key under the load timeout; see callDetached.
func (l *Loader[K, V]) callLoad(ctx context.Context, key K, load LoadFunc[K, V]) (V, error) {
	return callDetached(ctx, l.opts.LoadTimeout, key, func(ctx context.Context) (V, error) { return load(ctx, key) })
}

// callDetached runs f on a goroutine of its own, with ctx bounded by timeout,
// so that the caller can give up at the timeout even when f ignores its
// context. A panic or a runtime.Goexit in f becomes an error; what names the
// work in errors.
func callDetached[T any](ctx context.Context, timeout time.Duration, what any, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		returned := false
		defer func() { done <- r }()
		defer func() {
			if p := recover(); p != nil {
				pe := &singleflight.PanicError{Value: p, Stack: debug.Stack()}
				r = result{err: fmt.Errorf("flightcache: load of key %v: %w", what, pe)}
			} else if !returned {
				// Only runtime.Goexit unwinds without a panic.
				r = result{err: fmt.Errorf("flightcache: load of key %v: %w", what, singleflight.ErrGoexit)}
			}
		}()
		v, err := f(ctx)
		r, returned = result{v: v, err: err}, true
	}()

	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w after %v (key %v): %w", ErrLoadTimeout, timeout, what, context.DeadlineExceeded)
	}
}

// entryFor builds the entry for a value loaded at loadedAt that stays fresh
// for about freshFor.
func (l *Loader[K, V]) entryFor(v V, missing bool, loadedAt time.Time, freshFor time.Duration, took time.Duration) Entry[V] {
	e := Entry[V]{Value: v, Missing: missing, LoadDuration: took}
	if freshFor == 0 {
		return e // fresh until evicted or invalidated
	}
	if j := l.opts.Jitter; j > 0 {
		freshFor = time.Duration(float64(freshFor) * (1 + j*(2*rand.Float64()-1)))
	}
	e.FreshUntil = loadedAt.Add(freshFor)
	e.ExpiresAt = e.FreshUntil
	if !missing {
		e.ExpiresAt = e.FreshUntil.Add(max(l.opts.StaleFor, l.opts.StaleIfError))
	}
	return e
}

// missingEntry is what a fill stores for a key the source does not have: a
// negative entry for MissingFor, or, without negative caching, an entry that
// has already expired, which makes the Store drop whatever old value it kept
// (every Store must treat a Set of an expired entry so).
func (l *Loader[K, V]) missingEntry(loadedAt time.Time, took time.Duration) Entry[V] {
	if l.opts.MissingFor > 0 {
		var zero V
		return l.entryFor(zero, true, loadedAt, l.opts.MissingFor, took)
	}
	return Entry[V]{Missing: true, FreshUntil: loadedAt, ExpiresAt: loadedAt}
}

// beginFill registers a fill of key and returns the key's state and its
// generation at the start of the fill.
func (l *Loader[K, V]) beginFill(key K) (*keyState, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return nil, 0, ErrClosed
	}
	ks, gen := l.registerFill(key)
	return ks, gen, nil
}

// registerFill counts a fill of key in the key's state. The Loader's mu must
// be held.
func (l *Loader[K, V]) registerFill(key K) (*keyState, uint64) {
	ks := l.keys[key]
	if ks == nil {
		ks = &keyState{writing: make(chan struct{}, 1)}
		l.keys[key] = ks
	}
	ks.fills++
	l.fills.Add(1)
	return ks, ks.gen
}

func (l *Loader[K, V]) endFill(key K, ks *keyState) {
	l.mu.Lock()
	ks.fills--
	if ks.fills == 0 {
		delete(l.keys, key)
	}
	l.mu.Unlock()
	l.fills.Done()
}

// write stores e for key unless a Set or Invalidate came after gen. A Store
// error is counted, not returned: the callers still get the loaded value.
func (l *Loader[K, V]) write(ctx context.Context, key K, e Entry[V], ks *keyState, gen uint64) {
	ks.writing <- struct{}{}
	defer func() { <-ks.writing }()
	l.mu.Lock()
	current := ks.gen == gen
	l.mu.Unlock()
	if !current {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.LoadTimeout)
	defer cancel()
	if err := l.store.Set(ctx, key, e); err != nil {
		l.storeFailed("set", key, err)
	}
}

// supersede makes every fill of key that is running now leave the Store
// alone, and makes the next caller start a new fill rather than join one of
// them. It returns once a fill's write that was under way has finished, so
// that the caller's own write lands after it, or with ctx's error when ctx
// ends first.
func (l *Loader[K, V]) supersede(ctx context.Context, key K) error {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return ErrClosed
	}
	ks := l.keys[key]
	if ks != nil {
		ks.gen++
	}
	l.group.Forget(key)
	l.mu.Unlock()
	if ks != nil {
		select {
		case ks.writing <- struct{}{}:
			<-ks.writing
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Set stores value for key as if it had just been loaded: fresh for
// Options.FreshFor. It wins over a load of key that has started: that load's
// callers get its result, but the result is not stored over value. Set
// returns the Store's error, if any, wrapped.
func (l *Loader[K, V]) Set(ctx context.Context, key K, value V) error {
	if err := l.supersede(ctx, key); err != nil {
		return err
	}
	e := l.entryFor(value, false, time.Now(), l.opts.FreshFor, 0)
	if err := l.store.Set(ctx, key, e); err != nil {
		l.record(stats.StoreError)
		return fmt.Errorf("flightcache: set key %v: %w", key, err)
	}
	return nil
}

// Invalidate removes key from the Store, so that the next GetOrLoad loads it
// again. It wins over a load of key that has started: that load's callers get
// its result, but the result is not stored. Invalidate returns the Store's
// error, if any, wrapped.
func (l *Loader[K, V]) Invalidate(ctx context.Context, key K) error {
	if err := l.supersede(ctx, key); err != nil {
		return err
	}
	if err := l.store.Delete(ctx, key); err != nil {
		l.record(stats.StoreError)
		return fmt.Errorf("flightcache: invalidate key %v: %w", key, err)
	}
	return nil
}

// Close stops the Loader. Calls that start after Close get ErrClosed. Close
// waits for the loads and refreshes that are running to finish and store
// their results, each within Options.LoadTimeout, and then returns; a load
// that ignores its context may go on running after that, but its result is
// dropped. Close does not close the Store. Calling Close again does nothing.
func (l *Loader[K, V]) Close() error {
	l.mu.Lock()
	l.closed.Store(true)
	l.mu.Unlock()
	l.stale.close()
	l.fills.Wait()
	l.clock.stop()
	return nil
}
