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

// chaosRun is the state of one run of chaos.
type chaosRun struct {
	t    *testing.T
	l    *flightcache.Loader[string, string]
	stop chan struct{} // frees the loads that ignore their context

	watchers, late sync.WaitGroup
	n              atomic.Int64

	mu   sync.Mutex // guards kept
	kept []context.Context
}

// chaosOp is one operation of a worker of chaos.
type chaosOp struct {
	kind, mode int
	keys       []string
	cancelable bool
}

func chaos(t *testing.T, seed uint64, lease string) {
	c := &chaosRun{t: t, stop: make(chan struct{})}
	l, err := flightcache.New(c.store(lease), &flightcache.Options{
		FreshFor:     2 * time.Millisecond,
		StaleFor:     time.Hour,
		EarlyRefresh: 1,
		LoadTimeout:  20 * time.Millisecond,
		MaxBatch:     3,
		Recorder:     new(stats.Counter),
		Logger:       slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	c.l = l

	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		plan := chaosPlan(rand.New(rand.NewPCG(seed, uint64(w))))
		lrng := rand.New(rand.NewPCG(seed, uint64(w)+1000))
		wg.Go(func() { c.work(plan, lrng) })
	}
	wg.Wait()
	close(c.stop)
	require.NoError(t, l.Close())
	c.late.Wait()
	c.watchers.Wait()
	c.checkKept()
	t.Logf("%d load contexts checked; %+v", len(c.kept), l.Stats())
}

// store is the Store of a run: it watches the contexts it is given, on
// goroutines of its own; as a Leaser (lease "one" or "many"), it grants
// every lease with a release that now and then panics; as a BatchLeaser
// ("many"), it takes in one call the leases of every other key it is asked
// for, the others being leased one by one.
func (c *chaosRun) store(lease string) flightcache.Store[string, string] {
	mem := newMemStore[string]()
	mem.watch = c.watch
	leaser := &leasingStore{memStore: mem, lease: func(ctx context.Context, _ string) (func(), error) {
		c.watch(ctx)
		i := c.n.Add(1)
		return func() {
			if i%7 == 0 {
				panic("lease release panics")
			}
		}, nil
	}}
	switch lease {
	case "one":
		return leaser
	case "many":
		return &batchLeasingStore{leasingStore: leaser, leaseMany: func(ctx context.Context, keys []string) ([]string, func(), error) {
			c.watch(ctx)
			var taken []string
			for i, k := range keys {
				if i%2 == 0 {
					taken = append(taken, k)
				}
			}
			i := c.n.Add(1)
			return taken, func() {
				if i%5 == 0 {
					panic("batch lease release panics")
				}
			}, nil
		}}
	}
	return mem
}

// watch checks, now and then, that a context the Store was given has an
// error once it is done.
func (c *chaosRun) watch(ctx context.Context) {
	if c.n.Add(1)%3 != 0 || ctx.Done() == nil {
		return // a caller's context that never ends is not watched
	}
	c.watchers.Go(func() {
		<-ctx.Done()
		if ctx.Err() == nil {
			panic("a fill context's Err is nil once Done is closed")
		}
	})
}

func (c *chaosRun) keep(ctx context.Context) {
	c.mu.Lock()
	c.kept = append(c.kept, ctx)
	c.mu.Unlock()
}

func chaosBelongs(key, v string) bool {
	return strings.HasPrefix(v, "v-"+key+"-") || v == "set-"+key
}

func (c *chaosRun) checkPrevious(ctx context.Context, key string) {
	if prev, ok := flightcache.Previous[string](ctx, key); ok && !prev.Missing {
		assert.True(c.t, chaosBelongs(key, prev.Value), "Previous of %s is %q", key, prev.Value)
	}
}

// behave is what a load does for key in mode; it returns, or panics, or
// ends its goroutine.
func (c *chaosRun) behave(ctx context.Context, key string, mode int, rng *rand.Rand) (string, error) {
	c.keep(ctx)
	c.checkPrevious(ctx, key)
	returned := make(chan struct{})
	defer close(returned)
	if mode%2 == 0 {
		_ = flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Millisecond, StaleFor: time.Hour})
	}
	if mode%3 == 0 {
		// A goroutine the load started, which speaks after the load
		// returned: it must reach nothing, or this fill only.
		c.late.Go(func() {
			<-returned
			_ = flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour})
			c.checkPrevious(ctx, key)
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
			case <-c.stop:
			case <-time.After(30 * time.Millisecond):
			}
		}
	}
	return fmt.Sprintf("v-%s-%d", key, mode), nil
}

// chaosPlan draws a worker's operations from rng.
func chaosPlan(rng *rand.Rand) []chaosOp {
	const keys, ops = 12, 500
	plan := make([]chaosOp, ops)
	for i := range plan {
		o := chaosOp{kind: rng.IntN(10), mode: rng.IntN(40), cancelable: rng.IntN(2) == 0}
		for range 1 + rng.IntN(6) {
			o.keys = append(o.keys, fmt.Sprint("k", rng.IntN(keys)))
		}
		plan[i] = o
	}
	return plan
}

// work runs a worker's plan; lrng draws what its loads do.
func (c *chaosRun) work(plan []chaosOp, lrng *rand.Rand) {
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
	for _, o := range plan {
		mode := o.mode
		if o.mode >= 20 {
			mode = 5 // mostly loads that answer
		}
		load := func(lc context.Context, key string) (string, error) {
			return c.behave(lc, key, mode, chance())
		}
		batch := func(lc context.Context, ks []string) (map[string]string, error) {
			m := pick()
			out := make(map[string]string, len(ks))
			for _, k := range ks {
				c.checkPrevious(lc, k)
				out[k] = fmt.Sprintf("v-%s-b", k)
			}
			if m%5 == 0 {
				if _, err := c.behave(lc, ks[0], m, chance()); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		done := make(chan struct{})
		go func() { // a load's Goexit ends this goroutine, not the worker
			defer close(done)
			c.do(o, load, batch)
		}()
		<-done
	}
}

// do runs the operation o with load and batch.
func (c *chaosRun) do(o chaosOp, load flightcache.LoadFunc[string, string], batch flightcache.BatchLoadFunc[string, string]) {
	ctx := context.Context(context.Background())
	cancel := context.CancelFunc(func() {})
	if o.cancelable {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	k := o.keys[0]
	switch o.kind {
	case 0, 1, 2:
		if v, err := c.l.GetOrLoad(ctx, k, load); err == nil {
			assert.True(c.t, chaosBelongs(k, v), "%s got %q", k, v)
		}
	case 3, 4, 5:
		m, _ := c.l.GetOrLoadMany(ctx, o.keys, batch)
		for mk, v := range m {
			assert.True(c.t, chaosBelongs(mk, v), "%s got %q", mk, v)
		}
	case 6:
		_ = c.l.Refresh(ctx, k, load)
	case 7:
		_ = c.l.Set(ctx, k, "set-"+k)
	case 8:
		_ = c.l.Invalidate(ctx, k)
	case 9:
		if o.cancelable {
			cancel() // a caller that leaves at once
		}
		_, _ = c.l.GetOrLoad(ctx, k, load)
	}
}

// checkKept checks that every context a load kept is ended and reaches
// nothing.
func (c *chaosRun) checkKept() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ctx := range c.kept {
		<-ctx.Done()
		assert.Error(c.t, ctx.Err())
		assert.Error(c.t, context.Cause(ctx))
		assert.Error(c.t, flightcache.SetPolicy(ctx, "k0", flightcache.EntryPolicy{}))
		_, ok := flightcache.Previous[string](ctx, "k0")
		assert.False(c.t, ok)
	}
}
