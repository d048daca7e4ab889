package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"
)

// stampedeCase is one way callers arrive on a cold key.
type stampedeCase struct {
	name       string
	goroutines int
	spread     time.Duration // arrivals spread evenly over this; 0: all at once
}

func stampedeCases(load time.Duration, big int) []stampedeCase {
	return []stampedeCase{
		{"1,000 together", 1000, 0},
		{fmt.Sprintf("%s together", thousands(big)), big, 0},
		{fmt.Sprintf("1,000 over %v", 2*load), 1000, 2 * load},
	}
}

func thousands(n int) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%s,%03d", thousands(n/1000), n%1000)
}

// stampedeResult is one contender in one case, over every repetition.
type stampedeResult struct {
	c     contender
	sc    stampedeCase
	loads sample // loads of the key in each repetition
	wall  sample // from release to the last caller's return, ns
}

// runStampede releases, in each of reps repetitions, every case's callers on
// a new cold key of every contender (interleaved), and counts the loads.
func runStampede(cs []contender, cases []stampedeCase, reps int, load time.Duration) ([]stampedeResult, error) {
	ctx := context.Background()
	type inst struct {
		c   cache
		src *source
		res stampedeResult
	}
	var insts []*inst
	defer func() {
		for _, in := range insts {
			in.c.close()
		}
	}()
	for _, sc := range cases {
		for _, c := range cs {
			src := newSource(load, reps)
			cc, err := c.new(setup{capacity: 1000, fresh: time.Hour, load: src.load})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			insts = append(insts, &inst{c: cc, src: src, res: stampedeResult{c: c, sc: sc}})
		}
	}
	for rep := range reps {
		key := keyName(rep)
		for j := range insts {
			in := insts[(j+rep)%len(insts)]
			wall, err := stampede(ctx, in.c, key, in.res.sc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", in.res.c.name, err)
			}
			in.res.loads = append(in.res.loads, float64(in.src.keys[rep].loads.Load()))
			in.res.wall = append(in.res.wall, float64(wall))
		}
		fmt.Fprintf(os.Stderr, "stampede: repetition %d/%d done\n", rep+1, reps)
	}
	res := make([]stampedeResult, len(insts))
	for i, in := range insts {
		res[i] = in.res
	}
	return res, nil
}

// stampede starts sc.goroutines callers of key, releases them together (or
// spread over sc.spread) and returns when the last has its value.
func stampede(ctx context.Context, c cache, key string, sc stampedeCase) (time.Duration, error) {
	var wg sync.WaitGroup
	release := make(chan struct{})
	errs := make(chan error, 1)
	for i := range sc.goroutines {
		wg.Go(func() {
			<-release
			if sc.spread > 0 {
				time.Sleep(sc.spread * time.Duration(i) / time.Duration(sc.goroutines))
			}
			if _, err := c.get(ctx, key); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	start := time.Now()
	close(release)
	wg.Wait()
	wall := time.Since(start)
	select {
	case err := <-errs:
		return 0, err
	default:
		return wall, nil
	}
}

func writeStampede(w io.Writer, rs []stampedeResult, reps int, load time.Duration) {
	fmt.Fprintf(w, "## Stampede\n\nCallers released together on a cold key (a new key in each of %d repetitions, contenders and cases interleaved); the source takes %v. Loads of the key per repetition: median and the worst repetition; wall time from release until the last caller has the value: median (min–max).\n\n", reps, load)
	t := newTable("contender", "callers", ">loads (median)", ">loads (worst)", ">wall time")
	for _, r := range rs {
		t.add(r.c.name, r.sc.name, intStr(r.loads.median()), intStr(r.loads.max()), spread(r.wall, nsStr))
	}
	t.write(w)
}

// afterFillResult is one contender's extra loads when a key is read right
// after it was loaded.
type afterFillResult struct {
	c      contender
	extra  sample
	perKey sample // wall time per key (a load and a read), ns
	allocs sample // allocations per key
}

// runAfterFill loads each of keys cold keys and reads it again at once, on
// one goroutine, and counts the loads beyond one per key.
func runAfterFill(cs []contender, rounds, keys int) ([]afterFillResult, error) {
	ctx := context.Background()
	res := make([]afterFillResult, len(cs))
	names := keyNames(keys)
	for round := range rounds {
		for j := range cs {
			i := (j + round) % len(cs)
			c := cs[i]
			res[i].c = c
			src := newSource(0, keys)
			cc, err := c.new(setup{capacity: 10 * keys, fresh: time.Hour, load: src.load})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			for _, k := range names {
				for range 2 {
					if _, err := cc.get(ctx, k); err != nil {
						cc.close()
						return nil, fmt.Errorf("%s: %w", c.name, err)
					}
				}
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&ms1)
			cc.close()
			res[i].extra = append(res[i].extra, float64(src.loads.Load()-int64(keys)))
			res[i].perKey = append(res[i].perKey, float64(elapsed)/float64(keys))
			res[i].allocs = append(res[i].allocs, float64(ms1.Mallocs-ms0.Mallocs)/float64(keys))
		}
		fmt.Fprintf(os.Stderr, "after fill: round %d/%d done\n", round+1, rounds)
	}
	return res, nil
}

func writeAfterFill(w io.Writer, rs []afterFillResult, rounds, keys int) {
	fmt.Fprintf(w, "## Read right after a fill\n\n%s cold keys, each read twice in a row on one goroutine (an instant source): loads beyond one per key, median (min–max) of %d rounds. The time and the allocations per key (a miss that loads, then a read) are the cost of the miss path itself, with no source time in it.\n\n", thousands(keys), rounds)
	t := newTable("contender", ">extra loads", ">time per key", ">allocs per key")
	for _, r := range rs {
		t.add(r.c.name, spread(r.extra, intStr), spread(r.perKey, nsStr), f2Str(r.allocs.median()))
	}
	t.write(w)
}
