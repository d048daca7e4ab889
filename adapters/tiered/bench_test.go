package tiered_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
	"github.com/flightcache/flightcache/adapters/tiered"
)

// Compare each pair with benchstat:
//
//	go test -run x -bench 'Hit' -benchmem -count 10 ./adapters/tiered | tee hit.txt
//	benchstat -col /via hit.txt

// BenchmarkTieredHit is a hit in the local tier, through tiered and straight
// from the local store.
func BenchmarkTieredHit(b *testing.B) {
	ctx := context.Background()
	local, _ := lrustore.New[string, string](1000)
	shared, _ := lrustore.New[string, string](1000)
	s := tiered.New[string, string](local, shared)
	s.Set(ctx, "forever", flightcache.Entry[string]{Value: "v"})
	// A copy with a FreshUntil costs tiered a clock reading: is it fresh?
	s.Set(ctx, "fresh", flightcache.Entry[string]{Value: "v", FreshUntil: flightcache.DeadlineOf(time.Now().Add(time.Hour))})
	for _, key := range []string{"forever", "fresh"} {
		for _, via := range []struct {
			name  string
			store flightcache.Store[string, string]
		}{{"local", local}, {"tiered", s}} {
			b.Run("key="+key+"/via="+via.name, func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, ok, _ := via.store.Get(ctx, key); !ok {
							b.Fatal("miss")
						}
					}
				})
			})
		}
	}
}

type product struct {
	ID    int
	Name  string
	Price float64
}

// BenchmarkSharedHit is a hit in Redis, through redisstore and as a raw
// go-redis GET followed by the same JSON decoding.
func BenchmarkSharedHit(b *testing.B) {
	ctx := context.Background()
	c := redistest.Client(b)
	prefix := redistest.Prefix(b)
	s, err := redisstore.New[string, product](c, &redisstore.Options[string, product]{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	p := product{ID: 7, Name: "kettle", Price: 24.5}
	s.Set(ctx, "k", flightcache.Entry[product]{Value: p})
	raw, _ := json.Marshal(p)
	c.Set(ctx, prefix+"raw", raw, 0)

	b.Run("via=go-redis", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := c.Get(ctx, prefix+"raw").Bytes()
			if err != nil {
				b.Fatal(err)
			}
			var v product
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("via=redisstore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := s.Get(ctx, "k"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// BenchmarkFleetExpiryStorm runs four instances on one Redis, each with 8
// readers over 50 hot keys that go stale every 100ms (stale-while-revalidate
// on, invalidation subscribed), for one second per op, and reports source
// loads per key per freshness period across the whole fleet.
func BenchmarkFleetExpiryStorm(b *testing.B) {
	const instances, readers, keys = 4, 8, 50
	const freshFor, run = 100 * time.Millisecond, time.Second
	c := redistest.Client(b)
	for _, lease := range []bool{true, false} {
		b.Run(fmt.Sprintf("lease=%v", lease), func(b *testing.B) {
			var loads, periods float64
			for b.Loop() {
				prefix := redistest.Prefix(b)
				var n atomic.Int64
				load := func(_ context.Context, key string) (string, error) {
					n.Add(1)
					time.Sleep(10 * time.Millisecond)
					return key, nil
				}
				stop := time.Now().Add(run)
				var wg sync.WaitGroup
				for range instances {
					in := newInstance(b, c, prefix, lease, true, flightcache.Options{FreshFor: freshFor, StaleFor: freshFor})
					for r := range readers {
						wg.Go(func() {
							rng := rand.New(rand.NewPCG(uint64(r), 1))
							for time.Now().Before(stop) {
								in.loader.GetOrLoad(context.Background(), fmt.Sprint("key-", rng.IntN(keys)), load)
							}
						})
					}
				}
				wg.Wait()
				loads += float64(n.Load())
				periods += float64(run / freshFor)
			}
			b.ReportMetric(loads/periods/keys, "loads/key/period")
		})
	}
}
