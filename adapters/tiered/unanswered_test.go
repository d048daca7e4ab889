package tiered_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
	"github.com/flightcache/flightcache/adapters/tiered"
)

// TestARedisThatStopsAnsweringWedgesNoCallerAndNoClose is
// redis/rueidis#683 and redis/go-redis#2145: with Redis not answering,
// calls made with a context deadline took the client's own 30 s, or
// blocked without end, and the goroutines piled up. Here Redis takes every
// byte and answers none (the proxy holds them) while callers of a fleet
// instance read with short deadlines: each returns by its deadline, then
// Close of the Loader, the tiered Store, the subscription and the shared
// Store, with those calls still in flight, returns within the client's
// ReadTimeout (redisstore.Store.Close's documented bound), every later call
// is ErrClosed, and no goroutine outlives the test (goleak in TestMain).
func TestARedisThatStopsAnsweringWedgesNoCallerAndNoClose(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	const readTimeout = time.Second
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr, ReadTimeout: readTimeout, WriteTimeout: readTimeout, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	local, err := lrustore.New[string, string](100)
	require.NoError(t, err)
	shared, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{
		Prefix: redistest.Prefix(t), Timeout: 300 * time.Millisecond, TripAfter: -1,
	})
	require.NoError(t, err)
	store := tiered.NewWithNotifier[string, string](local, shared, shared)
	sub, err := shared.Subscribe(store)
	require.NoError(t, err)
	loader, err := flightcache.New[string, string](store, &flightcache.Options{FreshFor: time.Hour, LoadTimeout: time.Second})
	require.NoError(t, err)
	ctx := context.Background()
	load := func(context.Context, string) (string, error) { return "v", nil }

	proxy.Hold()
	defer proxy.Release()
	const deadline = 50 * time.Millisecond
	var wg sync.WaitGroup
	for _, key := range []string{"a", "b", "c", "a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			start := time.Now()
			v, err := loader.GetOrLoad(cctx, key, load)
			took := time.Since(start)
			if err == nil {
				assert.Equal(t, "v", v)
			} else {
				assert.ErrorIs(t, err, context.DeadlineExceeded)
			}
			assert.Less(t, took, deadline+250*time.Millisecond, "key %s: the caller waits no longer than its ctx allows", key)
		}()
	}
	wg.Wait()
	// A write given up on too.
	sctx, cancel := context.WithTimeout(ctx, deadline)
	err = loader.Set(sctx, "a", "v2")
	cancel()
	if err != nil {
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "a Set that cannot reach Redis fails by its deadline: %v", err)
	}

	start := time.Now()
	require.NoError(t, loader.Close())
	require.NoError(t, store.Close())
	require.NoError(t, sub.Close())
	require.NoError(t, shared.Close())
	assert.Less(t, time.Since(start), readTimeout+time.Second, "Close with Redis calls in flight returns within the client's ReadTimeout")

	_, err = loader.GetOrLoad(ctx, "a", load)
	assert.ErrorIs(t, err, flightcache.ErrClosed)
	_, _, err = shared.Get(ctx, "a")
	assert.ErrorIs(t, err, flightcache.ErrClosed)
}
