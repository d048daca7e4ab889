package flightcache

import (
	"context"

	"github.com/flightcache/flightcache/stats"
)

// Peek returns what a read of key would serve now, and how (see
// [Result]), without loading, refreshing or counting a hit or a miss (it
// counts a Peek, a PeekHit when it finds what a read would serve, and a
// failed Store read): true with the value served fresh or stale, true with
// an error wrapping ErrNotFound for a cached "not found", and false when a
// read would load (no entry, or one past its serving windows; a value that
// may stand in for a failed load is not served without one). A Store that
// fails reads as empty, as for GetOrLoad. After Close, Peek returns
// ErrClosed; a nil ctx or a key that cannot be used is an error. otter's,
// Caffeine's and theine's GetIfPresent are the models.
func (l *Loader[K, V]) Peek(ctx context.Context, key K) (Result[V], bool, error) {
	if err := l.admit(ctx, key); err != nil {
		return Result[V]{}, false, err
	}
	l.rep.record(stats.Peek)
	r, ok, err := l.peek(ctx, key)
	if ok {
		l.rep.record(stats.PeekHit)
	}
	return r, ok, err
}

// peek is Peek, uncounted.
func (l *Loader[K, V]) peek(ctx context.Context, key K) (Result[V], bool, error) {
	e, ok, err := l.view.store.Get(ctx, key)
	if err != nil {
		l.rep.storeFailed(ctx, true, "get", key, err)
		return Result[V]{}, false, nil
	}
	if !ok {
		return Result[V]{}, false, nil
	}
	now := l.clock.exactNow()
	switch judge(&l.policy, &e, now, noRefresh) {
	case verdictFresh, verdictRefreshEarly:
		return Result[V]{Entry: e, Served: ServedFresh}, true, nil
	case verdictMissing:
		return Result[V]{Entry: e, Served: ServedFresh}, true, ErrNotFound
	case verdictStale:
		return Result[V]{Entry: e, Served: ServedStale}, true, nil
	}
	return Result[V]{}, false, nil
}
