package flightcache_test

import (
	"testing"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/storetest"
)

// TestLoaderOverStores runs storetest.RunLoader (one load per cold key
// however many callers burst in; rule 8 under a random mix of calls) over
// the stores of this module. The other adapters run it in their own
// packages.
func TestLoaderOverStores(t *testing.T) {
	t.Run("map", func(t *testing.T) {
		storetest.RunLoader(t, func(*testing.T) flightcache.Store[string, string] { return newMemStore[string]() })
	})
	t.Run("lrustore", func(t *testing.T) {
		storetest.RunLoader(t, func(t *testing.T) flightcache.Store[string, string] {
			s, err := lrustore.New[string, string](10_000)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

// memoryStores are the in-memory Stores of this module, by name, for tests
// that port other caches' suites and must hold over each of them (the
// adapters with modules of their own run theirs in their packages).
var memoryStores = []struct {
	name string
	new  func(t *testing.T) flightcache.Store[string, string]
}{
	{"map", func(*testing.T) flightcache.Store[string, string] { return newMemStore[string]() }},
	{"lrustore", func(t *testing.T) flightcache.Store[string, string] {
		s, err := lrustore.New[string, string](10_000)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}
