package ristrettostore_test

import (
	"testing"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/ristrettostore"
	"github.com/flightcache/flightcache/storetest"
)

func openristrettostore(tb testing.TB) flightcache.Store[string, string] {
	s, err := ristrettostore.New[string, string](100_000)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestLoader runs storetest.RunLoader: one load per cold key however many
// callers burst in, and rule 8 under a random mix of calls, over ristrettostore.
func TestLoader(t *testing.T) {
	storetest.RunLoader(t, func(t *testing.T) flightcache.Store[string, string] { return openristrettostore(t) })
}

// BenchmarkLoader compares a Get from ristrettostore with fresh and stale hits through
// a Loader over it, 16 goroutines reading.
func BenchmarkLoader(b *testing.B) {
	storetest.BenchmarkLoader(b, func(b *testing.B) flightcache.Store[string, string] { return openristrettostore(b) })
}
