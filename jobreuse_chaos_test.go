package flightcache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// Many goroutines run every kind of fill at once over reused jobs: inline
// and handed-off misses, MaxBatch-split batches, Loader.Refresh, stale and
// early refreshes, with loads that answer, fail, panic, call
// runtime.Goexit, hang past LoadTimeout (honouring their context or not),
// and call SetPolicy and Previous from the load and from goroutines they
// start that run after it returned, while Set and Invalidate race them.
// Every value a caller gets belongs to its key, every Previous to its key,
// and every context a load kept is ended and reaches nothing afterwards.
// Run with -race.
func TestEveryKindOfFillAtOnceOverReusedJobs(t *testing.T) {
	for _, lease := range []string{"none", "one", "many"} {
		t.Run("lease="+lease, func(t *testing.T) {
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			chaos(t, seed, lease)
		})
	}
}

func chaos(t *testing.T, seed uint64, lease string) {
	// The Store watches the contexts it is given, on goroutines of its
	// own; as a Leaser, it grants every lease with a release that now and
	// then panics; as a BatchLeaser, it takes in one call the leases of
	// every other key it is asked for, the others being leased one by one.
	var watchers, late sync.WaitGroup
	var n atomic.Int64
	watch := func(ctx context.Context) {
		if n.Add(1)%3 != 0 || ctx.Done() == nil {
			return // a caller's context that never ends is not watched
		}
		watchers.Go(func() {
			<-ctx.Done()
			if ctx.Err() == nil {
				panic("a fill context's Err is nil once Done is closed")
			}
		})
	}
	mem := newMemStore[string]()
	mem.watch = watch
	leaser := &leasingStore{memStore: mem, lease: func(ctx context.Context, _ string) (func(), error) {
		watch(ctx)
		i := n.Add(1)
		return func() {
			if i%7 == 0 {
				panic("lease release panics")
			}
		}, nil
	}}
	var store flightcache.Store[string, string] = mem
	switch lease {
	case "one":
		store = leaser
	case "many":
		store = &batchLeasingStore{leasingStore: leaser, leaseMany: func(ctx context.Context, keys []string) ([]string, func(), error) {
			watch(ctx)
			var taken []string
			for i, k := range keys {
				if i%2 == 0 {
					taken = append(taken, k)
				}
			}
			i := n.Add(1)
			return taken, func() {
				if i%5 == 0 {
					panic("batch lease release panics")
				}
			}, nil
		}}
	}
	l, err := flightcache.New(store, &flightcache.Options{
		FreshFor:     2 * time.Millisecond,
		StaleFor:     time.Hour,
		EarlyRefresh: 1,
		LoadTimeout:  20 * time.Millisecond,
		MaxBatch:     3,
		Recorder:     new(stats.Counter),
		Logger:       slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	stop := make(chan struct{}) // frees the loads that ignore their context

	const keys, workers, ops = 12, 8, 500
	var mu sync.Mutex
	var kept []context.Context
	keep := func(ctx context.Context) {
		mu.Lock()
		kept = append(kept, ctx)
		mu.Unlock()
	}
	belongs := func(key, v string) bool {
		return strings.HasPrefix(v, "v-"+key+"-") || v == "set-"+key
	}
	checkPrevious := func(ctx context.Context, key string) {
		if prev, ok := flightcache.Previous[string](ctx, key); ok && !prev.Missing {
			assert.True(t, belongs(key, prev.Value), "Previous of %s is %q", key, prev.Value)
		}
	}

	// behave is what a load does for key in mode; it returns, or panics, or
	// ends its goroutine.
	behave := func(ctx context.Context, key string, mode int, rng *rand.Rand) (string, error) {
		keep(ctx)
		checkPrevious(ctx, key)
		returned := make(chan struct{})
		defer close(returned)
		if mode%2 == 0 {
			_ = flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Millisecond, StaleFor: time.Hour})
		}
		if mode%3 == 0 {
			// A goroutine the load started, which speaks after the load
			// returned: it must reach nothing, or this fill only.
			late.Go(func() {
				<-returned
				_ = flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour})
				checkPrevious(ctx, key)
				_, _ = flightcache.Previous[string](ctx, "k0")
			})
		}
		switch mode % 9 {
		case 0:
			return "", errors.New("load failed")
		case 1:
			return "", flightcache.ErrNotFound
		case 2:
			panic("load panics")
		case 3:
			runtime.Goexit()
		case 4:
			<-ctx.Done()
			return "", ctx.Err()
		case 5:
			if rng.IntN(4) == 0 {
				select {
				case <-stop:
				case <-time.After(30 * time.Millisecond):
				}
			}
		}
		return fmt.Sprintf("v-%s-%d", key, mode), nil
	}

	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		type op struct {
			kind, mode int
			keys       []string
			cancelable bool
		}
		plan := make([]op, ops)
		for i := range plan {
			o := op{kind: rng.IntN(10), mode: rng.IntN(40), cancelable: rng.IntN(2) == 0}
			for range 1 + rng.IntN(6) {
				o.keys = append(o.keys, fmt.Sprint("k", rng.IntN(keys)))
			}
			plan[i] = o
		}
		lrng := rand.New(rand.NewPCG(seed, uint64(w)+1000))
		var lmu sync.Mutex
		pick := func() int {
			lmu.Lock()
			defer lmu.Unlock()
			return lrng.IntN(40)
		}
		chance := func() *rand.Rand {
			lmu.Lock()
			defer lmu.Unlock()
			return rand.New(rand.NewPCG(lrng.Uint64(), 0))
		}
		wg.Go(func() {
			for _, o := range plan {
				ctx := context.Context(context.Background())
				cancel := context.CancelFunc(func() {})
				if o.cancelable {
					ctx, cancel = context.WithCancel(ctx)
				}
				mode := o.mode
				if o.mode >= 20 {
					mode = 5 // mostly loads that answer
				}
				load := func(lc context.Context, key string) (string, error) {
					return behave(lc, key, mode, chance())
				}
				batch := func(lc context.Context, ks []string) (map[string]string, error) {
					m := pick()
					out := make(map[string]string, len(ks))
					for _, k := range ks {
						checkPrevious(lc, k)
						out[k] = fmt.Sprintf("v-%s-b", k)
					}
					if m%5 == 0 {
						_, err := behave(lc, ks[0], m, chance())
						if err != nil {
							return nil, err
						}
					}
					return out, nil
				}
				done := make(chan struct{})
				go func() { // a load's Goexit ends this goroutine, not the worker
					defer close(done)
					k := o.keys[0]
					switch o.kind {
					case 0, 1, 2:
						if v, err := l.GetOrLoad(ctx, k, load); err == nil {
							assert.True(t, belongs(k, v), "%s got %q", k, v)
						}
					case 3, 4, 5:
						m, _ := l.GetOrLoadMany(ctx, o.keys, batch)
						for mk, v := range m {
							assert.True(t, belongs(mk, v), "%s got %q", mk, v)
						}
					case 6:
						_ = l.Refresh(ctx, k, load)
					case 7:
						_ = l.Set(ctx, k, "set-"+k)
					case 8:
						_ = l.Invalidate(ctx, k)
					case 9:
						if o.cancelable {
							cancel() // a caller that leaves at once
						}
						_, _ = l.GetOrLoad(ctx, k, load)
					}
				}()
				<-done
				cancel()
			}
		})
	}
	wg.Wait()
	close(stop)
	require.NoError(t, l.Close())
	late.Wait()
	watchers.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, c := range kept {
		<-c.Done()
		assert.Error(t, c.Err())
		assert.Error(t, context.Cause(c))
		assert.Error(t, flightcache.SetPolicy(c, "k0", flightcache.EntryPolicy{}))
		_, ok := flightcache.Previous[string](c, "k0")
		assert.False(t, ok)
	}
	t.Logf("%d load contexts checked; %+v", len(kept), l.Stats())
}
