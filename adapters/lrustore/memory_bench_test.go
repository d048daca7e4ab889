package lrustore_test

import (
	"flag"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/storetest"
)

var memEntries = flag.Int("entries", 0, "entries BenchmarkMemory fills (0: 1,000,000, or 10,000 with -short)")

// entries is the size BenchmarkMemory fills: -entries, or else a million
// (ten thousand under -short).
func entries() int {
	switch {
	case *memEntries > 0:
		return *memEntries
	case testing.Short():
		return storetest.MemoryEntriesShort
	}
	return storetest.MemoryEntries
}

// expiring is what a user of golang-lru keeps to give each entry an expiry of
// its own: the value and the instant it expires, by value in the list
// element. (golang-lru's expirable cache has one time to live for the
// whole cache, not one per entry.)
type expiring struct {
	value     *int64
	expiresAt int64
}

// BenchmarkMemory reports the heap bytes per cached entry ("B/entry") of a
// full lrustore of N entries (-entries, a million by default, ten thousand
// with -short), int keys and *int64 values living an hour, filled through a
// Loader's GetOrLoad (impl=loader) and by the Store's Set (impl=store),
// beside golang-lru holding the same values, each with its expiry
// (impl=backend). ns/op is the time of one fill of N entries. Compare with
// benchstat -col /impl; see storetest.BenchmarkMemory.
func BenchmarkMemory(b *testing.B) {
	open := func(b *testing.B, n int) flightcache.Store[int, *int64] {
		s, err := lrustore.New[int, *int64](n)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	storetest.BenchmarkMemory(b, entries(),
		storetest.LoaderFill("loader", open),
		storetest.StoreFill("store", open),
		storetest.MemImpl{Name: "backend", Fill: func(b *testing.B, n int, value func(int) *int64) storetest.Filled {
			c, err := lru.New[int, expiring](n)
			if err != nil {
				b.Fatal(err)
			}
			for k := range n {
				c.Add(k, expiring{value: value(k), expiresAt: time.Now().Add(storetest.MemoryTTL).UnixNano()})
			}
			return storetest.Filled{
				Has: func(key int) bool {
					e, ok := c.Peek(key)
					return ok && e.value != nil
				},
				Release: func() {},
			}
		}},
	)
}
