// Command fleet runs four service instances in one program, each with its
// own in-memory cache, and sends them all the same burst of requests for
// cold keys: first with the in-memory caches alone, then with Redis as a
// shared tier, then with the shared tier's fleet-wide lease.
//
//	REDIS_ADDR=127.0.0.1:6379 go run ./examples/fleet
//
// Without REDIS_ADDR it starts a redis-server from PATH on a free loopback
// port (Debian: apt-get install redis-server) and stops it at the end. With
// REDIS_ADDR, it first checks that Redis answers a PING within two seconds,
// and exits with status 1 and a message saying so when it does not. It
// also exits with status 1 when any Store call failed during a run, since
// its figures would then not show what the shared tier does.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/tiered"
	"github.com/flightcache/flightcache/stats"
)

// database is the slow source every instance loads from.
type database struct{ queries atomic.Int64 }

func (db *database) LoadPrice(_ context.Context, sku string) (string, error) {
	db.queries.Add(1)
	time.Sleep(30 * time.Millisecond)
	return "price of " + sku, nil
}

// hideLease keeps a Store from being a flightcache.Leaser.
type hideLease struct {
	flightcache.Store[string, string]
}

type setup struct {
	name  string
	store func(prefix string) (flightcache.Store[string, string], error)
}

func main() {
	instances := flag.Int("instances", 4, "service instances")
	callers := flag.Int("callers", 200, "concurrent requests per instance")
	keys := flag.Int("keys", 20, "cold keys requested")
	flag.Parse()

	addr, stop, err := redisAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		if os.Getenv("REDIS_ADDR") == "" {
			fmt.Fprintln(os.Stderr, "fleet: set REDIS_ADDR to a Redis this program may write to, or install redis-server")
		}
		os.Exit(1)
	}
	defer stop()
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()

	shared := func(prefix string, lease bool) (flightcache.Store[string, string], error) {
		local, err := lrustore.New[string, string](10_000)
		if err != nil {
			return nil, err
		}
		r, err := redisstore.New[string, string](client, &redisstore.Options[string, string]{Prefix: prefix})
		if err != nil {
			return nil, err
		}
		var s flightcache.Store[string, string] = r
		if !lease {
			s = hideLease{r}
		}
		return tiered.NewWithNotifier[string, string](local, s, r), nil
	}
	setups := []setup{
		{"in-memory cache per instance", func(string) (flightcache.Store[string, string], error) {
			return lrustore.New[string, string](10_000)
		}},
		{"+ shared Redis tier", func(p string) (flightcache.Store[string, string], error) { return shared(p, false) }},
		{"+ fleet-wide lease", func(p string) (flightcache.Store[string, string], error) { return shared(p, true) }},
	}

	fmt.Printf("%d instances × %d concurrent requests over %d cold keys; the database takes 30ms a query.\n\n", *instances, *callers, *keys)
	fmt.Printf("%-30s %18s\n", "", "database queries")
	var queries []int64
	for _, s := range setups {
		n, storeErrors, err := run(s, *instances, *callers, *keys)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", s.name, err)
			os.Exit(1)
		}
		if storeErrors > 0 {
			fmt.Fprintf(os.Stderr, "fleet: %s: %d Redis calls failed, so these figures do not show what the shared tier does; is Redis at %s healthy?\n",
				s.name, storeErrors, addr)
			os.Exit(1)
		}
		fmt.Printf("%-30s %18d\n", s.name, n)
		queries = append(queries, n)
	}
	fmt.Println()
	if lease := queries[len(queries)-1]; lease == int64(*keys) {
		fmt.Println("With the lease, one instance loaded each key for the whole fleet; the others waited for it in Redis.")
	} else {
		fmt.Printf("With the lease, the fleet sent %d queries for %d keys: more than one instance loaded some keys.\n", lease, *keys)
	}
}

// run sends the burst through one Loader per instance, all on the store of
// setup s, and returns the database queries it took and the Store calls
// that failed.
func run(s setup, instances, callers, keys int) (queries int64, storeErrors uint64, err error) {
	var b [6]byte
	rand.Read(b[:])
	prefix := "flightcache-fleet-example:" + hex.EncodeToString(b[:]) + ":"
	db := &database{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Value
	var counter stats.Counter
	for range instances {
		store, err := s.store(prefix)
		if err != nil {
			return 0, 0, err
		}
		prices, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute, Recorder: &counter})
		if err != nil {
			return 0, 0, err
		}
		defer prices.Close()
		load := db.LoadPrice
		for i := range callers {
			wg.Go(func() {
				<-start
				if _, err := prices.GetOrLoad(context.Background(), "sku-"+strconv.Itoa(i%keys), load); err != nil {
					failed.Store(err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, 0, err
	}
	return db.queries.Load(), counter.Snapshot().StoreErrors, nil
}

// redisAddr returns REDIS_ADDR, or starts a redis-server of its own.
func redisAddr() (addr string, stop func(), err error) {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		if err := ping(addr); err != nil {
			return "", nil, fmt.Errorf("no Redis answers at REDIS_ADDR=%s (PING: %v); start one there, or unset REDIS_ADDR to let this program start redis-server itself", addr, err)
		}
		return addr, func() {}, nil
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return "", nil, fmt.Errorf("no REDIS_ADDR and no redis-server on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "fleet-redis")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	for range 100 {
		if ping(addr) == nil {
			return addr, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("redis-server on %s did not start", addr)
}

// ping sends Redis at addr one PING, and gives up after two seconds.
func ping(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 2 * time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, ContextTimeoutEnabled: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}
