// Command bench compares flightcache with the read-through caches users would
// pick instead, under workloads that a unit benchmark cannot express: hits on
// one key from every core, stampedes on a cold key, a read right after a
// fill, a Zipf workload with a slow source, and an expiry storm. It prints
// markdown tables, a summary of the targets flightcache is held to, and
// writes the charts the README shows. It is a module of its own, so that the
// library never depends on what it is compared with.
//
//	cd bench && go run .                  # everything, about five minutes
//	cd bench && go run . -quick           # everything, tiny, for CI
//	cd bench && go run . -scenarios hit,zipf -out ../docs/bench.md
//
// Contenders, one file each: flightcache on lrustore, ristrettostore and
// otterstore (contender_flightcache.go); the composition users write by hand,
// a store plus golang.org/x/sync/singleflight (contender_naive.go); otter v2's
// own loader (contender_otter.go); sturdyc's GetOrFetch
// (contender_sturdyc.go); theine's loading cache (contender_theine.go).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

var allScenarios = []string{"hit", "stampede", "afterfill", "zipf", "storm"}

// config is every setting of a run.
type config struct {
	scenarios   map[string]bool
	rounds      int
	hitRounds   int
	hitDuration time.Duration
	reps        int
	bigStampede int
	stampedeSrc time.Duration
	afterKeys   int
	zipf        zipfConfig
	storm       stormConfig
	svgDir      string
	stormSVG    string
	out         string
	quick       bool // -quick: timing targets are not judged
}

func main() {
	var c config
	scenarios := flag.String("scenarios", strings.Join(allScenarios, ","), "scenarios to run, comma-separated: "+strings.Join(allScenarios, ", "))
	quick := flag.Bool("quick", false, "run every scenario tiny (about a minute or less), for CI; writes no charts unless -svgdir is given")
	flag.IntVar(&c.rounds, "rounds", 3, "interleaved rounds of the after-fill, zipf and storm scenarios")
	flag.IntVar(&c.hitRounds, "hit-rounds", 5, "interleaved rounds of the hit scenario")
	flag.DurationVar(&c.hitDuration, "hit-duration", 300*time.Millisecond, "how long each hit measurement reads")
	flag.IntVar(&c.reps, "reps", 20, "repetitions of each stampede")
	flag.IntVar(&c.bigStampede, "big", 10_000, "callers of the big stampede")
	flag.DurationVar(&c.stampedeSrc, "stampede-source", 10*time.Millisecond, "how long a load takes in the stampede scenario")
	flag.IntVar(&c.afterKeys, "afterfill-keys", 1000, "cold keys of the after-fill scenario")
	flag.IntVar(&c.zipf.requests, "requests", 1_000_000, "requests of the zipf scenario")
	flag.IntVar(&c.zipf.keys, "zipf-keys", 100_000, "keys of the zipf scenario")
	flag.IntVar(&c.zipf.capacity, "zipf-capacity", 10_000, "cache capacity in the zipf scenario")
	flag.IntVar(&c.zipf.goroutines, "zipf-goroutines", 16, "goroutines of the zipf scenario")
	flag.Float64Var(&c.zipf.s, "zipf-s", 1.01, "Zipf exponent (> 1)")
	flag.DurationVar(&c.zipf.source, "zipf-source", 50*time.Microsecond, "how long a load takes in the zipf scenario")
	flag.DurationVar(&c.storm.duration, "duration", 3*time.Second, "how long readers read in each round of the expiry storm")
	flag.StringVar(&c.svgDir, "svgdir", "../docs", "write the charts (bench-hit.svg, bench-stampede.svg, bench-zipf.svg, expiry-storm.svg) here; empty: none")
	flag.StringVar(&c.stormSVG, "svg", "", "also write the expiry-storm chart to this file")
	flag.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	flag.Parse()

	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		quickly(&c, set)
	}
	c.quick = *quick
	c.storm.keys, c.storm.freshFor, c.storm.source, c.storm.readers = 200, 100*time.Millisecond, 10*time.Millisecond, 16

	c.scenarios = map[string]bool{}
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(allScenarios, s) {
			fail(fmt.Errorf("unknown scenario %q; known: %s", s, strings.Join(allScenarios, ", ")))
		}
		c.scenarios[s] = true
	}
	if c.rounds < 1 || c.hitRounds < 1 || c.reps < 1 || c.hitDuration <= 0 || c.storm.duration <= 0 ||
		c.zipf.requests < c.zipf.goroutines || c.zipf.goroutines < 1 || c.zipf.keys < 2 || c.zipf.capacity < 1 ||
		c.zipf.s <= 1 || c.afterKeys < 1 || c.bigStampede < 1 {
		fmt.Fprintln(os.Stderr, "bench: rounds, repetitions, durations, keys and sizes must be positive, requests at least the goroutines, and -zipf-s above 1")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fail(err)
	}
}

// quickly shrinks every setting the user did not give.
func quickly(c *config, set map[string]bool) {
	shrink := map[string]func(){
		"rounds":       func() { c.rounds = 1 },
		"hit-rounds":   func() { c.hitRounds = 1 },
		"hit-duration": func() { c.hitDuration = 20 * time.Millisecond },
		"reps":         func() { c.reps = 2 },
		"big":          func() { c.bigStampede = 2000 },
		"requests":     func() { c.zipf.requests = 20_000 },
		"zipf-keys":    func() { c.zipf.keys = 10_000 },
		"zipf-capacity": func() {
			c.zipf.capacity = 1000
		},
		"duration": func() { c.storm.duration = 300 * time.Millisecond },
		"svgdir":   func() { c.svgDir = "" },
	}
	for name, f := range shrink {
		if !set[name] {
			f()
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func run(c config) error {
	var w io.Writer = os.Stdout
	if c.out != "" {
		f, err := os.Create(c.out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	env := environment()
	started := time.Now()
	fmt.Fprintf(w, "# flightcache benchmarks\n\nGenerated by `cd bench && go run . %s`. Every figure below is measured by that run, on the machine named here, except the last section's, which are reference figures from a 16-core machine, quoted as such.\n\nMachine and versions: %s\n\n",
		strings.Join(os.Args[1:], " "), env)
	cs := contenders()
	var targets []target
	var charts []func() error
	// chart queues a chart for writing, into the chart directory if there is
	// one.
	addChart := func(name string, mk func() chart) {
		if c.svgDir != "" {
			charts = append(charts, func() error { return writeChart(c.svgDir, name, mk()) })
		}
	}

	if c.scenarios["hit"] {
		rs, err := runHit(cs, c.hitRounds, c.hitDuration)
		if err != nil {
			return fmt.Errorf("hit: %w", err)
		}
		writeHit(w, rs, c.hitRounds, c.hitDuration)
		targets = append(targets, hitTargets(rs)...)
		addChart("bench-hit.svg", func() chart { return hitChart(rs, env) })
	}
	var stampedes []stampedeResult
	var cases []stampedeCase
	if c.scenarios["stampede"] {
		cases = stampedeCases(c.stampedeSrc, c.bigStampede)
		rs, err := runStampede(cs, cases, c.reps, c.stampedeSrc)
		if err != nil {
			return fmt.Errorf("stampede: %w", err)
		}
		writeStampede(w, rs, c.reps, c.stampedeSrc)
		targets = append(targets, stampedeTargets(rs)...)
		stampedes = rs
	}
	var after []afterFillResult
	if c.scenarios["afterfill"] {
		rs, err := runAfterFill(cs, c.rounds, c.afterKeys)
		if err != nil {
			return fmt.Errorf("after fill: %w", err)
		}
		writeAfterFill(w, rs, c.rounds, c.afterKeys)
		targets = append(targets, afterFillTargets(rs)...)
		after = rs
	}
	if stampedes != nil {
		addChart("bench-stampede.svg", func() chart { return stampedeChart(stampedes, cases, after, env) })
	}
	if c.scenarios["zipf"] {
		rs, err := runZipf(cs, c.zipf, c.rounds)
		if err != nil {
			return fmt.Errorf("zipf: %w", err)
		}
		writeZipf(w, rs, c.zipf, c.rounds)
		targets = append(targets, zipfTargets(rs)...)
		addChart("bench-zipf.svg", func() chart { return zipfChart(rs, env) })
	}
	if c.scenarios["storm"] {
		modes := stormModes()
		rs, err := stormRounds(c.storm, modes, c.rounds)
		if err != nil {
			return fmt.Errorf("expiry storm: %w", err)
		}
		writeStorm(w, c.storm, rs, c.rounds)
		targets = append(targets, stormTargets(rs)...)
		addChart("expiry-storm.svg", func() chart { return stormChart(rs, env) })
		if c.stormSVG != "" {
			charts = append(charts, func() error {
				return writeChart(filepath.Dir(c.stormSVG), filepath.Base(c.stormSVG), stormChart(rs, env))
			})
		}
	}
	writeTargets(w, targets, c.quick)
	fmt.Fprintf(w, "The run took %v.\n\n", time.Since(started).Round(time.Second))
	writeReference16(w)
	for _, f := range charts {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}
