package main

import (
	"context"
	"fmt"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/otterstore"
	"github.com/flightcache/flightcache/adapters/ristrettostore"
)

// fcCache is flightcache's Loader over one of the repository's stores.
type fcCache struct {
	loader     *flightcache.Loader[string, val]
	store      flightcache.Store[string, val]
	load       flightcache.LoadFunc[string, val] // bound once, so hits allocate nothing
	closeStore func()
}

func (c *fcCache) get(ctx context.Context, key string) (val, error) {
	return c.loader.GetOrLoad(ctx, key, c.load)
}

func (c *fcCache) rawGet(key string) (val, bool) {
	e, ok, _ := c.store.Get(context.Background(), key)
	return e.Value, ok
}

func (c *fcCache) close() {
	c.loader.Close()
	c.closeStore()
}

// newFCStore returns the store named store, with room for capacity entries,
// and the function that closes it.
func newFCStore(store string, capacity int) (flightcache.Store[string, val], func(), error) {
	switch store {
	case "lru":
		s, err := lrustore.New[string, val](capacity)
		return s, func() {}, err
	case "ristretto":
		s, err := ristrettostore.New[string, val](int64(capacity))
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	case "otter":
		s, err := otterstore.New[string, val](capacity)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	return nil, nil, fmt.Errorf("no store %q", store)
}

// flightcacheContender is flightcache on the store named store. It serves
// stale values while it refreshes when the setup asks for it.
func flightcacheContender(store string) contender {
	return contender{
		name:  "flightcache on " + store + "store",
		store: store,
		kind:  "flightcache",
		swr:   true,
		new: func(s setup) (cache, error) {
			st, closeStore, err := newFCStore(store, s.capacity)
			if err != nil {
				return nil, err
			}
			l, err := flightcache.New(st, &flightcache.Options{
				FreshFor:     s.fresh,
				StaleFor:     s.stale,
				EarlyRefresh: s.early,
				MaxRefreshes: s.capacity,
			})
			if err != nil {
				closeStore()
				return nil, err
			}
			return &fcCache{loader: l, store: st, load: s.load, closeStore: closeStore}, nil
		},
	}
}
