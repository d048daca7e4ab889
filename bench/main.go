// Command bench measures flightcache under workloads that a unit benchmark
// cannot express, prints markdown tables and writes the charts the README
// shows. It is a module of its own, so that the library never depends on
// what it is compared with.
//
//	cd bench && go run . -svg ../docs/expiry-storm.svg
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"
)

func main() {
	duration := flag.Duration("duration", 3*time.Second, "how long readers read in each round")
	rounds := flag.Int("rounds", 3, "rounds of every mode, interleaved; medians are reported")
	svgPath := flag.String("svg", "", "write the expiry-storm chart here (SVG)")
	flag.Parse()
	if *rounds < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -rounds must be at least 1 and -duration positive")
		os.Exit(2)
	}

	c := stormConfig{keys: 200, freshFor: 100 * time.Millisecond, source: 10 * time.Millisecond, readers: 16, duration: *duration}
	modes := stormModes(c)
	results := make([][]stormResult, len(modes))
	for round := range *rounds {
		for i, m := range modes {
			r, err := runStorm(c, m)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", m.name, err)
				os.Exit(1)
			}
			results[i] = append(results[i], r)
			fmt.Fprintf(os.Stderr, "round %d/%d: %s: p99 %v, %d loads\n", round+1, *rounds, m.name, r.p99, r.loads)
		}
	}

	fmt.Printf("## Expiry storm\n\n%d hot keys loaded together, fresh for %v, a %v source, %d readers for %v; median of %d interleaved rounds (p99 min–max in brackets). %s, %d CPUs, %s.\n\n",
		c.keys, c.freshFor, c.source, c.readers, c.duration, *rounds, runtime.Version(), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Println(stormHeader)
	var medians []stormResult
	for _, rs := range results {
		m := median(rs)
		medians = append(medians, m)
		lo := slices.MinFunc(rs, func(a, b stormResult) int { return int(a.p99 - b.p99) }).p99
		hi := slices.MaxFunc(rs, func(a, b stormResult) int { return int(a.p99 - b.p99) }).p99
		fmt.Println(m.row() + fmt.Sprintf(" [p99 %v–%v]", lo, hi))
	}
	if *svgPath != "" {
		if err := os.WriteFile(*svgPath, stormChart(medians), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// median picks, field by field, the median of the rounds.
func median(rs []stormResult) stormResult {
	mid := func(get func(stormResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	d := func(get func(stormResult) time.Duration) time.Duration {
		return time.Duration(mid(func(r stormResult) float64 { return float64(get(r)) }))
	}
	u := func(get func(stormResult) uint64) uint64 {
		return uint64(mid(func(r stormResult) float64 { return float64(get(r)) }))
	}
	return stormResult{
		mode:           rs[0].mode,
		reads:          u(func(r stormResult) uint64 { return r.reads }),
		loads:          int64(mid(func(r stormResult) float64 { return float64(r.loads) })),
		loadsPerPeriod: mid(func(r stormResult) float64 { return r.loadsPerPeriod }),
		p50:            d(func(r stormResult) time.Duration { return r.p50 }),
		p99:            d(func(r stormResult) time.Duration { return r.p99 }),
		p9999:          d(func(r stormResult) time.Duration { return r.p9999 }),
		max:            d(func(r stormResult) time.Duration { return r.max }),
		staleHits:      u(func(r stormResult) uint64 { return r.staleHits }),
		misses:         u(func(r stormResult) uint64 { return r.misses }),
		overlapping:    int64(mid(func(r stormResult) float64 { return float64(r.overlapping) })),
	}
}
