package otterstore_test

import (
	"flag"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/otterstore"
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

// BenchmarkMemory reports the heap bytes per cached entry ("B/entry") of a
// full otterstore of N entries (-entries, a million by default, ten
// thousand with -short), int keys and *int64 values living an hour, filled
// through a Loader's GetOrLoad (impl=loader) and by the Store's Set
// (impl=store), beside otter holding the same values with per-entry expiry
// (an ExpiryCalculator), as New configures it (impl=backend). ns/op is the
// time of one fill of N entries. Compare with benchstat -col /impl; see
// storetest.BenchmarkMemory.
func BenchmarkMemory(b *testing.B) {
	open := func(b *testing.B, n int) flightcache.Store[int, *int64] {
		s, err := otterstore.New[int, *int64](n)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	storetest.BenchmarkMemory(b, entries(),
		storetest.LoaderFill("loader", open),
		storetest.StoreFill("store", open),
		storetest.MemImpl{Name: "backend", Fill: func(b *testing.B, n int, value func(int) *int64) storetest.Filled {
			c, err := otter.New(&otter.Options[int, *int64]{
				MaximumSize: n,
				ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[int, *int64]) time.Duration {
					return storetest.MemoryTTL
				}),
			})
			if err != nil {
				b.Fatal(err)
			}
			for k := range n {
				c.Set(k, value(k))
			}
			return storetest.Filled{
				Has: func(key int) bool {
					v, ok := c.GetIfPresent(key)
					return ok && v != nil
				},
				Release: func() { c.StopAllGoroutines() },
			}
		}},
	)
}
