package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkZipf replays the Zipf scenario's trace (1,000,000 requests over
// 100,000 keys, capacity 10,000, a 50µs source) from 16 goroutines through
// flightcache and through the composition users write by hand, on each
// store: one op is the whole trace. It is the scenario of docs/bench.md as a
// benchmark, so that benchstat can compare two versions of the code, or the
// contenders, side by side:
//
//	go test -run x -bench Zipf -count 10 . | tee new.txt
func BenchmarkZipf(b *testing.B) {
	c := zipfConfig{requests: 1_000_000, keys: 100_000, capacity: 10_000, goroutines: 16, s: 1.01, source: 50 * time.Microsecond}
	trace := zipfTrace(c)
	for _, ct := range contenders() {
		if ct.kind == "library" {
			continue
		}
		b.Run(fmt.Sprintf("%s=%s", ct.kind, ct.store), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				src := newSource(c.source, c.keys)
				cc, err := ct.new(setup{capacity: c.capacity, load: src.load})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				replayFrom(b, cc, trace, c.goroutines)
				b.StopTimer()
				cc.close()
				b.StartTimer()
			}
			b.ReportMetric(float64(len(trace))*float64(b.N)/b.Elapsed().Seconds(), "requests/s")
		})
	}
}

// replayFrom replays trace through cc from goroutines goroutines, each
// taking an equal share of it in order.
func replayFrom(b *testing.B, cc cache, trace []string, goroutines int) {
	ctx := context.Background()
	per := len(trace) / goroutines
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for _, k := range trace[g*per : (g+1)*per] {
				if _, err := cc.get(ctx, k); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
