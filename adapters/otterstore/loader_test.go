package otterstore_test

import (
	"testing"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/otterstore"
	"github.com/flightcache/flightcache/storetest"
)

func openotterstore(tb testing.TB) flightcache.Store[string, string] {
	s, err := otterstore.New[string, string](100_000)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestLoader runs storetest.RunLoader: one load per cold key however many
// callers burst in, and rule 8 under a random mix of calls, over otterstore.
func TestLoader(t *testing.T) {
	storetest.RunLoader(t, func(t *testing.T) flightcache.Store[string, string] { return openotterstore(t) })
}

// BenchmarkLoader compares a Get from otterstore with fresh and stale hits through
// a Loader over it, 16 goroutines reading.
func BenchmarkLoader(b *testing.B) {
	storetest.BenchmarkLoader(b, func(b *testing.B) flightcache.Store[string, string] { return openotterstore(b) })
}
