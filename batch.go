package flightcache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
)

// BatchLoadFunc loads many keys from the source in one call, such as one
// WHERE id IN (...) query. It returns the values it found; a key missing from
// the map does not exist at the source. An error fails every key of the call.
// ctx is as a LoadFunc's.
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
// failed key to its error; a failed load fails only its own keys. A call
// whose keys are all served from the Store returns them whatever ctx says;
// otherwise, when ctx ends first (before the call, while the Store is read
// or while it waits), it returns nil and ctx.Err(): it starts no load then,
// and loads it started go on and are stored. Stale keys are served stale and refreshed together, in one
// background call. Panics become errors, and Set and Invalidate win over a
// batch in flight, as with GetOrLoad.
//
// GetOrLoadMany keeps no reference to keys, and load receives a slice of the
// Loader's own: load may change it. A batch of any size costs a bounded
// number of goroutines. As with GetOrLoad, a caller whose ctx can never end
// runs the load on its own goroutine (one call; with MaxBatch splitting the
// batch, the calls run on goroutines of the Loader's): a runtime.Goexit in
// load then ends that caller's goroutine.
func (l *Loader[K, V]) GetOrLoadMany(ctx context.Context, keys []K, load BatchLoadFunc[K, V]) (map[K]V, error) {
	if err := l.admitMany(ctx, keys, load); err != nil {
		return nil, err
	}
	values, ms := l.readMany(ctx, uniqueKeys(keys), load)
	if len(ms) == 0 {
		return values, nil // served, however ctx has ended: nothing to wait for
	}
	failed, err := l.missMany(ctx, ms, load, values)
	if err != nil {
		return nil, err
	}
	if failed != nil {
		return values, &BatchError[K]{Failed: failed}
	}
	return values, nil
}

// admitMany returns the error a GetOrLoadMany gets before it starts: after
// Close, or with a nil ctx or load or a key that cannot be used.
func (l *Loader[K, V]) admitMany(ctx context.Context, keys []K, load BatchLoadFunc[K, V]) error {
	switch {
	case l.closed.Load():
		return ErrClosed
	case ctx == nil:
		return errNilContext
	case load == nil:
		return errNilLoad
	case l.keysMayFail:
		for _, k := range keys {
			if err := checkKey(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// readMany reads uniq from the Store and judges each entry at one time:
// it returns the values it serves, starts the background refreshes of the
// stale ones (in one call of load), and returns the keys it misses, each
// with the old entry that may stand in for a failed load.
func (l *Loader[K, V]) readMany(ctx context.Context, uniq []K, load BatchLoadFunc[K, V]) (map[K]V, []missed[K, V]) {
	found := l.fill.read(ctx, uniq, false)
	now := l.clock.exactNow() // once for every key (see Loader.judgeNow)
	values := make(map[K]V, len(uniq))
	var ms []missed[K, V]
	// Keys to refresh in the background, each with the FreshUntil of an
	// entry that does not count as refreshed (early refresh).
	var refresh []K
	var replacing []Deadline
	for i, k := range uniq {
		e, ok := found[i].e, found[i].ok
		v := verdictMiss
		if ok {
			v = judge(&l.policy, &e, now, rand.Float64)
		}
		l.rep.judged(v)
		switch v {
		case verdictFresh:
			values[k] = e.Value
		case verdictMissing:
		case verdictRefreshEarly, verdictStale:
			values[k] = e.Value
			until := e.FreshUntil
			if v == verdictStale {
				until = 0
			}
			refresh, replacing = append(refresh, k), append(replacing, until)
		case verdictFallback:
			ms = append(ms, missed[K, V]{key: k, fallback: &e})
		default:
			ms = append(ms, missed[K, V]{key: k})
		}
	}
	if len(refresh) > 0 {
		l.refresh.startMany(ctx, refresh, replacing, load, now)
	}
	return values, ms
}

// uniqueKeys returns keys without repeats, in their first order, in a slice
// of its own.
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
