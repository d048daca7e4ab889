package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// hitResult is one contender's fresh hits on one key, through its loader and
// through its store's own Get, in every round.
type hitResult struct {
	c                       contender
	loaderNs, rawNs, ratio  sample
	loaderAllocs, rawAllocs sample
	loadsDuring             int64
}

// parallel calls body from GOMAXPROCS goroutines for about d, each call doing
// n operations, and returns the wall time and the allocations per operation,
// as testing.B.RunParallel reports them.
func parallel(d time.Duration, body func(n int)) (nsPerOp, allocsPerOp float64) {
	const batch = 128
	var (
		ops      atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
		ms0, ms1 runtime.MemStats
	)
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for !stop.Load() {
				body(batch)
				ops.Add(batch)
			}
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	n := float64(ops.Load())
	return float64(elapsed) / n, float64(ms1.Mallocs-ms0.Mallocs) / n
}

// runHit measures, for every contender, a fresh hit on one pre-filled key
// read by every processor at once: through the contender (loader) and with
// the Get of the store it reads (raw), one after the other in each round,
// contenders interleaved, for rounds rounds of d each.
func runHit(cs []contender, rounds int, d time.Duration) ([]hitResult, error) {
	ctx := context.Background()
	const key = "k0"
	res := make([]hitResult, len(cs))
	caches := make([]cache, len(cs))
	srcs := make([]*source, len(cs))
	defer func() {
		for _, c := range caches {
			if c != nil {
				c.close()
			}
		}
	}()
	for i, c := range cs {
		srcs[i] = newSource(0, 1)
		// Every contender expires entries, an hour after they are loaded, so
		// that every hit pays for the expiry check it would pay in service.
		cc, err := c.new(setup{capacity: 1000, fresh: time.Hour, load: srcs[i].load})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		caches[i] = cc
		res[i].c = c
		if err := fillOne(ctx, cc, key); err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
	}
	loader := func(c cache) func(int) {
		return func(n int) {
			for range n {
				if _, err := c.get(ctx, key); err != nil {
					panic(err)
				}
			}
		}
	}
	raw := func(c cache) func(int) {
		return func(n int) {
			for range n {
				if _, ok := c.rawGet(key); !ok {
					panic("raw miss on a pre-filled key")
				}
			}
		}
	}
	// Warm up every path once.
	for _, c := range caches {
		parallel(d/4, loader(c))
		parallel(d/4, raw(c))
	}
	before := make([]int64, len(cs))
	for i := range srcs {
		before[i] = srcs[i].loads.Load()
	}
	for round := range rounds {
		for j := range cs {
			i := (j + round) % len(cs)
			var lns, lal, rns, ral float64
			if round%2 == 0 {
				lns, lal = parallel(d, loader(caches[i]))
				rns, ral = parallel(d, raw(caches[i]))
			} else {
				rns, ral = parallel(d, raw(caches[i]))
				lns, lal = parallel(d, loader(caches[i]))
			}
			r := &res[i]
			r.loaderNs = append(r.loaderNs, lns)
			r.rawNs = append(r.rawNs, rns)
			r.ratio = append(r.ratio, lns/rns)
			r.loaderAllocs = append(r.loaderAllocs, lal)
			r.rawAllocs = append(r.rawAllocs, ral)
		}
		fmt.Fprintf(os.Stderr, "hit: round %d/%d done\n", round+1, rounds)
	}
	for i := range srcs {
		res[i].loadsDuring = srcs[i].loads.Load() - before[i]
	}
	return res, nil
}

// fillOne loads key and waits until both the contender and its store's own
// Get see it (ristretto applies writes later).
func fillOne(ctx context.Context, c cache, key string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.get(ctx, key); err != nil {
			return err
		}
		if _, ok := c.rawGet(key); ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never appeared in the store", key)
		}
		time.Sleep(time.Millisecond)
	}
}

func writeHit(w io.Writer, rs []hitResult, rounds int, d time.Duration) {
	fmt.Fprintf(w, "## Hit\n\nOne pre-filled key (entries expire after an hour), read by %d goroutines at once (GOMAXPROCS) for %v per measurement, through the contender and with the Get of the store it reads, back to back in each of %d rounds, contenders interleaved. Median (min–max) of the rounds; the ratio is the median of the per-round ratios.\n\n",
		runtime.GOMAXPROCS(0), d, rounds)
	t := newTable("contender", ">through the loader", ">store's own Get", ">ratio", ">allocs/op loader", ">allocs/op store", ">loads during")
	for _, r := range rs {
		t.add(r.c.name, spread(r.loaderNs, nsf), spread(r.rawNs, nsf), spread(r.ratio, f2Str)+"×",
			f2Str(r.loaderAllocs.median()), f2Str(r.rawAllocs.median()), fmt.Sprint(r.loadsDuring))
	}
	t.write(w)
	fmt.Fprintln(w, "The store's own Get: the flightcache.Store's Get for flightcache; the store's Get for the hand-written compositions; otter's GetIfPresent for otter's loader; sturdyc's Get; for theine, whose loading cache has no Get that does not load, a plain theine cache holding the same entry.")
	fmt.Fprintln(w)
}

// nsf prints nanoseconds per operation with one decimal.
func nsf(v float64) string { return fmt.Sprintf("%.1fns", v) }
