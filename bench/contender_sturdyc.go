package main

import (
	"context"
	"time"

	"github.com/viccon/sturdyc"
)

// sturdycCache is sturdyc's GetOrFetch. Its fetch function takes no key, so
// each call builds a closure over the key, as sturdyc's own examples do.
type sturdycCache struct {
	c    *sturdyc.Client[val]
	load func(context.Context, string) (val, error)
}

func (c *sturdycCache) get(ctx context.Context, key string) (val, error) {
	return c.c.GetOrFetch(ctx, key, func(ctx context.Context) (val, error) { return c.load(ctx, key) })
}

func (c *sturdycCache) rawGet(key string) (val, bool) { return c.c.Get(key) }

// close does nothing: sturdyc's eviction goroutine cannot be stopped.
func (c *sturdycCache) close() {}

// sturdycNever is the TTL standing in for "never expires": sturdyc requires
// one.
const sturdycNever = 24 * time.Hour

// sturdycContender is sturdyc. Its TTL is the end of the stale window; with a
// stale window, it refreshes in the background once a value stops being
// fresh (sturdyc's early refreshes, with no random spread), and waits for the
// load only when the value is about to expire.
func sturdycContender() contender {
	return contender{
		name:  "sturdyc GetOrFetch",
		store: "sturdyc",
		kind:  "library",
		swr:   true,
		new: func(s setup) (cache, error) {
			ttl := sturdycNever
			if s.fresh > 0 {
				ttl = s.bound()
			}
			var opts []sturdyc.Option
			if s.stale > 0 {
				opts = append(opts, sturdyc.WithEarlyRefreshes(s.fresh, s.fresh, s.bound(), s.fresh))
			}
			shards := min(16, s.capacity)
			c := sturdyc.New[val](s.capacity, shards, ttl, 10, opts...)
			return &sturdycCache{c: c, load: s.load}, nil
		},
	}
}

// rawSturdyc is a sturdyc client used directly, with Get and Set.
type rawSturdyc struct{ c *sturdyc.Client[val] }

func newRawSturdyc(capacity int) rawStore {
	return rawSturdyc{sturdyc.New[val](capacity, min(16, capacity), sturdycNever, 10)}
}

func (r rawSturdyc) get(key string) (val, bool) { return r.c.Get(key) }
func (r rawSturdyc) set(key string, v val)      { r.c.Set(key, v) }
func (r rawSturdyc) close()                     {}
