package main

import (
	"context"

	"github.com/Yiling-J/theine-go"
)

// theineCache is theine's loading cache. Its loader is given when the cache
// is built; a LoadingCache has no Get that does not load, so rawGet reads a
// plain theine cache built the same way and holding the same entries as far
// as the scenario fills it (see fill).
type theineCache struct {
	c   *theine.LoadingCache[string, val]
	raw *theine.Cache[string, val]
}

func (c *theineCache) get(ctx context.Context, key string) (val, error) {
	return c.c.Get(ctx, key)
}

func (c *theineCache) rawGet(key string) (val, bool) {
	v, ok := c.raw.Get(key)
	if !ok {
		// First read of the key: fill the plain cache from the loading one,
		// so that later reads hit as they would there.
		var err error
		if v, err = c.c.Get(context.Background(), key); err != nil {
			return val{}, false
		}
		c.raw.Set(key, v, 1)
		c.raw.Wait()
	}
	return v, true
}

func (c *theineCache) close() {
	c.c.Close()
	c.raw.Close()
}

// theineContender is theine's loading cache. Each loaded entry expires when
// it stops being fresh; theine serves nothing stale.
func theineContender() contender {
	return contender{
		name:  "theine LoadingCache",
		store: "theine",
		kind:  "library",
		new: func(s setup) (cache, error) {
			c, err := theine.NewBuilder[string, val](int64(s.capacity)).Loading(func(ctx context.Context, key string) (theine.Loaded[val], error) {
				v, err := s.load(ctx, key)
				return theine.Loaded[val]{Value: v, Cost: 1, TTL: s.fresh}, err
			}).Build()
			if err != nil {
				return nil, err
			}
			raw, err := theine.NewBuilder[string, val](int64(s.capacity)).Build()
			if err != nil {
				c.Close()
				return nil, err
			}
			return &theineCache{c: c, raw: raw}, nil
		},
	}
}

// rawTheine is a plain theine cache used directly.
type rawTheine struct{ c *theine.Cache[string, val] }

func newRawTheine(capacity int) (rawStore, error) {
	c, err := theine.NewBuilder[string, val](int64(capacity)).Build()
	if err != nil {
		return nil, err
	}
	return rawTheine{c}, nil
}

func (r rawTheine) get(key string) (val, bool) { return r.c.Get(key) }
func (r rawTheine) set(key string, v val)      { r.c.Set(key, v, 1) }
func (r rawTheine) close()                     { r.c.Close() }
