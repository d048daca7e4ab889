package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"
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

// stormMode is one contender configured one way for the storm.
type stormMode struct {
	name  string
	c     contender
	plain bool    // nothing expires: the baseline of a plain hit
	stale bool    // serve stale for another freshFor while refreshing
	early float64 // flightcache's XFetch beta
}

func (m stormMode) setup(c stormConfig, load func(context.Context, string) (val, error)) setup {
	s := setup{capacity: 2 * c.keys, load: load, early: m.early}
	if !m.plain {
		s.fresh = c.freshFor
	}
	if m.stale {
		s.stale = c.freshFor
	}
	return s
}

func stormModes() []stormMode {
	fcLRU, fcRis, fcOtter := flightcacheContender("lru"), flightcacheContender("ristretto"), flightcacheContender("otter")
	return []stormMode{
		{name: "plain hit (never expires)", c: fcLRU, plain: true},
		{name: "expiry, no stale serving", c: fcLRU},
		{name: "stale-while-revalidate", c: fcLRU, stale: true},
		{name: "early refresh (XFetch, beta 1)", c: fcLRU, early: 1},
		{name: "stale-while-revalidate + early refresh", c: fcLRU, stale: true, early: 1},
		{name: "plain hit (never expires)", c: fcRis, plain: true},
		{name: "stale-while-revalidate", c: fcRis, stale: true},
		{name: "plain hit (never expires)", c: fcOtter, plain: true},
		{name: "expiry, no stale serving", c: fcOtter},
		{name: "stale-while-revalidate", c: fcOtter, stale: true},
		{name: "expiry", c: naiveContender("ristretto")},
		{name: "expiry", c: otterLoaderContender()},
		{name: "refresh (RefreshCalculator)", c: otterLoaderContender(), stale: true},
		{name: "early refreshes", c: sturdycContender(), stale: true},
		{name: "expiry", c: theineContender()},
	}
}

type stormResult struct {
	mode            stormMode
	reads           float64
	loads           float64
	loadsPerPeriod  float64 // loads per key per freshness period
	p50, p99, p9999 float64
	max             float64
	waited          float64 // reads that took at least half the source's time
	pastBound       float64 // values older than the staleness bound
	maxAge          float64
	lost            float64 // a reader saw an older load's value after a newer one
	overlapping     float64 // loads of a key that started while another ran
	leftGoroutines  float64 // goroutines still running after close
}

func (m stormMode) label() string { return m.c.name + ": " + m.name }

func runStorm(c stormConfig, m stormMode) (stormResult, error) {
	ctx := context.Background()
	src := newSource(c.source, c.keys)
	s := m.setup(c, src.load)
	bound := int64(s.bound())
	names := keyNames(c.keys)

	goroutinesBefore := runtime.NumGoroutine()
	cc, err := m.c.new(s)
	if err != nil {
		return stormResult{}, err
	}
	closed := false
	defer func() {
		if !closed {
			cc.close()
		}
	}()

	// Load every key at once, so that all of them expire together.
	var wg sync.WaitGroup
	for _, k := range names {
		wg.Go(func() { cc.get(ctx, k) })
	}
	wg.Wait()
	loadsBefore := src.loads.Load()
	overlapBefore := src.overlapping.Load()

	type reader struct {
		h                       histogram
		waited, pastBound, lost uint64
		maxAge                  int64
		lastSeen                []uint64
	}
	readers := make([]reader, c.readers)
	stop := time.Now().Add(c.duration)
	var failed error
	var failOnce sync.Once
	for r := range c.readers {
		wg.Go(func() {
			rd := &readers[r]
			rd.lastSeen = make([]uint64, c.keys)
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for i := 0; ; i++ {
				k := rng.IntN(c.keys)
				t0 := time.Now()
				v, err := cc.get(ctx, names[k])
				if err != nil {
					failOnce.Do(func() { failed = err })
					return
				}
				t1 := time.Now()
				d := t1.Sub(t0)
				rd.h.add(d)
				if d >= c.source/2 {
					rd.waited++
				}
				// The value was served at some moment between t0 and t1;
				// its age at t0 is the least it can have been, so a read
				// counted past the bound certainly was, however long the
				// reader was descheduled after the call.
				age := t0.UnixNano() - v.at
				rd.maxAge = max(rd.maxAge, age)
				if bound > 0 && age > bound {
					rd.pastBound++
				}
				if v.seq < rd.lastSeen[k] {
					rd.lost++
				}
				rd.lastSeen[k] = max(rd.lastSeen[k], v.seq)
				if i%64 == 0 && t1.After(stop) {
					return
				}
			}
		})
	}
	wg.Wait()
	if failed != nil {
		return stormResult{}, failed
	}
	loads := src.loads.Load() - loadsBefore
	overlapping := src.overlapping.Load() - overlapBefore
	cc.close()
	closed = true
	left := settleGoroutines(goroutinesBefore)

	var all histogram
	res := stormResult{mode: m, loads: float64(loads), overlapping: float64(overlapping), leftGoroutines: float64(left)}
	for i := range readers {
		rd := &readers[i]
		all.merge(&rd.h)
		res.waited += float64(rd.waited)
		res.pastBound += float64(rd.pastBound)
		res.lost += float64(rd.lost)
		res.maxAge = max(res.maxAge, float64(rd.maxAge))
	}
	res.reads = float64(all.n)
	res.p50 = float64(all.quantile(0.50))
	res.p99 = float64(all.quantile(0.99))
	res.p9999 = float64(all.quantile(0.9999))
	res.max = float64(all.max)
	if s.fresh > 0 {
		periods := float64(c.duration) / float64(s.fresh)
		res.loadsPerPeriod = res.loads / float64(c.keys) / periods
	}
	return res, nil
}

// settleGoroutines waits up to two seconds for the goroutines of a closed
// cache to end, and returns how many more are running than before.
func settleGoroutines(before int) int {
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return max(runtime.NumGoroutine()-before, 0)
}

// stormRounds runs every mode rounds times, interleaved, and returns the
// rounds of each mode.
func stormRounds(c stormConfig, modes []stormMode, rounds int) ([][]stormResult, error) {
	results := make([][]stormResult, len(modes))
	for round := range rounds {
		for j := range modes {
			i := (j + round) % len(modes)
			r, err := runStorm(c, modes[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", modes[i].label(), err)
			}
			results[i] = append(results[i], r)
			fmt.Fprintf(os.Stderr, "storm round %d/%d: %s: p99 %v, %.0f loads\n", round+1, rounds, modes[i].label(), dur(r.p99), r.loads)
		}
	}
	return results, nil
}

// stormSamples gathers one field of a mode's rounds.
func stormSamples(rs []stormResult, get func(stormResult) float64) sample {
	s := make(sample, len(rs))
	for i, r := range rs {
		s[i] = get(r)
	}
	return s
}

// medianStorm is, field by field, the median of the rounds.
func medianStorm(rs []stormResult) stormResult {
	m := func(get func(stormResult) float64) float64 { return stormSamples(rs, get).median() }
	return stormResult{
		mode:           rs[0].mode,
		reads:          m(func(r stormResult) float64 { return r.reads }),
		loads:          m(func(r stormResult) float64 { return r.loads }),
		loadsPerPeriod: m(func(r stormResult) float64 { return r.loadsPerPeriod }),
		p50:            m(func(r stormResult) float64 { return r.p50 }),
		p99:            m(func(r stormResult) float64 { return r.p99 }),
		p9999:          m(func(r stormResult) float64 { return r.p9999 }),
		max:            m(func(r stormResult) float64 { return r.max }),
		waited:         m(func(r stormResult) float64 { return r.waited }),
	}
}

// worstStorm is, for each correctness count, the worst round.
func worstStorm(rs []stormResult) (pastBound, maxAge, lost, overlapping, left float64) {
	w := func(get func(stormResult) float64) float64 { return stormSamples(rs, get).max() }
	return w(func(r stormResult) float64 { return r.pastBound }),
		w(func(r stormResult) float64 { return r.maxAge }),
		w(func(r stormResult) float64 { return r.lost }),
		w(func(r stormResult) float64 { return r.overlapping }),
		w(func(r stormResult) float64 { return r.leftGoroutines })
}

func writeStorm(w io.Writer, c stormConfig, results [][]stormResult, rounds int) {
	fmt.Fprintf(w, "## Expiry storm\n\n%d hot keys loaded together, fresh for %v, a %v source, %d readers for %v; median of %d interleaved rounds (p99 min–max in brackets). Stale serving, where a mode has it, lasts another %v, so the staleness bound is %v with it and %v without. *Waited*: reads that took at least half the source's time.\n\n",
		c.keys, c.freshFor, c.source, c.readers, c.duration, rounds, c.freshFor, 2*c.freshFor, c.freshFor)
	t := newTable("contender", "mode", ">reads", ">loads", ">loads/key/period", ">p50", ">p99", ">p99.99", ">max", ">waited")
	for _, rs := range results {
		m := medianStorm(rs)
		p99 := stormSamples(rs, func(r stormResult) float64 { return r.p99 })
		per := "–"
		if m.loadsPerPeriod > 0 {
			per = f2Str(m.loadsPerPeriod)
		}
		t.add(m.mode.c.name, m.mode.name, intStr(m.reads), intStr(m.loads), per, nsStr(m.p50),
			fmt.Sprintf("%s [%s–%s]", nsStr(m.p99), nsStr(p99.min()), nsStr(p99.max())), nsStr(m.p9999), nsStr(m.max), intStr(m.waited))
	}
	t.write(w)

	fmt.Fprintf(w, "Correctness, worst of the %d rounds: reads of a value older than the staleness bound (and the oldest value read), reads of an older load's value after a newer one by the same reader (lost updates), loads of a key that started while another load of it ran, and goroutines still running two seconds after close.\n\n", rounds)
	t = newTable("contender", "mode", ">past the bound", ">oldest value", ">lost updates", ">overlapping loads", ">goroutines left")
	for _, rs := range results {
		past, age, lost, over, left := worstStorm(rs)
		bound := "–"
		if !rs[0].mode.plain {
			bound = intStr(past)
		}
		t.add(rs[0].mode.c.name, rs[0].mode.name, bound, nsStr(age), intStr(lost), intStr(over), intStr(left))
	}
	t.write(w)
}
