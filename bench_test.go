package flightcache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	xsync "golang.org/x/sync/singleflight"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/storetest"
)

// Compare the rows of one store with benchstat:
//
//	go test -run x -bench Loader -benchmem -count 10 . | tee hit.txt
//	benchstat -col /via hit.txt

func openLRU(b *testing.B) flightcache.Store[string, string] {
	s, err := lrustore.New[string, string](100_000)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkLoader is storetest.BenchmarkLoader over lrustore: a Get from the
// store, a fresh hit and a stale hit through the Loader, 16 goroutines
// reading. The other adapters run it in their own packages.
func BenchmarkLoader(b *testing.B) { storetest.BenchmarkLoader(b, openLRU) }

// BenchmarkMissBurst releases 1,000 goroutines on one cold key per iteration
// and reports the loads each burst caused (it must be 1).
func BenchmarkMissBurst(b *testing.B) {
	const callers = 1000
	ctx := context.Background()
	for _, s := range []struct {
		name string
		open func(b *testing.B) flightcache.Store[string, string]
	}{{"lrustore", openLRU}} {
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
// of the miss path itself, allocations included, through the Loader over
// lrustore (impl=loader) and through the composition users write by hand
// (impl=naive): golang-lru's Cache looked in, and on a miss a load through
// golang.org/x/sync/singleflight that adds the value. The hand-made one
// keeps few of the Loader's rules (no deadline, no write order, no second
// look at the store, no panic contained): it is the floor, not a peer.
// Compare with benchstat -col /impl.
func BenchmarkMiss(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	load := func(_ context.Context, key string) (string, error) { return key, nil }
	b.Run("impl=loader", func(b *testing.B) {
		l, err := flightcache.New(openLRU(b), &flightcache.Options{FreshFor: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		missEach(b, keys, func(key string) (string, error) { return l.GetOrLoad(ctx, key, load) }, func() {
			for _, k := range keys {
				_ = l.Invalidate(ctx, k)
			}
		})
	})
	b.Run("impl=naive", func(b *testing.B) {
		c, err := lru.New[string, string](100_000)
		if err != nil {
			b.Fatal(err)
		}
		var g xsync.Group
		missEach(b, keys, func(key string) (string, error) {
			if v, ok := c.Get(key); ok {
				return v, nil
			}
			v, err, _ := g.Do(key, func() (any, error) {
				v, err := load(ctx, key)
				if err == nil {
					c.Add(key, v)
				}
				return v, err
			})
			s, _ := v.(string) // nil when the load failed
			return s, err
		}, c.Purge)
	})
}

// missEach gets keys one after another with get, so that every get misses:
// before the first key, and again after the last, empty empties the cache,
// outside the timer.
func missEach(b *testing.B, keys []string, get func(string) (string, error), empty func()) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(keys) == 0 {
			b.StopTimer()
			empty()
			b.StartTimer()
		}
		if _, err := get(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
