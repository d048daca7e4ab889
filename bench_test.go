package flightcache_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/otterstore"
	"github.com/flightcache/flightcache/adapters/ristrettostore"
)

// Compare the rows of one store with benchstat:
//
//	go test -run x -bench Hit -benchmem -count 10 . | tee hit.txt
//	benchstat -col /via hit.txt

// benchStore opens a store for a benchmark; the store is closed when the
// benchmark ends.
type benchStore struct {
	name string
	open func(b *testing.B) flightcache.Store[string, string]
}

var benchStores = []benchStore{
	{"lrustore", func(b *testing.B) flightcache.Store[string, string] {
		s, err := lrustore.New[string, string](100_000)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
	{"ristrettostore", func(b *testing.B) flightcache.Store[string, string] {
		s, err := ristrettostore.New[string, string](100_000)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}},
	{"otterstore", func(b *testing.B) flightcache.Store[string, string] {
		s, err := otterstore.New[string, string](100_000)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}},
}

// readers is how many goroutines read in the parallel benchmarks: more than
// a small machine has cores, so that contention shows on it too.
const readers = 16

// parallel runs body on readers goroutines whatever GOMAXPROCS is.
func parallel(b *testing.B, body func()) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((readers + procs - 1) / procs)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body()
		}
	})
}

// BenchmarkHit is a fresh hit on one key with 16 goroutines reading, through
// the Loader and straight from the store it wraps.
func BenchmarkHit(b *testing.B) {
	ctx := context.Background()
	for _, s := range benchStores {
		b.Run("store="+s.name, func(b *testing.B) {
			store := s.open(b)
			l, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			load := func(context.Context, string) (string, error) { return "v", nil }
			if _, err := l.GetOrLoad(ctx, "hot", load); err != nil {
				b.Fatal(err)
			}
			b.Run("via=store", func(b *testing.B) {
				b.ReportAllocs()
				parallel(b, func() {
					if _, ok, _ := store.Get(ctx, "hot"); !ok {
						b.Fatal("miss")
					}
				})
			})
			b.Run("via=loader", func(b *testing.B) {
				b.ReportAllocs()
				parallel(b, func() {
					if _, err := l.GetOrLoad(ctx, "hot", load); err != nil {
						b.Fatal(err)
					}
				})
			})
		})
	}
}

// BenchmarkStaleHit is a stale hit on one key whose refresh is running (the
// source is stuck), with 16 goroutines reading, against a fresh hit on the
// same store: a stale read that finds its refresh running must cost what a
// fresh one does.
func BenchmarkStaleHit(b *testing.B) {
	ctx := context.Background()
	for _, s := range benchStores {
		b.Run("store="+s.name, func(b *testing.B) {
			store := s.open(b)
			l, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Hour, LoadTimeout: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			stuck := make(chan struct{})
			defer func() {
				close(stuck)
				l.Close()
			}()
			load := func(context.Context, string) (string, error) {
				<-stuck
				return "v", nil
			}
			err = store.Set(ctx, "hot", flightcache.Entry[string]{
				Value: "old", FreshUntil: time.Now().Add(-time.Second), ExpiresAt: time.Now().Add(time.Hour),
			})
			if err != nil {
				b.Fatal(err)
			}
			if v, err := l.GetOrLoad(ctx, "hot", load); err != nil || v != "old" {
				b.Fatal(v, err)
			}
			b.ResetTimer()
			b.ReportAllocs()
			parallel(b, func() {
				if _, err := l.GetOrLoad(ctx, "hot", load); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkMissBurst releases 1,000 goroutines on one cold key per iteration
// and reports the loads each burst caused (it must be 1).
func BenchmarkMissBurst(b *testing.B) {
	const callers = 1000
	ctx := context.Background()
	for _, s := range benchStores {
		b.Run("store="+s.name, func(b *testing.B) {
			l, err := flightcache.New(s.open(b), &flightcache.Options{FreshFor: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var loads atomic.Int64
			load := func(_ context.Context, key string) (string, error) {
				loads.Add(1)
				time.Sleep(time.Millisecond) // a fast database
				return key, nil
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				key := fmt.Sprint("cold-", i)
				i++
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range callers {
					wg.Go(func() {
						<-start
						if _, err := l.GetOrLoad(ctx, key, load); err != nil {
							b.Error(err)
						}
					})
				}
				close(start)
				wg.Wait()
			}
			b.ReportMetric(float64(loads.Load())/float64(i), "loads/burst")
		})
	}
}

// BenchmarkMiss is one caller missing one cold key after another: the cost
// of the miss path itself, allocations included.
func BenchmarkMiss(b *testing.B) {
	ctx := context.Background()
	l, err := flightcache.New(benchStores[0].open(b), &flightcache.Options{FreshFor: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	load := func(_ context.Context, key string) (string, error) { return key, nil }
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(keys) == 0 {
			// Start again from an empty store.
			b.StopTimer()
			for _, k := range keys {
				_ = l.Invalidate(ctx, k)
			}
			b.StartTimer()
		}
		if _, err := l.GetOrLoad(ctx, keys[i%len(keys)], load); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
