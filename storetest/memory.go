package storetest

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
)

// MemoryEntries is how many entries BenchmarkMemory fills by default: a
// million, the size at which a cache's per-entry memory matters.
const MemoryEntries = 1_000_000

// MemoryEntriesShort is how many entries BenchmarkMemory fills under
// -short: enough for the figure to mean something, few enough to take well
// under a second.
const MemoryEntriesShort = 10_000

// MemoryTTL is how long every entry BenchmarkMemory stores lives: longer than
// any run, so that none expires while it is measured.
const MemoryTTL = time.Hour

// Filled is a cache that a MemImpl has filled: Has reports whether it holds
// key, and Release releases it (stops its goroutines, if it has any), after
// which it is garbage.
type Filled struct {
	Has     func(key int) bool
	Release func()
}

// MemImpl is one way of holding entries whose heap BenchmarkMemory measures:
// an adapter under a Loader, the adapter alone, or the library it wraps
// holding the same values with the same per-entry expiry.
type MemImpl struct {
	// Name names the sub-benchmark ("impl=Name"), so that benchstat -col
	// /impl compares the ways side by side.
	Name string
	// Fill makes a new cache with room for n entries, configured as the
	// adapter configures its backend for n, and stores in it the keys 0 to
	// n-1, each with a value of its own, value(key), that expires after
	// MemoryTTL. Every entry must be in the cache when Fill returns.
	Fill func(b *testing.B, n int, value func(key int) *int64) Filled
}

// LoaderFill is the MemImpl of a Store under a Loader: open returns a new,
// empty Store with room for n entries (closed with the Loader if it is an
// io.Closer), and each key is loaded into it by GetOrLoad, on a Loader
// whose FreshFor is MemoryTTL, one key after the other.
func LoaderFill(name string, open func(b *testing.B, n int) flightcache.Store[int, *int64]) MemImpl {
	return MemImpl{Name: name, Fill: func(b *testing.B, n int, value func(int) *int64) Filled {
		ctx := context.Background()
		store := open(b, n)
		l, err := flightcache.New(store, &flightcache.Options{FreshFor: MemoryTTL})
		if err != nil {
			b.Fatal(err)
		}
		load := func(_ context.Context, key int) (*int64, error) { return value(key), nil }
		for k := range n {
			if _, err := l.GetOrLoad(ctx, k, load); err != nil {
				b.Fatal(err)
			}
		}
		return Filled{
			Has: func(key int) bool {
				e, ok, err := store.Get(ctx, key)
				return ok && err == nil && e.Value != nil
			},
			Release: func() { l.Close(); closeStore(store) },
		}
	}}
}

// StoreFill is the MemImpl of a Store alone: open returns a new, empty
// Store with room for n entries (closed on release if it is an io.Closer),
// and each key is Set into it with an Entry that is fresh, and expires,
// after MemoryTTL, as a Loader's FreshFor would make it.
func StoreFill(name string, open func(b *testing.B, n int) flightcache.Store[int, *int64]) MemImpl {
	return MemImpl{Name: name, Fill: func(b *testing.B, n int, value func(int) *int64) Filled {
		ctx := context.Background()
		store := open(b, n)
		for k := range n {
			now := time.Now()
			at := flightcache.DeadlineOf(now.Add(MemoryTTL))
			e := flightcache.Entry[*int64]{Value: value(k), FreshUntil: at, StaleUntil: at, ExpiresAt: at, LoadedAt: flightcache.DeadlineOf(now)}
			if err := store.Set(ctx, k, e); err != nil {
				b.Fatal(err)
			}
		}
		return Filled{
			Has: func(key int) bool {
				e, ok, err := store.Get(ctx, key)
				return ok && err == nil && e.Value != nil
			},
			Release: func() { closeStore(store) },
		}
	}}
}

func closeStore(store any) {
	if c, ok := store.(io.Closer); ok {
		c.Close()
	}
}

// BenchmarkMemory measures what a full cache of n entries weighs on the
// heap, for every impl in turn: the live heap (runtime.MemStats.HeapAlloc
// after a garbage collection) once the cache is made and filled, less the
// live heap before, divided by n. It reports it as "B/entry": bytes of heap
// per cached entry, the cache's own structures (tables, sketches, buffers)
// and the values it holds included. Each iteration fills a new cache, so an
// iteration's time (ns/op) is that of one fill of n entries, and the
// figure is the mean over the iterations. The keys are ints, the values
// *int64s: the smallest a cache holds, so that what the cache adds to each
// entry shows most. Sub-benchmarks are named "entries=N/impl=Name";
// benchstat -col /impl sets an adapter beside its backend.
func BenchmarkMemory(b *testing.B, n int, impls ...MemImpl) {
	for _, impl := range impls {
		b.Run(fmt.Sprintf("entries=%d/impl=%s", n, impl.Name), func(b *testing.B) {
			var sum float64
			for range b.N {
				b.StopTimer()
				before := liveHeap()
				b.StartTimer()
				filled := impl.Fill(b, n, func(key int) *int64 {
					v := int64(key)
					return &v
				})
				b.StopTimer()
				after := liveHeap()
				sum += float64(int64(after)-int64(before)) / float64(n)
				// Every key must be there, or the figure counts fewer
				// entries than it divides by.
				missing := 0
				for k := range n {
					if !filled.Has(k) {
						missing++
					}
				}
				filled.Release()
				if missing > 0 {
					b.Fatalf("%d of %d entries missing after the fill", missing, n)
				}
				b.StartTimer()
			}
			b.ReportMetric(sum/float64(b.N), "B/entry")
		})
	}
}

// liveHeap returns the bytes of heap held by live objects: HeapAlloc right
// after a collection, which sweeps every span before it returns.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
