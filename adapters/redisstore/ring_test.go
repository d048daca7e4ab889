package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestARingShardThatComesBackBringsBackItsOldValues is issue 23, input 4,
// and pins the limit the package documentation states for a *redis.Ring
// (redis/go-redis#526): the Ring moves a key to another shard while its
// shard does not answer, and back when it answers again, and the shard
// comes back with the value and the version it had. So Set(k, v1), the
// shard paused, Set(k, v2) on the other shard, the shard back: reads serve
// v1 again, and no fence can tell, since the versions went back too. The
// shards of a Ring share nothing; a Cluster moves slots only with their
// keys. If this test ever fails, the Ring has become safe and the
// documentation must say so.
func TestARingShardThatComesBackBringsBackItsOldValues(t *testing.T) {
	ctx := context.Background()
	servers := []*redistest.Server{redistest.Start(t), redistest.Start(t)}
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:              map[string]string{"s0": servers[0].Addr, "s1": servers[1].Addr},
		HeartbeatFrequency: 50 * time.Millisecond,
		ReadTimeout:        100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond, MaxRetries: -1,
	})
	t.Cleanup(func() { ring.Close() })
	s := newStore[string, string](t, ring, &redisstore.Options[string, string]{Timeout: time.Second, TripAfter: -1})
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v1"}))

	// The shard that holds k, paused; the Ring finds it down and moves k.
	var home, other *redis.Client
	for i, srv := range servers {
		c := plainClient(t, srv.Addr)
		if c.Exists(ctx, s.RedisKey("k")).Val() == 1 {
			home, other = c, plainClient(t, servers[1-i].Addr)
		}
	}
	require.NotNil(t, home)
	pauseClient := plainClient(t, home.Options().Addr)
	require.NoError(t, pauseClient.Do(ctx, "CLIENT", "PAUSE", 3000, "ALL").Err())
	require.Eventually(t, func() bool {
		return s.Set(ctx, "k", flightcache.Entry[string]{Value: "v2"}) == nil &&
			other.Exists(ctx, s.RedisKey("k")).Val() == 1
	}, 5*time.Second, 20*time.Millisecond, "the Ring moved k to the other shard")

	// The shard answers again; the Ring moves k back to it.
	old := 0
	require.Eventually(t, func() bool {
		e, ok, err := s.Get(ctx, "k")
		if err == nil && ok && e.Value == "v1" {
			old++
		}
		return old > 0
	}, 10*time.Second, 20*time.Millisecond)
	t.Logf("the Ring served the value written before the later Set (%d reads)", old)
	_, _, v, err := s.GetVersioned(ctx, "k")
	require.NoError(t, err)
	assert.NotZero(t, v, "the old version came back with it: nothing fences it")
}
