package flightcache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
)

// BenchmarkSetStorm is a Set storm: 64 goroutines on 32 hot keys, each
// mixing GetOrLoad (with a ctx that can end, and inline), GetOrLoadMany, a
// Batcher (40% reads in all), Refresh (30%) and Set (30%), over a source
// that takes a millisecond and ignores its ctx, and entries fresh for only a
// millisecond, so that every Set supersedes the fills in flight of its key
// and readers and Refresh keep starting new ones. Each
// iteration runs the storm for stormFor, then closes the Loader while the
// storm goes on. It reports, averaged over the iterations:
//
//   - writers/key: the most fills and Sets of one key in flight at once
//     (registrations in the key's write order, sampled every 100µs);
//   - calls/key: the most calls of the source for one key at once;
//   - fills-at-close: the fills in flight, all keys, when Close began;
//   - close-ms: how long Close took (its documented bound: LoadTimeout,
//     here 200ms, plus as long again for warnings being logged).
//
// refresh=false makes the Refreshes Sets: each Refresh is a fill nobody
// waits for, which a Set forgets and the next Refresh does not join, so that
// they, not the readers, are most of the fills in flight.
//
// Run it with -benchtime 5x or so: each iteration takes stormFor and more.
func BenchmarkSetStorm(b *testing.B) {
	const (
		workers  = 64
		nkeys    = 32
		stormFor = 300 * time.Millisecond
		timeout  = 200 * time.Millisecond
	)
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprint("hot-", i)
	}
	for _, refresh := range []bool{true, false} {
		b.Run(fmt.Sprintf("refresh=%v", refresh), func(b *testing.B) {
			var sumFills, sumCalls, sumAtClose, sumClose float64
			for b.Loop() {
				s := runSetStorm(b, keys, workers, stormFor, timeout, refresh)
				sumFills += float64(s.fillsPerKey)
				sumCalls += float64(s.callsPerKey)
				sumAtClose += float64(s.fillsAtClose)
				sumClose += float64(s.closeTook) / float64(time.Millisecond)
			}
			n := float64(b.N)
			b.ReportMetric(sumFills/n, "writers/key")
			b.ReportMetric(sumCalls/n, "calls/key")
			b.ReportMetric(sumAtClose/n, "fills-at-close")
			b.ReportMetric(sumAtClose/n/nkeys, "fills-at-close/key")
			b.ReportMetric(sumClose/n, "close-ms")
		})
	}
}

// stormStats is what one run of the Set storm saw.
type stormStats struct {
	fillsPerKey  int // most fills and Sets of one key in flight at once
	callsPerKey  int64
	fillsAtClose int64
	closeTook    time.Duration
}

// runSetStorm runs one Set storm on keys with workers goroutines for d,
// then closes the Loader under the storm.
func runSetStorm(b *testing.B, keys []string, workers int, d, timeout time.Duration, refresh bool) stormStats {
	var st stormStats
	l, err := New[string, string](newMapStore[string, string](), &Options{
		FreshFor:    time.Millisecond,
		LoadTimeout: timeout,
	})
	if err != nil {
		b.Fatal(err)
	}
	calls := xsync.NewMap[string, *atomic.Int64]()
	var maxCalls atomic.Int64
	slow := func(key string) {
		c, _ := calls.LoadOrCompute(key, func() (*atomic.Int64, bool) { return new(atomic.Int64), false })
		n := c.Add(1)
		for m := maxCalls.Load(); n > m && !maxCalls.CompareAndSwap(m, n); m = maxCalls.Load() {
		}
		time.Sleep(time.Millisecond)
		c.Add(-1)
	}
	one := func(_ context.Context, key string) (string, error) {
		slow(key)
		return "loaded-" + key, nil
	}
	many := func(_ context.Context, ks []string) (map[string]string, error) {
		slow(ks[0])
		m := make(map[string]string, len(ks))
		for _, k := range ks {
			m[k] = "loaded-" + k
		}
		return m, nil
	}
	batcher, err := l.Batcher(many, Window{Wait: 200 * time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { stormWorker(l, batcher, keys, w, refresh, one, many, stop) })
	}
	sampled := make(chan int)
	go func() { sampled <- sampleFills(l.writes, keys, stop) }()

	time.Sleep(d)
	st.fillsAtClose = l.fill.jobs.n.Load()
	start := time.Now()
	l.Close()
	st.closeTook = time.Since(start)
	close(stop)
	wg.Wait()
	st.fillsPerKey = <-sampled
	st.callsPerKey = maxCalls.Load()
	return st
}

// stormWorker is one goroutine of the storm: it picks an operation and a
// key at random until stop is closed or the Loader is; without refresh, it
// Sets where it would Refresh.
func stormWorker(l *Loader[string, string], batcher *Batcher[string, string], keys []string, w int, refresh bool,
	one LoadFunc[string, string], many BatchLoadFunc[string, string], stop <-chan struct{}) {
	r := rand.New(rand.NewPCG(uint64(w), 0))
	bg := context.Background()
	for {
		select {
		case <-stop:
			return
		default:
		}
		key := keys[r.IntN(len(keys))]
		ctx, cancel := context.WithTimeout(bg, time.Second)
		var err error
		switch op := r.IntN(10); {
		case op < 1:
			_, err = l.GetOrLoad(ctx, key, one)
		case op < 2:
			_, err = l.GetOrLoad(bg, key, one) // inline
		case op < 3:
			_, err = l.GetOrLoadMany(ctx, []string{key, keys[r.IntN(len(keys))], keys[r.IntN(len(keys))]}, many)
		case op < 4:
			_, err = batcher.GetOrLoad(ctx, key)
		case op < 7 && refresh:
			err = l.Refresh(ctx, key, one)
		default:
			err = l.Set(ctx, key, "set")
		}
		cancel()
		if err == ErrClosed {
			<-stop
			return
		}
	}
}

// sampleFills samples, every 100µs until stop is closed, the registrations
// in the write order of each of keys (fills and Sets), and returns the most
// seen for one key.
func sampleFills(w *writeOrder[string], keys []string, stop <-chan struct{}) int {
	most := 0
	t := time.NewTicker(100 * time.Microsecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return most
		case <-t.C:
		}
		for _, k := range keys {
			most = max(most, w.registered(k))
		}
	}
}
