// Command fleet runs four service instances in one program, each with its
// own in-memory cache, and sends them all the same burst of requests for
// cold keys: first with the in-memory caches alone, then with Redis as a
// shared tier, then with the shared tier's fleet-wide lease.
//
//	REDIS_ADDR=127.0.0.1:6379 go run ./examples/fleet
//
// Without REDIS_ADDR it starts a redis-server from PATH on a free loopback
// port (Debian: apt-get install redis-server) and stops it at the end.
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
		fmt.Fprintln(os.Stderr, "fleet: set REDIS_ADDR to a Redis this program may write to, or install redis-server")
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
	for _, s := range setups {
		n, err := run(s, *instances, *callers, *keys)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", s.name, err)
			os.Exit(1)
		}
		fmt.Printf("%-30s %18d\n", s.name, n)
	}
	fmt.Println("\nWith the lease, one instance loads each key for the whole fleet; the others wait for it in Redis.")
}

func run(s setup, instances, callers, keys int) (int64, error) {
	var b [6]byte
	rand.Read(b[:])
	prefix := "flightcache-fleet-example:" + hex.EncodeToString(b[:]) + ":"
	db := &database{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Value
	for range instances {
		store, err := s.store(prefix)
		if err != nil {
			return 0, err
		}
		prices, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute})
		if err != nil {
			return 0, err
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
		return 0, err
	}
	return db.queries.Load(), nil
}

// redisAddr returns REDIS_ADDR, or starts a redis-server of its own.
func redisAddr() (addr string, stop func(), err error) {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
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
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for range 100 {
		if c.Ping(context.Background()).Err() == nil {
			return addr, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("redis-server on %s did not start", addr)
}
