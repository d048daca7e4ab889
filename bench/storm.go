package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/stats"
)

// stormConfig is the expiry-storm workload: hot keys loaded together, so
// that they all go stale together, read by many goroutines.
type stormConfig struct {
	keys     int
	freshFor time.Duration
	source   time.Duration
	readers  int
	duration time.Duration
}

// stormMode is one way of configuring the loader for the storm.
type stormMode struct {
	name string
	opts flightcache.Options
}

type stormResult struct {
	mode            string
	reads           uint64
	loads           int64
	loadsPerPeriod  float64 // loads per key per freshness period
	p50, p99, p9999 time.Duration
	max             time.Duration
	staleHits       uint64
	misses          uint64
	overlapping     int64 // loads of a key that started while another ran
}

func stormModes(c stormConfig) []stormMode {
	return []stormMode{
		{"plain hit (never expires)", flightcache.Options{}},
		{"expiry, no stale serving", flightcache.Options{FreshFor: c.freshFor}},
		{"stale-while-revalidate", flightcache.Options{FreshFor: c.freshFor, StaleFor: c.freshFor}},
		{"early refresh (XFetch, beta 1)", flightcache.Options{FreshFor: c.freshFor, EarlyRefresh: 1}},
		{"both", flightcache.Options{FreshFor: c.freshFor, StaleFor: c.freshFor, EarlyRefresh: 1}},
	}
}

func runStorm(c stormConfig, m stormMode) (stormResult, error) {
	store, err := lrustore.New[int, int64](c.keys * 2)
	if err != nil {
		return stormResult{}, err
	}
	var counter stats.Counter
	opts := m.opts
	opts.Recorder = &counter
	opts.MaxRefreshes = c.keys
	l, err := flightcache.New(store, &opts)
	if err != nil {
		return stormResult{}, err
	}
	defer l.Close()

	var loads, overlapping atomic.Int64
	running := make([]atomic.Int32, c.keys)
	load := func(_ context.Context, key int) (int64, error) {
		if running[key].Add(1) > 1 {
			overlapping.Add(1)
		}
		defer running[key].Add(-1)
		n := loads.Add(1)
		time.Sleep(c.source)
		return n, nil
	}

	// Load every key at once, so that all of them expire together.
	ctx := context.Background()
	var wg sync.WaitGroup
	for k := range c.keys {
		wg.Go(func() { l.GetOrLoad(ctx, k, load) })
	}
	wg.Wait()
	loads.Store(0)
	before := counter.Snapshot()

	hists := make([]histogram, c.readers)
	stop := time.Now().Add(c.duration)
	var failed atomic.Value
	for r := range c.readers {
		wg.Go(func() {
			h := &hists[r]
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for i := 0; ; i++ {
				key := rng.IntN(c.keys)
				t0 := time.Now()
				if _, err := l.GetOrLoad(ctx, key, load); err != nil {
					failed.Store(err)
					return
				}
				t1 := time.Now()
				h.add(t1.Sub(t0))
				if i%64 == 0 && t1.After(stop) {
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return stormResult{}, err
	}

	var all histogram
	for i := range hists {
		all.merge(&hists[i])
	}
	after := counter.Snapshot()
	res := stormResult{
		mode:        m.name,
		reads:       all.n,
		loads:       loads.Load(),
		p50:         all.quantile(0.50),
		p99:         all.quantile(0.99),
		p9999:       all.quantile(0.9999),
		max:         all.max,
		staleHits:   after.StaleHits - before.StaleHits,
		misses:      after.Misses - before.Misses,
		overlapping: overlapping.Load(),
	}
	if m.opts.FreshFor > 0 {
		periods := float64(c.duration) / float64(m.opts.FreshFor)
		res.loadsPerPeriod = float64(res.loads) / float64(c.keys) / periods
	}
	return res, nil
}

func (r stormResult) row() string {
	return fmt.Sprintf("| %s | %d | %d | %.2f | %v | %v | %v | %v | %d | %d | %d |",
		r.mode, r.reads, r.loads, r.loadsPerPeriod, r.p50, r.p99, r.p9999, r.max.Round(time.Microsecond),
		r.staleHits, r.misses, r.overlapping)
}

const stormHeader = "| mode | reads | loads | loads/key/period | p50 | p99 | p99.99 | max | stale hits | waited for a load | overlapping loads |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
