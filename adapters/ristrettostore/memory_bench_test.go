package ristrettostore_test

import (
	"flag"
	"testing"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/ristrettostore"
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
// full ristrettostore of N entries (-entries, a million by default, ten
// thousand with -short), int keys and *int64 values living an hour, filled
// through a Loader's GetOrLoad (impl=loader) and by the Store's Set
// (impl=store), beside ristretto configured as New configures it for N
// entries (10 × N counters, a cost of 1 each) holding the same values,
// each Set with SetWithTTL and Wait, as the Store does (impl=backend).
// ns/op is the time of one fill of N entries. Compare with benchstat -col
// /impl; see storetest.BenchmarkMemory.
func BenchmarkMemory(b *testing.B) {
	open := func(b *testing.B, n int) flightcache.Store[int, *int64] {
		s, err := ristrettostore.New[int, *int64](int64(n))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	storetest.BenchmarkMemory(b, entries(),
		storetest.LoaderFill("loader", open),
		storetest.StoreFill("store", open),
		storetest.MemImpl{Name: "backend", Fill: func(b *testing.B, n int, value func(int) *int64) storetest.Filled {
			c, err := ristretto.NewCache(&ristretto.Config[int, *int64]{
				NumCounters: 10 * int64(n), MaxCost: int64(n), BufferItems: 64, IgnoreInternalCost: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			for k := range n {
				c.SetWithTTL(k, value(k), 1, storetest.MemoryTTL)
				c.Wait()
			}
			return storetest.Filled{
				Has: func(key int) bool {
					v, ok := c.Get(key)
					return ok && v != nil
				},
				Release: c.Close,
			}
		}},
	)
}
