// Command readthrough shows what flightcache does for a service in front of a
// slow database: a burst of concurrent requests for a few popular keys,
// served straight from the database, through a plain cache-aside cache (look
// in the cache; on a miss, query the database and store the answer), and
// through a Loader. The cache-aside cache is what most services write first:
// it saves the queries of later requests, but every request that misses
// before the first answer is stored queries the database too.
//
//	go run ./examples/readthrough
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/stats"
)

// database is a simulated database: every query takes queryTime and holds
// one of a few connections, so a herd of queries waits in line.
type database struct {
	queryTime time.Duration
	conns     chan struct{}
	queries   atomic.Int64
}

func newDatabase(queryTime time.Duration, conns int) *database {
	return &database{queryTime: queryTime, conns: make(chan struct{}, conns)}
}

func (db *database) LoadProduct(ctx context.Context, id int) (string, error) {
	select {
	case db.conns <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-db.conns }()
	db.queries.Add(1)
	time.Sleep(db.queryTime)
	return fmt.Sprintf("product %d", id), nil
}

type result struct {
	name            string
	requests        int
	queries         int64
	p50, p99, worst time.Duration
	hits, coalesced string
}

// cacheAside is the cache a service writes by hand: look in the cache; on a
// miss, query the database and store the answer. Concurrent misses of one
// key all query the database.
type cacheAside struct {
	cache *lru.Cache[int, string]
	db    *database
	hits  atomic.Int64
}

func (c *cacheAside) Get(ctx context.Context, id int) (string, error) {
	if v, ok := c.cache.Get(id); ok {
		c.hits.Add(1)
		return v, nil
	}
	v, err := c.db.LoadProduct(ctx, id)
	if err != nil {
		return "", err
	}
	c.cache.Add(id, v)
	return v, nil
}

// latency formats d for the table: in µs (or ns) below a millisecond, so
// that a fast hit never shows as 0s.
func latency(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return d.String() // in ns
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// burst sends requests for keys drawn from a few popular ones, all at once,
// through get, and measures each request's latency.
func burst(requests, keys int, get func(context.Context, int) (string, error)) []time.Duration {
	latencies := make([]time.Duration, requests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range requests {
		// Half the requests want the most popular product; the rest are
		// spread over the others.
		id := 0
		if i%2 == 1 {
			id = 1 + rand.IntN(keys-1)
		}
		wg.Go(func() {
			<-start
			t0 := time.Now()
			if _, err := get(context.Background(), id); err != nil {
				fmt.Fprintln(os.Stderr, "request failed:", err)
				os.Exit(1)
			}
			latencies[i] = time.Since(t0)
		})
	}
	close(start)
	wg.Wait()
	return latencies
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func run(name string, requests, keys, rounds int, db *database, get func(context.Context, int) (string, error)) result {
	var all []time.Duration
	for range rounds {
		all = append(all, burst(requests, keys, get)...)
	}
	slices.Sort(all)
	return result{
		name: name, requests: requests * rounds, queries: db.queries.Load(),
		p50: percentile(all, 0.50), p99: percentile(all, 0.99), worst: all[len(all)-1],
		hits: "-", coalesced: "-",
	}
}

func main() {
	requests := flag.Int("requests", 1000, "concurrent requests per burst")
	keys := flag.Int("keys", 20, "distinct products requested")
	rounds := flag.Int("rounds", 2, "bursts, one after the other")
	queryTime := flag.Duration("query", 20*time.Millisecond, "time one database query takes")
	conns := flag.Int("conns", 20, "database connections")
	flag.Parse()
	if *keys < 2 || *requests < 1 || *rounds < 1 || *conns < 1 {
		fmt.Fprintln(os.Stderr, "readthrough: -keys must be at least 2; -requests, -rounds and -conns at least 1")
		os.Exit(2)
	}

	fmt.Printf("%d bursts of %d concurrent requests over %d products; the database takes %v a query on %d connections.\n\n",
		*rounds, *requests, *keys, *queryTime, *conns)

	direct := newDatabase(*queryTime, *conns)
	before := run("database only", *requests, *keys, *rounds, direct, direct.LoadProduct)

	asideDB := newDatabase(*queryTime, *conns)
	cache, err := lru.New[int, string](10_000)
	if err != nil {
		panic(err)
	}
	aside := &cacheAside{cache: cache, db: asideDB}
	plain := run("cache-aside", *requests, *keys, *rounds, asideDB, aside.Get)
	plain.hits = fmt.Sprint(aside.hits.Load())

	cached := newDatabase(*queryTime, *conns)
	store, err := lrustore.New[int, string](10_000)
	if err != nil {
		panic(err)
	}
	var counter stats.Counter
	products, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute, Recorder: &counter})
	if err != nil {
		panic(err)
	}
	defer products.Close()
	loadProduct := cached.LoadProduct
	after := run("flightcache", *requests, *keys, *rounds, cached, func(ctx context.Context, id int) (string, error) {
		return products.GetOrLoad(ctx, id, loadProduct)
	})
	s := counter.Snapshot()
	after.hits, after.coalesced = fmt.Sprint(s.Hits), fmt.Sprint(s.Coalesced)

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\trequests\tdatabase queries\tp50\tp99\tslowest\thits\tcoalesced waits\t")
	for _, r := range []result{before, plain, after} {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.name, r.requests, r.queries,
			latency(r.p50), latency(r.p99), latency(r.worst), r.hits, r.coalesced)
	}
	w.Flush()
	fmt.Printf("\nflightcache sent %d queries, cache-aside %d and the database alone %d.\n",
		after.queries, plain.queries, before.queries)
	if after.queries <= int64(*keys) {
		fmt.Println("flightcache queried each product at most once, however many requests missed it at once;")
		fmt.Println("cache-aside queried once for every request that missed before the first answer was stored.")
	}
}
