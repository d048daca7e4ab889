package flightcache_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
)

// zipfSource costs one round trip per call plus a little per key, like a
// database answering WHERE id IN (...).
type zipfSource struct {
	roundTrips, keys atomic.Int64
}

func (s *zipfSource) load(_ context.Context, ids []int) (map[int]int, error) {
	s.roundTrips.Add(1)
	s.keys.Add(int64(len(ids)))
	time.Sleep(time.Millisecond + time.Duration(len(ids))*10*time.Microsecond)
	out := make(map[int]int, len(ids))
	for _, id := range ids {
		out[id] = id
	}
	return out, nil
}

func (s *zipfSource) loadOne(ctx context.Context, id int) (int, error) {
	m, err := s.load(ctx, []int{id})
	return m[id], err
}

// BenchmarkBatchZipf runs 1,000 requests of 50 keys drawn from a Zipf
// distribution over 10,000 keys, 8 requests at a time, from a cold cache:
// one op is all 1,000. It reports the source's round trips and keys loaded.
//
//	go test -run x -bench BatchZipf -count 5 . | benchstat -col /via -
func BenchmarkBatchZipf(b *testing.B) {
	const (
		requests = 1000
		perReq   = 50
		keySpace = 10_000
		workers  = 8
	)
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.01, 1, keySpace-1)
	reqs := make([][]int, requests)
	for i := range reqs {
		for range perReq {
			reqs[i] = append(reqs[i], int(zipf.Uint64()))
		}
	}

	ways := []struct {
		name  string
		serve func(l *flightcache.Loader[int, int], src *zipfSource, keys []int) error
	}{
		{"GetOrLoadMany", func(l *flightcache.Loader[int, int], src *zipfSource, keys []int) error {
			_, err := l.GetOrLoadMany(context.Background(), keys, src.load)
			return err
		}},
		{"GetOrLoad×50", func(l *flightcache.Loader[int, int], src *zipfSource, keys []int) error {
			var wg sync.WaitGroup
			var failed atomic.Value
			for _, k := range keys {
				wg.Go(func() {
					if _, err := l.GetOrLoad(context.Background(), k, src.loadOne); err != nil {
						failed.Store(err)
					}
				})
			}
			wg.Wait()
			err, _ := failed.Load().(error)
			return err
		}},
		{"no-cache", func(_ *flightcache.Loader[int, int], src *zipfSource, keys []int) error {
			_, err := src.load(context.Background(), keys)
			return err
		}},
	}
	for _, way := range ways {
		b.Run("via="+way.name, func(b *testing.B) {
			var trips, keys int64
			for b.Loop() {
				store, err := lrustore.New[int, int](keySpace)
				if err != nil {
					b.Fatal(err)
				}
				l, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				src := &zipfSource{}
				next := atomic.Int64{}
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for i := next.Add(1) - 1; i < requests; i = next.Add(1) - 1 {
							if err := way.serve(l, src, reqs[i]); err != nil {
								b.Error(err)
							}
						}
					})
				}
				wg.Wait()
				l.Close()
				trips += src.roundTrips.Load()
				keys += src.keys.Load()
			}
			b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
			b.ReportMetric(float64(keys)/float64(b.N), "keys-loaded/op")
		})
	}
}
