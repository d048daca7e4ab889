package flightcache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/ristrettostore"
)

// Compare the rows of one store with benchstat:
//
//	go test -run x -bench Hit -benchmem -count 10 . | tee hit.txt
//	benchstat -col /via hit.txt

type benchStore struct {
	name  string
	store flightcache.Store[string, string]
	close func()
}

func benchStores(b *testing.B) []benchStore {
	lru, err := lrustore.New[string, string](100_000)
	if err != nil {
		b.Fatal(err)
	}
	ris, err := ristrettostore.New[string, string](100_000)
	if err != nil {
		b.Fatal(err)
	}
	return []benchStore{
		{"lrustore", lru, func() {}},
		{"ristrettostore", ris, func() { ris.Close() }},
	}
}

// BenchmarkHit is a fresh hit on one key with every core reading, through the
// Loader and straight from the store it wraps.
func BenchmarkHit(b *testing.B) {
	ctx := context.Background()
	for _, s := range benchStores(b) {
		l, err := flightcache.New(s.store, &flightcache.Options{FreshFor: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		load := func(context.Context, string) (string, error) { return "v", nil }
		if _, err := l.GetOrLoad(ctx, "hot", load); err != nil {
			b.Fatal(err)
		}
		b.Run("store="+s.name+"/via=store", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, ok, _ := s.store.Get(ctx, "hot"); !ok {
						b.Fatal("miss")
					}
				}
			})
		})
		b.Run("store="+s.name+"/via=loader", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.GetOrLoad(ctx, "hot", load); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		l.Close()
		s.close()
	}
}

// BenchmarkMissBurst releases 1,000 goroutines on one cold key per iteration
// and reports the loads each burst caused (it must be 1).
func BenchmarkMissBurst(b *testing.B) {
	const callers = 1000
	ctx := context.Background()
	for _, name := range []string{"lrustore", "ristrettostore"} {
		b.Run("store="+name, func(b *testing.B) {
			// A new store each time, so that every burst meets a cold key.
			s := benchStores(b)[map[string]int{"lrustore": 0, "ristrettostore": 1}[name]]
			defer s.close()
			l, err := flightcache.New(s.store, &flightcache.Options{FreshFor: time.Hour})
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
