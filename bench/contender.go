package main

import (
	"context"
	"time"
)

// setup is what a contender is built for: its capacity, how long a loaded
// value stays fresh and may be served stale, and where it loads from.
type setup struct {
	capacity int
	fresh    time.Duration // 0: values never go stale
	stale    time.Duration // served stale and refreshed this long after fresh; 0: off
	early    float64       // flightcache's probabilistic early refresh (XFetch) beta; 0: off
	load     func(context.Context, string) (val, error)
}

// bound is the age past which a value must never be served: the end of its
// stale window, or of its freshness when nothing is served stale.
func (s setup) bound() time.Duration { return s.fresh + s.stale }

// cache is one contender, built and ready: a read-through cache in front of
// setup.load.
type cache interface {
	// get returns the value of key, loading it on a miss.
	get(ctx context.Context, key string) (val, error)
	// rawGet reads key with the own Get of the store underneath, without
	// loading: the cost get is measured against.
	rawGet(key string) (val, bool)
	// close releases the cache and every goroutine it started.
	close()
}

// contender is a way of caching that the suite compares.
type contender struct {
	name  string // row label
	store string // the in-memory store underneath, for comparing like with like
	kind  string // "flightcache", "naive", or "library" (a library's own loader)
	// swr reports that the contender serves stale values while it refreshes;
	// only the expiry storm builds those with setup.stale > 0.
	swr bool
	new func(setup) (cache, error)
}

// contenders returns everything the hit, stampede, after-fill and zipf
// scenarios compare: flightcache on each store, the hand-written composition
// on the same stores, and the libraries' own loaders.
func contenders() []contender {
	return []contender{
		flightcacheContender("lru"),
		flightcacheContender("ristretto"),
		flightcacheContender("otter"),
		naiveContender("ristretto"),
		naiveContender("lru"),
		naiveContender("otter"),
		otterLoaderContender(),
		sturdycContender(),
		theineContender(),
	}
}
