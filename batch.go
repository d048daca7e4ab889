package flightcache

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// BatchLoadFunc loads many keys from the source in one call, such as one
// WHERE id IN (...) query. It returns the values it found; a key missing from
// the map does not exist at the source. An error fails every key of the call.
// ctx carries the values of the caller that started the load, not its
// cancellation, and ends after Options.LoadTimeout.
type BatchLoadFunc[K comparable, V any] func(ctx context.Context, keys []K) (map[K]V, error)

// BatchStore is a Store that can read and write many keys in one round trip,
// such as Redis with MGET and a pipeline. GetOrLoadMany uses it when the
// Store has it; other Stores are read and written one key at a time.
type BatchStore[K comparable, V any] interface {
	Store[K, V]

	// GetMany returns the entries stored for keys; a key with none is
	// absent from the map.
	GetMany(ctx context.Context, keys []K) (map[K]Entry[V], error)

	// SetMany stores every entry of entries, as Set does for each.
	SetMany(ctx context.Context, entries map[K]Entry[V]) error
}

// BatchError is the error GetOrLoadMany returns when some keys could not be
// loaded. The values of the other keys are returned beside it. errors.Is and
// errors.As see the error of each failed load through it.
type BatchError[K comparable] struct {
	// Failed maps each key that could not be loaded to the reason.
	Failed map[K]error
}

// Error names how many keys failed and the first few reasons.
func (e *BatchError[K]) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "flightcache: %d keys failed to load", len(e.Failed))
	for i, err := range e.Unwrap() {
		if i == 3 {
			b.WriteString("; ...")
			break
		}
		b.WriteString("; ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the distinct errors behind the failed keys.
func (e *BatchError[K]) Unwrap() []error {
	var errs []error
	for _, err := range e.Failed {
		if !containsErr(errs, err) {
			errs = append(errs, err)
		}
	}
	return errs
}

// containsErr reports whether err is in errs, comparing only errors whose
// dynamic type can be compared, so that it never panics.
func containsErr(errs []error, err error) bool {
	if !reflect.ValueOf(err).Comparable() {
		return false
	}
	for _, e := range errs {
		if reflect.ValueOf(e).Comparable() && e == err {
			return true
		}
	}
	return false
}

// GetOrLoadMany is GetOrLoad for many keys at once. It returns the value of
// every key that has one: fresh and servable stale entries from the Store,
// and the rest from the source, where one call of load fetches all the keys
// that nobody is loading yet (split into calls of at most Options.MaxBatch
// keys). Keys that another GetOrLoad, refresh or batch is already loading
// are joined, not loaded again, and a GetOrLoad of a key this call is loading
// joins it. Duplicate keys are loaded once.
//
// A key that does not exist (load left it out of its map, or a cached "not
// found" answer) is absent from the map, without an error. When loads fail,
// GetOrLoadMany returns the values it has and a *BatchError that maps each
// failed key to its error; a failed load fails only its own keys. When ctx
// ends first, it returns nil and ctx.Err(), and the loads go on and are
// stored. Stale keys are served stale and refreshed together, in one
// background call. Panics become errors, and Set and Invalidate win over a
// batch in flight, as with GetOrLoad.
func (l *Loader[K, V]) GetOrLoadMany(ctx context.Context, keys []K, load BatchLoadFunc[K, V]) (map[K]V, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if load == nil {
		return nil, errNilLoad
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	uniq := uniqueKeys(keys)
	found := l.getMany(ctx, uniq)
	now := l.clock.now()

	values := make(map[K]V, len(uniq))
	var missing, stale []K
	var fallbacks map[K]V
	for _, k := range uniq {
		e, ok := found[k]
		switch {
		case ok && e.freshAt(now):
			if e.Missing {
				l.record(stats.MissingHit)
				continue
			}
			l.record(stats.Hit)
			values[k] = e.Value
		case ok && l.staleServable(&e, now):
			l.record(stats.StaleHit)
			values[k] = e.Value
			stale = append(stale, k)
		default:
			missing = append(missing, k)
			if ok && l.usableOnError(&e, now) {
				if fallbacks == nil {
					fallbacks = make(map[K]V)
				}
				fallbacks[k] = e.Value
			} else {
				// A key with a fallback counts as a miss only if the
				// fallback is not served.
				l.record(stats.Miss)
			}
		}
	}
	if len(stale) > 0 {
		l.refreshMany(ctx, stale, load)
	}
	if len(missing) == 0 {
		return values, nil
	}

	pending := l.loadMany(context.WithoutCancel(ctx), missing, load)
	var failed map[K]error
	for i, ch := range pending {
		k := missing[i]
		var r singleflight.Result[Entry[V]]
		select {
		case r = <-ch:
		case <-ctx.Done():
			for _, k := range missing[i:] {
				if hasKey(fallbacks, k) {
					l.record(stats.Miss)
				}
			}
			return nil, ctx.Err()
		}
		if hasKey(fallbacks, k) && (r.Err == nil || isNotFound(r.Err) || errors.Is(r.Err, ErrClosed)) {
			l.record(stats.Miss)
		}
		switch {
		case r.Err == nil && !r.Val.Missing:
			values[k] = r.Val.Value
		case r.Err == nil || isNotFound(r.Err):
		case hasKey(fallbacks, k) && !errors.Is(r.Err, ErrClosed):
			l.record(stats.StaleHit)
			values[k] = fallbacks[k]
			continue
		default:
			if failed == nil {
				failed = make(map[K]error)
			}
			failed[k] = r.Err
		}
	}
	if failed != nil {
		return values, &BatchError[K]{Failed: failed}
	}
	return values, nil
}

func keysOf[K comparable, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// uniqueKeys returns keys without repeats, in their first order.
func uniqueKeys[K comparable](keys []K) []K {
	seen := make(map[K]struct{}, len(keys))
	uniq := make([]K, 0, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			uniq = append(uniq, k)
		}
	}
	return uniq
}

// getMany reads keys from the Store, in one call when it is a BatchStore. A
// failed read counts as a store error and reads as misses.
func (l *Loader[K, V]) getMany(ctx context.Context, keys []K) map[K]Entry[V] {
	if bs, ok := l.store.(BatchStore[K, V]); ok {
		found, err := bs.GetMany(ctx, keys)
		if err != nil {
			l.storeFailed("get", keys, err)
			return nil
		}
		return found
	}
	found := make(map[K]Entry[V], len(keys))
	for _, k := range keys {
		e, ok, err := l.store.Get(ctx, k)
		if err != nil {
			l.storeFailed("get", k, err)
			continue
		}
		if ok {
			found[k] = e
		}
	}
	return found
}

// batch is one call of a BatchLoadFunc, on behalf of the keys it loads.
type batch[K comparable, V any] struct {
	done    chan struct{} // closed when results is complete
	results map[K]batchResult[V]
}

type batchResult[V any] struct {
	e   Entry[V]
	err error
}

// loadMany makes sure a load is in flight for each of keys and returns, in
// the order of keys, the channel that receives each key's result. Keys in
// flight already are joined; the others are registered in the singleflight
// group first, so that anyone asking for them from then on joins this load,
// and then loaded in calls of at most Options.MaxBatch keys.
func (l *Loader[K, V]) loadMany(ctx context.Context, keys []K, load BatchLoadFunc[K, V]) []<-chan singleflight.Result[Entry[V]] {
	// Until the calls are cut, a key's group goroutine waits on assigned to
	// learn which call is its own.
	assigned := make(chan struct{})
	var callOf map[K]*batch[K, V]
	pending := make([]<-chan singleflight.Result[Entry[V]], len(keys))
	var mine []K
	for i, k := range keys {
		ch, started := l.group.DoChanStarted(ctx, k, func(context.Context) (Entry[V], error) {
			<-assigned
			b := callOf[k]
			<-b.done
			r := b.results[k]
			return r.e, r.err
		})
		pending[i] = ch
		if started {
			mine = append(mine, k)
		} else {
			l.record(stats.Coalesced)
		}
	}

	callOf = make(map[K]*batch[K, V], len(mine))
	size := l.opts.MaxBatch
	if size == 0 {
		size = len(mine)
	}
	for chunk := range slices.Chunk(mine, max(1, size)) {
		b := &batch[K, V]{done: make(chan struct{}), results: make(map[K]batchResult[V], len(chunk))}
		for _, k := range chunk {
			callOf[k] = b
		}
		// Registered here rather than on the batch's goroutine, so that
		// Close, once it has begun, either sees the batch or refuses it.
		kss, gens, err := l.beginFills(chunk)
		if err != nil {
			for _, k := range chunk {
				b.results[k] = batchResult[V]{err: err}
			}
			close(b.done)
			continue
		}
		go l.runBatch(ctx, chunk, load, b, kss, gens)
	}
	close(assigned)
	return pending
}

// runBatch loads keys with one call of load and stores the results, unless a
// Set or Invalidate of a key came after the batch began.
func (l *Loader[K, V]) runBatch(ctx context.Context, keys []K, load BatchLoadFunc[K, V], b *batch[K, V], kss []*keyState, gens []uint64) {
	// The waiting key goroutines are released before the fills end, so that
	// Close, which waits for the fills, finds them gone.
	defer l.endFills(keys, kss)
	defer close(b.done)
	// load's own panics are caught where it runs; this catches a Store or
	// Recorder that panics, which would otherwise take down the process.
	var panicked error
	defer func() {
		if panicked != nil {
			for _, k := range keys {
				if _, done := b.results[k]; !done {
					b.results[k] = batchResult[V]{err: panicked}
				}
			}
		}
	}()
	defer recoverAsError(keys, &panicked)

	// As in fill: an entry stored since the callers missed is served as it is.
	now := l.clock.now()
	storeCtx, cancel := context.WithTimeout(ctx, l.opts.LoadTimeout)
	defer cancel()
	found := l.getMany(storeCtx, keys)
	toLoad := keys[:0:0]
	for _, k := range keys {
		if e, ok := found[k]; ok && e.freshAt(now) {
			b.results[k] = batchResult[V]{e: e}
			if e.Missing {
				b.results[k] = batchResult[V]{e: e, err: ErrNotFound}
			}
			continue
		}
		toLoad = append(toLoad, k)
	}
	if len(toLoad) == 0 {
		return
	}

	start := time.Now()
	vals, err := callDetached(ctx, l.opts.LoadTimeout, toLoad, func(ctx context.Context) (map[K]V, error) {
		return load(ctx, toLoad)
	})
	elapsed := time.Since(start)
	l.recordLoad(elapsed, len(toLoad), err)
	if err != nil {
		var pe *singleflight.PanicError
		if errors.As(err, &pe) {
			l.record(stats.Panic)
		}
		for _, k := range toLoad {
			b.results[k] = batchResult[V]{err: err}
		}
		return
	}

	loadedAt := start.Add(elapsed)
	writes := make(map[K]Entry[V], len(toLoad))
	for _, k := range toLoad {
		v, ok := vals[k]
		switch {
		case ok:
			e := l.entryFor(v, false, loadedAt, l.opts.FreshFor, elapsed)
			writes[k] = e
			b.results[k] = batchResult[V]{e: e}
		default:
			e := l.missingEntry(loadedAt, elapsed)
			writes[k] = e
			b.results[k] = batchResult[V]{e: e, err: ErrNotFound}
		}
	}
	l.writeMany(ctx, writes, keys, kss, gens)
}

// beginFills registers a fill of each of keys, as beginFill does for one.
func (l *Loader[K, V]) beginFills(keys []K) ([]*keyState, []uint64, error) {
	kss := make([]*keyState, len(keys))
	gens := make([]uint64, len(keys))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return nil, nil, ErrClosed
	}
	for i, k := range keys {
		kss[i], gens[i] = l.registerFill(k)
	}
	return kss, gens, nil
}

func (l *Loader[K, V]) endFills(keys []K, kss []*keyState) {
	for i, k := range keys {
		l.endFill(k, kss[i])
	}
}

// writeMany stores writes, leaving out each key that a Set or Invalidate
// reached after the batch began. keys, kss and gens describe every key of
// the batch; writes holds some of them.
func (l *Loader[K, V]) writeMany(ctx context.Context, writes map[K]Entry[V], keys []K, kss []*keyState, gens []uint64) {
	bs, ok := l.store.(BatchStore[K, V])
	if !ok {
		for i, k := range keys {
			if e, ok := writes[k]; ok {
				l.write(ctx, k, e, kss[i], gens[i])
			}
		}
		return
	}

	// Hold the write token of every key while the batch is written. Taking
	// them in one global order (by address) keeps two batches from waiting
	// on each other.
	idx := make([]int, 0, len(writes))
	for i, k := range keys {
		if _, ok := writes[k]; ok {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		pa, pb := uintptr(unsafe.Pointer(kss[a])), uintptr(unsafe.Pointer(kss[b]))
		switch {
		case pa < pb:
			return -1
		case pa > pb:
			return 1
		}
		return 0
	})
	for _, i := range idx {
		kss[i].writing <- struct{}{}
	}
	defer func() {
		for _, i := range idx {
			<-kss[i].writing
		}
	}()
	l.mu.Lock()
	for _, i := range idx {
		if kss[i].gen != gens[i] {
			delete(writes, keys[i])
		}
	}
	l.mu.Unlock()
	if len(writes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.LoadTimeout)
	defer cancel()
	if err := bs.SetMany(ctx, writes); err != nil {
		l.storeFailed("set", keysOf(writes), err)
	}
}

// refreshMany refreshes stale keys in the background with one batch load
// (in calls of at most Options.MaxBatch keys), which takes one refresh slot.
// Keys with a refresh running or backing off are left out.
func (l *Loader[K, V]) refreshMany(ctx context.Context, keys []K, load BatchLoadFunc[K, V]) {
	s := &l.stale
	due := l.claimRefresh(keys)
	if due == nil {
		return
	}
	if l.rec != nil {
		l.rec.Record(stats.Refresh, len(due))
	}
	go func() {
		defer s.wg.Done()
		pending := l.loadMany(context.WithoutCancel(ctx), due, load)
		errs := make([]error, len(due))
		for i, ch := range pending {
			errs[i] = (<-ch).Err
		}
		l.endRefreshes(due, errs)
	}()
}
