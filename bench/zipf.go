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

	"github.com/flightcache/flightcache"
)

// zipfConfig is the skewed-workload scenario.
type zipfConfig struct {
	requests, keys, capacity, goroutines int
	s                                    float64
	source                               time.Duration
}

// zipfTrace draws the keys of c.requests requests, Zipf-distributed over
// c.keys keys, the same for every contender.
func zipfTrace(c zipfConfig) []string {
	names := keyNames(c.keys)
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), c.s, 1, uint64(c.keys-1))
	trace := make([]string, c.requests)
	for i := range trace {
		trace[i] = names[z.Uint64()]
	}
	return trace
}

type zipfResult struct {
	c                       contender
	hitRatio, throughput    sample // 1 − loads/requests; requests per second
	loads, p50, p99, allocs sample
	ownHitRatio             sample // the store's library used directly, replaying the trace
	storeHitRatio           sample // flightcache's Store used directly, likewise; flightcache only
}

// runZipf replays the trace through every contender from c.goroutines
// goroutines, each taking an equal share of it in order, and through each
// store used directly (get, and set on a miss) from one goroutine.
func runZipf(cs []contender, c zipfConfig, rounds int) ([]zipfResult, error) {
	ctx := context.Background()
	trace := zipfTrace(c)
	res := make([]zipfResult, len(cs))
	for round := range rounds {
		own := map[string]float64{}
		for j := range cs {
			i := (j + round) % len(cs)
			ct := cs[i]
			res[i].c = ct
			src := newSource(c.source, c.keys)
			cc, err := ct.new(setup{capacity: c.capacity, load: src.load})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ct.name, err)
			}
			hists := make([]histogram, c.goroutines)
			per := len(trace) / c.goroutines
			var (
				wg       sync.WaitGroup
				failed   error
				failOnce sync.Once
				ms0, ms1 runtime.MemStats
			)
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			for g := range c.goroutines {
				wg.Go(func() {
					h := &hists[g]
					t0 := time.Now()
					for _, k := range trace[g*per : (g+1)*per] {
						if _, err := cc.get(ctx, k); err != nil {
							failOnce.Do(func() { failed = err })
							return
						}
						t1 := time.Now()
						h.add(t1.Sub(t0))
						t0 = t1
					}
				})
			}
			wg.Wait()
			wall := time.Since(start)
			runtime.ReadMemStats(&ms1)
			cc.close()
			if failed != nil {
				return nil, fmt.Errorf("%s: %w", ct.name, failed)
			}
			var all histogram
			for g := range hists {
				all.merge(&hists[g])
			}
			n := float64(per * c.goroutines)
			loads := float64(src.loads.Load())
			r := &res[i]
			r.hitRatio = append(r.hitRatio, 1-loads/n)
			r.throughput = append(r.throughput, n/wall.Seconds())
			r.loads = append(r.loads, loads)
			r.p50 = append(r.p50, float64(all.quantile(0.50)))
			r.p99 = append(r.p99, float64(all.quantile(0.99)))
			r.allocs = append(r.allocs, float64(ms1.Mallocs-ms0.Mallocs)/n)

			if _, ok := own[ct.store]; !ok {
				h, err := replay(ct.store, c.capacity, trace[:per*c.goroutines])
				if err != nil {
					return nil, err
				}
				own[ct.store] = h
			}
			r.ownHitRatio = append(r.ownHitRatio, own[ct.store])
			if ct.kind == "flightcache" {
				h, err := replayStore(ct.store, c.capacity, trace[:per*c.goroutines])
				if err != nil {
					return nil, err
				}
				r.storeHitRatio = append(r.storeHitRatio, h)
			}
		}
		fmt.Fprintf(os.Stderr, "zipf: round %d/%d done\n", round+1, rounds)
	}
	return res, nil
}

// replay runs trace through the store named store used directly, getting
// each key and setting it on a miss, and returns the fraction of hits.
func replay(store string, capacity int, trace []string) (float64, error) {
	st, err := newRawStore(store, capacity, 0)
	if err != nil {
		return 0, err
	}
	defer st.close()
	hits := 0
	for _, k := range trace {
		if _, ok := st.get(k); ok {
			hits++
			continue
		}
		st.set(k, val{})
	}
	return float64(hits) / float64(len(trace)), nil
}

// replayStore is replay through flightcache's Store for the store named
// store.
func replayStore(store string, capacity int, trace []string) (float64, error) {
	st, closeStore, err := newFCStore(store, capacity)
	if err != nil {
		return 0, err
	}
	defer closeStore()
	ctx := context.Background()
	hits := 0
	for _, k := range trace {
		if _, ok, _ := st.Get(ctx, k); ok {
			hits++
			continue
		}
		st.Set(ctx, k, flightcache.Entry[val]{})
	}
	return float64(hits) / float64(len(trace)), nil
}

func writeZipf(w io.Writer, rs []zipfResult, c zipfConfig, rounds int) {
	fmt.Fprintf(w, "## Zipf\n\n%s requests over %s keys (Zipf, s = %.2f), capacity %s, %d goroutines, a %v source (a wait that yields the processor: time.Sleep cannot sleep that briefly), nothing expires; median (min–max) of %d interleaved rounds. Hit ratio: 1 − loads/requests (a caller that joined another's load counts as a hit). Own hit ratio: the store's library used directly, replaying the same requests on one goroutine (get; set on a miss); for flightcache, in brackets, its Store used the same way (ristrettostore's Set waits until ristretto applied the write; ristretto's own Set does not, and drops writes). Latency is per request, as the caller sees it.\n\n",
		thousands(c.requests), thousands(c.keys), c.s, thousands(c.capacity), c.goroutines, c.source, rounds)
	t := newTable("contender", ">throughput", ">hit ratio", ">own hit ratio of the store", ">loads", ">p50", ">p99", ">allocs/request")
	for _, r := range rs {
		own := pctStr(r.ownHitRatio.median())
		if len(r.storeHitRatio) > 0 {
			own += " (" + pctStr(r.storeHitRatio.median()) + ")"
		}
		t.add(r.c.name, spread(r.throughput, kopsStr), spread(r.hitRatio, pctStr), own,
			intStr(r.loads.median()), spread(r.p50, nsStr), spread(r.p99, nsStr), f2Str(r.allocs.median()))
	}
	t.write(w)
}
