package main

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"
)

// rawStore is an in-memory cache used directly, as a hand-written
// composition uses it.
type rawStore interface {
	get(key string) (val, bool)
	set(key string, v val)
	close()
}

// naiveCache is the read-through cache users write by hand: look in the
// store; on a miss, load through golang.org/x/sync/singleflight and store the
// result inside the singleflight call.
type naiveCache struct {
	store rawStore
	group singleflight.Group
	load  func(context.Context, string) (val, error)
}

func (c *naiveCache) get(ctx context.Context, key string) (val, error) {
	if v, ok := c.store.get(key); ok {
		return v, nil
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		v, err := c.load(ctx, key)
		if err != nil {
			return nil, err
		}
		c.store.set(key, v)
		return v, nil
	})
	if err != nil {
		return val{}, err
	}
	return v.(val), nil
}

func (c *naiveCache) rawGet(key string) (val, bool) { return c.store.get(key) }
func (c *naiveCache) close()                        { c.store.close() }

// naiveContender is the hand-written composition on the store named store.
// It does not serve stale values: an expired entry is a miss.
func naiveContender(store string) contender {
	return contender{
		name:  store + " + x/sync/singleflight (by hand)",
		store: store,
		kind:  "naive",
		new: func(s setup) (cache, error) {
			st, err := newRawStore(store, s.capacity, s.fresh)
			if err != nil {
				return nil, err
			}
			return &naiveCache{store: st, load: s.load}, nil
		},
	}
}

// newRawStore returns the library named store used directly, with room for
// capacity entries that expire ttl after they are written (0: never), each
// configured as its documentation suggests. theine and sturdyc are only used
// to replay a trace, with entries that never expire.
func newRawStore(store string, capacity int, ttl time.Duration) (rawStore, error) {
	switch store {
	case "ristretto":
		c, err := ristretto.NewCache(&ristretto.Config[string, val]{
			NumCounters: 10 * int64(capacity),
			MaxCost:     int64(capacity),
			BufferItems: 64,
		})
		if err != nil {
			return nil, err
		}
		return &rawRistretto{c: c, ttl: ttl}, nil
	case "otter":
		o := &otter.Options[string, val]{MaximumSize: capacity}
		if ttl > 0 {
			o.ExpiryCalculator = otter.ExpiryWriting[string, val](ttl)
		}
		c, err := otter.New(o)
		if err != nil {
			return nil, err
		}
		return rawOtter{c}, nil
	case "lru":
		c, err := lru.New[string, timed](capacity)
		if err != nil {
			return nil, err
		}
		return &rawLRU{c: c, ttl: ttl}, nil
	case "theine":
		return newRawTheine(capacity)
	case "sturdyc":
		return newRawSturdyc(capacity), nil
	}
	return nil, fmt.Errorf("no store %q", store)
}

type rawRistretto struct {
	c   *ristretto.Cache[string, val]
	ttl time.Duration
}

func (r *rawRistretto) get(key string) (val, bool) { return r.c.Get(key) }
func (r *rawRistretto) set(key string, v val)      { r.c.SetWithTTL(key, v, 1, r.ttl) }
func (r *rawRistretto) close()                     { r.c.Close() }

type rawOtter struct{ c *otter.Cache[string, val] }

func (r rawOtter) get(key string) (val, bool) { return r.c.GetIfPresent(key) }
func (r rawOtter) set(key string, v val)      { r.c.Set(key, v) }
func (r rawOtter) close()                     { r.c.StopAllGoroutines() }

// timed is an LRU entry with the expiry that golang-lru does not keep.
type timed struct {
	v       val
	expires int64 // Unix nanoseconds; 0: never
}

type rawLRU struct {
	c   *lru.Cache[string, timed]
	ttl time.Duration
}

func (r *rawLRU) get(key string) (val, bool) {
	e, ok := r.c.Get(key)
	if !ok || (e.expires != 0 && time.Now().UnixNano() >= e.expires) {
		return val{}, false
	}
	return e.v, true
}

func (r *rawLRU) set(key string, v val) {
	e := timed{v: v}
	if r.ttl > 0 {
		e.expires = time.Now().Add(r.ttl).UnixNano()
	}
	r.c.Add(key, e)
}

func (r *rawLRU) close() {}
