package redisstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// plainClient is a client as a new user builds one: an address and nothing
// more, so go-redis ignores context deadlines and waits 5 s (ReadTimeout) for a reply.
func plainClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// pause makes srv answer no client for d (CLIENT PAUSE d ALL), as a Redis
// stuck in a long command, a fork or a failover looks to its clients.
func pause(t *testing.T, addr string, d time.Duration) {
	admin := plainClient(t, addr)
	require.NoError(t, admin.Do(context.Background(), "CLIENT", "PAUSE", d.Milliseconds(), "ALL").Err())
}

// The bound every call must keep: Options.Timeout plus a margin for the
// scheduling of a busy, race-instrumented test machine. The server stays
// paused for 2 s, far past it.
const (
	callTimeout = 100 * time.Millisecond
	margin      = 400 * time.Millisecond
)

// clientKinds are the two ways a Store calls Redis: on a goroutine of its
// own (a client that ignores context deadlines), or directly (one built
// with ContextTimeoutEnabled).
var clientKinds = map[string]func(t *testing.T, addr string) *redis.Client{
	"plain": plainClient,
	"ContextTimeoutEnabled": func(t *testing.T, addr string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		t.Cleanup(func() { c.Close() })
		return c
	},
}

func TestEveryCallReturnsWithinTheTimeoutWhileRedisIsPaused(t *testing.T) {
	for name, client := range clientKinds {
		t.Run(name, func(t *testing.T) { testEveryCallWhilePaused(t, client) })
	}
}

func testEveryCallWhilePaused(t *testing.T, client func(t *testing.T, addr string) *redis.Client) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c := client(t, srv.Addr)
	prefix := redistest.Prefix(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, Timeout: callTimeout, TripAfter: -1})
	other := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, Timeout: callTimeout, TripAfter: -1})
	e := flightcache.Entry[string]{Value: "v"}
	require.NoError(t, s.Set(ctx, "k", e))
	release, err := s.Lease(ctx, "held")
	require.NoError(t, err)
	require.NotNil(t, release)
	sub, err := other.Subscribe(newLocalTier())
	require.NoError(t, err)
	waitSubscribed(t, srv.Addr, 1)

	pause(t, srv.Addr, 2*time.Second)
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, _, err := s.Get(ctx, "k"); return err }},
		{"Set", func() error { return s.Set(ctx, "k", e) }},
		{"Delete", func() error { return s.Delete(ctx, "k") }},
		{"GetMany", func() error { _, err := s.GetMany(ctx, []string{"k", "j"}); return err }},
		{"SetMany", func() error { return s.SetMany(ctx, map[string]flightcache.Entry[string]{"k": e, "j": e}) }},
		{"Lease", func() error { _, err := s.Lease(ctx, "k"); return err }},
		{"release", func() error { release(); return redisstore.ErrTimeout }},
		{"Notify", func() error { return s.Notify(ctx, "k") }},
		{"Subscription.Close", func() error { sub.Close(); return redisstore.ErrTimeout }},
		{"Subscribe", func() error {
			late, err := s.Subscribe(newLocalTier())
			require.NoError(t, err, "Subscribe goes on trying in the background")
			// Closing it waits for its connection attempt, which the
			// client's own timeouts bound: not a call this test bounds.
			t.Cleanup(func() { late.Close() })
			return redisstore.ErrTimeout
		}},
	}
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		took := time.Since(start)
		assert.ErrorIs(t, err, redisstore.ErrTimeout, c.name)
		assert.ErrorIs(t, err, context.DeadlineExceeded, c.name)
		assert.Less(t, took, callTimeout+margin, "%s took %v against a paused Redis with Timeout %v", c.name, took, callTimeout)
		t.Logf("%-18s %v", c.name, took.Round(time.Millisecond))
	}
	require.NoError(t, s.Close(), "Close waits for the calls left behind")
	require.NoError(t, other.Close())
	_, _, err = s.Get(ctx, "k")
	assert.ErrorIs(t, err, flightcache.ErrClosed)
}

// TestReadLatencyWhileRedisIsPaused measures what a reader sees: 20
// goroutines reading for as long as Redis is paused. It logs the p99.
func TestReadLatencyWhileRedisIsPaused(t *testing.T) {
	for name, client := range clientKinds {
		t.Run(name, func(t *testing.T) { testReadLatencyWhilePaused(t, client) })
	}
}

func testReadLatencyWhilePaused(t *testing.T, client func(t *testing.T, addr string) *redis.Client) {
	ctx := context.Background()
	srv := redistest.Start(t)
	s := newStore[string, string](t, client(t, srv.Addr), &redisstore.Options[string, string]{Timeout: callTimeout, TripAfter: -1})
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}))
	pause(t, srv.Addr, 1500*time.Millisecond)
	var mu sync.Mutex
	var took []time.Duration
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 8 {
				start := time.Now()
				_, _, err := s.Get(ctx, "k")
				d := time.Since(start)
				assert.ErrorIs(t, err, redisstore.ErrTimeout)
				mu.Lock()
				took = append(took, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(took)
	p99 := took[len(took)*99/100]
	t.Logf("reads while paused: n=%d p50=%v p99=%v max=%v (Timeout %v)", len(took),
		took[len(took)/2].Round(time.Millisecond), p99.Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), callTimeout)
	assert.Less(t, p99, callTimeout+margin)
	require.NoError(t, s.Close())
}

func TestNewRefusesAClientWhoseCallsCouldNeverEnd(t *testing.T) {
	addr := redistest.Addr(t)
	for name, o := range map[string]*redis.Options{
		"ReadTimeout":  {Addr: addr, ReadTimeout: -1},
		"WriteTimeout": {Addr: addr, WriteTimeout: -2},
	} {
		c := redis.NewClient(o)
		_, err := redisstore.New[string, string](c, nil)
		assert.ErrorContains(t, err, name)
		assert.ErrorContains(t, err, "ContextTimeoutEnabled")
		c.Close()
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}, ReadTimeout: -1})
	_, err := redisstore.New[string, string](ring, nil)
	assert.ErrorContains(t, err, "ReadTimeout")
	ring.Close()

	ok := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -1, ContextTimeoutEnabled: true})
	_, err = redisstore.New[string, string](ok, nil)
	assert.NoError(t, err, "a client that honours context deadlines needs no ReadTimeout")
	ok.Close()
}

func TestSubscriptionCloseIsPrompt(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore[string, string](t, plainClient(t, srv.Addr), nil)
	sub, err := s.Subscribe(newLocalTier())
	require.NoError(t, err)
	waitSubscribed(t, srv.Addr, 1) // its goroutine now waits in a read of up to 2 s
	start := time.Now()
	require.NoError(t, sub.Close())
	assert.Less(t, time.Since(start), margin, "Close does not wait out the 2 s idle read")
}

// waitSubscribed waits until the Redis at addr has n channels subscribed.
func waitSubscribed(t *testing.T, addr string, n int) {
	admin := plainClient(t, addr)
	require.Eventually(t, func() bool {
		chans, _ := admin.PubSubChannels(context.Background(), "*").Result()
		return len(chans) == n
	}, 5*time.Second, 5*time.Millisecond)
}
