package tiered

import (
	"context"

	"github.com/flightcache/flightcache"
)

// A Store is a flightcache.InvalidationLog exactly when its shared tier is
// one (redisstore's): an InvalidateTag or a Clear is recorded in the
// shared tier and told to the fleet from there, and the Loader judges
// every entry it reads against the invalidations it was given, those of
// the local tier included, by the LoadedAt and Tags the local tier keeps
// (it keeps Entry values as they are). No entry is touched, in either
// tier. While the shared tier replays invalidations to this instance (a
// Replayer), the local tier serves nothing (see Replayer). Invalidations
// pass through as they are, both ways: a Tagged one (the fold of a log
// that keeps a bounded record, such as redisstore's) included.

// invalLog forwards flightcache.InvalidationLog to the shared tier.
type invalLog struct {
	log flightcache.InvalidationLog
}

// LogInvalidation records inv, whatever its kind (a tag, a Clear, a
// Tagged fold), in the shared tier and returns it as recorded (see
// flightcache.InvalidationLog): the shared tier's error, if any, means
// that nothing was recorded, and the local tier, which holds no record of
// invalidations, has nothing to undo. It is safe for concurrent use.
func (l invalLog) LogInvalidation(ctx context.Context, inv flightcache.Invalidation) (flightcache.Invalidation, error) {
	return l.log.LogInvalidation(ctx, inv)
}

// WatchInvalidations watches the shared tier's invalidations, giving
// apply each as the shared tier gives it, Tagged ones included (see
// flightcache.InvalidationLog). It is safe for concurrent use.
func (l invalLog) WatchInvalidations(apply func(flightcache.Invalidation)) (stop func()) {
	return l.log.WatchInvalidations(apply)
}

// The variants of Store over a shared tier that is an InvalidationLog,
// one per variant of New's.
type (
	loggingStore[K comparable, V any] struct {
		*store[K, V]
		invalLog
	}
	loggingLeasingStore[K comparable, V any] struct {
		*leasingStore[K, V]
		invalLog
	}
	loggingFencingStore[K comparable, V any] struct {
		*fencingStore[K, V]
		invalLog
	}
	loggingLeasingFencingStore[K comparable, V any] struct {
		*leasingFencingStore[K, V]
		invalLog
	}
	loggingBatchLeasingStore[K comparable, V any] struct {
		*batchLeasingStore[K, V]
		invalLog
	}
	loggingBatchLeasingFencingStore[K comparable, V any] struct {
		*batchLeasingFencingStore[K, V]
		invalLog
	}
)

var (
	_ flightcache.InvalidationLog          = loggingStore[string, int]{}
	_ flightcache.InvalidationLog          = loggingLeasingStore[string, int]{}
	_ flightcache.InvalidationLog          = loggingFencingStore[string, int]{}
	_ flightcache.InvalidationLog          = loggingLeasingFencingStore[string, int]{}
	_ flightcache.InvalidationLog          = loggingBatchLeasingStore[string, int]{}
	_ flightcache.InvalidationLog          = loggingBatchLeasingFencingStore[string, int]{}
	_ flightcache.BatchLeaser[string, int] = loggingBatchLeasingFencingStore[string, int]{}
	_ flightcache.BatchFencer[string, int] = loggingBatchLeasingFencingStore[string, int]{}
	_ Store[string, int]                   = loggingBatchLeasingFencingStore[string, int]{}
)

// withLog returns s, a variant New made, with log's methods.
func withLog[K comparable, V any](s Store[K, V], log flightcache.InvalidationLog) Store[K, V] {
	l := invalLog{log}
	switch s := s.(type) {
	case *store[K, V]:
		return loggingStore[K, V]{s, l}
	case *leasingStore[K, V]:
		return loggingLeasingStore[K, V]{s, l}
	case *fencingStore[K, V]:
		return loggingFencingStore[K, V]{s, l}
	case *leasingFencingStore[K, V]:
		return loggingLeasingFencingStore[K, V]{s, l}
	case *batchLeasingStore[K, V]:
		return loggingBatchLeasingStore[K, V]{s, l}
	case *batchLeasingFencingStore[K, V]:
		return loggingBatchLeasingFencingStore[K, V]{s, l}
	}
	return s
}
