package tiered_test

import (
	"context"
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

// endsAfterWrite is a shared tier whose writes end the caller's context as
// soon as they have landed: a caller whose deadline passes between the
// Redis write and the PUBLISH.
type endsAfterWrite struct {
	*redisstore.Store[string, string]
	cancel context.CancelFunc
}

func (s endsAfterWrite) Set(ctx context.Context, k string, e flightcache.Entry[string]) error {
	defer s.cancel()
	return s.Store.Set(ctx, k, e)
}

func (s endsAfterWrite) Delete(ctx context.Context, k string) error {
	defer s.cancel()
	return s.Store.Delete(ctx, k)
}

func (s endsAfterWrite) SetMany(ctx context.Context, m map[string]flightcache.Entry[string]) error {
	defer s.cancel()
	return s.Store.SetMany(ctx, m)
}

// TestANotificationDoesNotDependOnTheCallersContext is issue 23, input 5: a
// Set whose context ended between the Redis write and the PUBLISH returned
// context.Canceled; Redis held the new value, but the notification was
// queued until that instance's next successful Notify or quiet
// subscription, and another instance served the replaced value meanwhile
// (for the whole test while others kept publishing). A fleet-wide side
// effect of a write never depends on the caller's context once the write
// has landed; for Set, Delete and SetMany.
func TestANotificationDoesNotDependOnTheCallersContext(t *testing.T) {
	writes := map[string]func(ctx context.Context, s tiered.Store[string, string]) error{
		"Set": func(ctx context.Context, s tiered.Store[string, string]) error {
			return s.Set(ctx, "k", flightcache.Entry[string]{Value: "v2"})
		},
		"Delete": func(ctx context.Context, s tiered.Store[string, string]) error { return s.Delete(ctx, "k") },
		"SetMany": func(ctx context.Context, s tiered.Store[string, string]) error {
			return s.SetMany(ctx, map[string]flightcache.Entry[string]{"k": {Value: "v2"}})
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			c := redistest.Client(t)
			prefix := redistest.Prefix(t)
			// Long heartbeats: no quiet channel's PING sends the queue.
			o := redisstore.Options[string, string]{Timeout: timeout, Heartbeat: time.Minute}
			b := newMember(t, c, prefix, o)
			require.NoError(t, b.store.Set(context.Background(), "k", flightcache.Entry[string]{Value: "v1"}))
			require.Equal(t, "v1", b.serves("k"))

			aShared, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: prefix, Timeout: timeout, Heartbeat: time.Minute})
			require.NoError(t, err)
			t.Cleanup(func() { aShared.Close() })
			ctx, cancel := context.WithCancel(context.Background())
			a := tiered.NewWithNotifier[string, string](newLRU[string](t), endsAfterWrite{aShared, cancel}, aShared)
			t.Cleanup(func() { a.Close() })
			write(ctx, a) // its error, if any, is the caller's context's
			require.Eventually(t, func() bool { return b.serves("k") != "v1" }, 3*time.Second, 5*time.Millisecond,
				"B serves the value A replaced")
		})
	}
}

// TestAWriteOverAHungRedisReturnsByItsCallersDeadline is redis/go-redis#2145
// for writes: a caller's deadline did not bound a call to a Redis that did
// not answer. A Loader's Set or Invalidate over a tiered Store whose Redis
// holds every byte returns by the caller's deadline (rule 13: ctx bounds
// waiting for a remote store), not by the Store's Timeout after it: the
// notification that follows the write goes on in the background, and
// Close waits for it.
func TestAWriteOverAHungRedisReturnsByItsCallersDeadline(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	local, err := lrustore.New[string, string](100)
	require.NoError(t, err)
	const storeTimeout = 500 * time.Millisecond
	shared, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{
		Prefix: redistest.Prefix(t), Timeout: storeTimeout, TripAfter: -1,
	})
	require.NoError(t, err)
	t.Cleanup(func() { shared.Close() })
	store := tiered.NewWithNotifier[string, string](local, shared, shared)
	loader, err := flightcache.New[string, string](store, &flightcache.Options{FreshFor: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { loader.Close() })

	proxy.Hold()
	defer proxy.Release()
	const deadline = 50 * time.Millisecond
	for _, write := range []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"Set", func(ctx context.Context) error { return loader.Set(ctx, "k", "v") }},
		{"Invalidate", func(ctx context.Context) error { return loader.Invalidate(ctx, "k") }},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		err := write.do(ctx)
		took := time.Since(start)
		cancel()
		assert.Error(t, err, "%s: Redis never answered its write", write.name)
		assert.Less(t, took, deadline+storeTimeout/2, "%s returns by the caller's deadline, not the Store's Timeout after it", write.name)
	}
	assert.Equal(t, 2, tiered.NotificationsInBackground(store), "each write's notification goes on after its caller left")
	require.NoError(t, store.Close())
	assert.Zero(t, tiered.NotificationsInBackground(store), "Close waits for them (they end by the Store's Timeout)")
}
