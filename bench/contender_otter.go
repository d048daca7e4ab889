package main

import (
	"context"

	"github.com/maypok86/otter/v2"
)

// otterCache is otter v2's own loading cache: Cache.Get with a Loader. With
// a stale window it refreshes through otter's RefreshCalculator, serving the
// old value while Loader.Reload runs.
type otterCache struct {
	c      *otter.Cache[string, val]
	loader otter.Loader[string, val] // made once, so hits allocate nothing
}

func (c *otterCache) get(ctx context.Context, key string) (val, error) {
	return c.c.Get(ctx, key, c.loader)
}

func (c *otterCache) rawGet(key string) (val, bool) { return c.c.GetIfPresent(key) }
func (c *otterCache) close()                        { c.c.StopAllGoroutines() }

// otterLoaderContender is otter's loader. Entries expire at the end of their
// stale window; with a stale window, they become refreshable when they stop
// being fresh.
func otterLoaderContender() contender {
	return contender{
		name:  "otter v2 Cache.Get (its own loader)",
		store: "otter",
		kind:  "library",
		swr:   true,
		new: func(s setup) (cache, error) {
			o := &otter.Options[string, val]{MaximumSize: s.capacity}
			if s.fresh > 0 {
				o.ExpiryCalculator = otter.ExpiryWriting[string, val](s.bound())
			}
			if s.stale > 0 {
				o.RefreshCalculator = otter.RefreshWriting[string, val](s.fresh)
			}
			c, err := otter.New(o)
			if err != nil {
				return nil, err
			}
			return &otterCache{c: c, loader: otter.LoaderFunc[string, val](s.load)}, nil
		},
	}
}
