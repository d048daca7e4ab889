package storetest

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
)

// Payload stands for what a service caches: a pointer to a decoded row. The
// Get benchmarks cache one per key.
type Payload struct {
	ID   int
	Name string
}

// GetImpl is one way of reading hot keys that BenchmarkGets measures: the
// adapter under test, the library it wraps holding the same entries, or
// that library holding bare values.
type GetImpl struct {
	// Name names the sub-benchmark ("impl=Name"), so that benchstat -col
	// /impl compares the ways side by side.
	Name string
	// Open fills a new cache with values and returns a read of one key that
	// reports whether it hit. It may register clean-ups with b.Cleanup.
	Open func(b *testing.B, values map[string]*Payload) (get func(key string) bool)
}

// StoreGets is the GetImpl of a Store: open returns a new, empty Store;
// each value is Set fresh for an hour and read through the
// flightcache.Store interface, as the Loader calls it.
func StoreGets(name string, open func(b *testing.B) flightcache.Store[string, *Payload]) GetImpl {
	return GetImpl{Name: name, Open: func(b *testing.B, values map[string]*Payload) func(string) bool {
		ctx := context.Background()
		s := open(b)
		for k, v := range values {
			if err := s.Set(ctx, k, flightcache.Entry[*Payload]{Value: v, ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour))}); err != nil {
				b.Fatal(err)
			}
		}
		return func(k string) bool {
			e, ok, err := s.Get(ctx, k)
			return ok && err == nil && e.Value != nil
		}
	}}
}

// StoreRefGets is StoreGets reading with GetRef, as a Loader over a
// flightcache.RefStore does; a Store that is not one fails the benchmark.
func StoreRefGets(name string, open func(b *testing.B) flightcache.Store[string, *Payload]) GetImpl {
	return GetImpl{Name: name, Open: func(b *testing.B, values map[string]*Payload) func(string) bool {
		ctx := context.Background()
		s, ok := open(b).(flightcache.RefStore[string, *Payload])
		if !ok {
			b.Fatal("the Store is not a flightcache.RefStore")
		}
		for k, v := range values {
			if err := s.Set(ctx, k, flightcache.Entry[*Payload]{Value: v, ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour))}); err != nil {
				b.Fatal(err)
			}
		}
		return func(k string) bool {
			e, ok, err := s.GetRef(ctx, k)
			return ok && err == nil && e.Value != nil
		}
	}}
}

// BenchmarkGets runs every impl under the same read loads, one after the
// other within each: 1 or 1,000 hot keys, read by GOMAXPROCS goroutines or
// by 16, so that contention shows on a small machine too. Sub-benchmarks are
// named "keys=N/readers=R/impl=Name". An adapter's Get is compared with its
// backend's this way (benchstat -col /impl).
func BenchmarkGets(b *testing.B, impls ...GetImpl) {
	for _, shape := range []struct{ keys, readers int }{{1, 0}, {1, 16}, {1000, 0}, {1000, 16}} {
		keys := make([]string, shape.keys)
		values := make(map[string]*Payload, shape.keys)
		for i := range keys {
			keys[i] = "key-" + strconv.Itoa(i)
			values[keys[i]] = &Payload{ID: i, Name: keys[i]}
		}
		readers := "procs"
		if shape.readers > 0 {
			readers = strconv.Itoa(shape.readers)
		}
		for _, impl := range impls {
			b.Run(fmt.Sprintf("keys=%d/readers=%s/impl=%s", shape.keys, readers, impl.Name), func(b *testing.B) {
				get := impl.Open(b, values)
				var start atomic.Int64
				readInParallel(b, shape.readers, func() func() error {
					// Each goroutine reads the keys in turn, from a
					// start of its own.
					i := int(start.Add(7919) % int64(len(keys)))
					return func() error {
						if !get(keys[i]) {
							return fmt.Errorf("a miss on %q", keys[i])
						}
						if i++; i == len(keys) {
							i = 0
						}
						return nil
					}
				})
			})
		}
	}
}

// readInParallel runs the reads that newReader makes, one reader per
// goroutine, on readers goroutines (0: one per GOMAXPROCS), reporting
// allocations and the first error.
func readInParallel(b *testing.B, readers int, newReader func() func() error) {
	if readers > 0 {
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((readers + procs - 1) / procs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		read := newReader()
		for pb.Next() {
			if err := read(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
