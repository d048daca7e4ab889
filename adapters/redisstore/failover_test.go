package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestAStoreOverSentinelSurvivesAFailover stops the master of a Sentinel
// deployment; the Sentinel promotes the replica, and the Store, over a
// failover client, reads and writes again (its breaker closing once a
// probe gets through). It logs how long the Store was unavailable.
func TestAStoreOverSentinelSurvivesAFailover(t *testing.T) {
	ctx := context.Background()
	sen := redistest.StartSentinel(t)
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: sen.MasterName, SentinelAddrs: []string{sen.Addr}})
	t.Cleanup(func() { c.Close() })
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Timeout: time.Second, OpenFor: 200 * time.Millisecond})
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "before"}))
	replica := redis.NewClient(&redis.Options{Addr: sen.Replica.Addr})
	t.Cleanup(func() { replica.Close() })
	require.Eventually(t, func() bool { return replica.Exists(ctx, s.RedisKey("k")).Val() == 1 },
		10*time.Second, 10*time.Millisecond, "the write reached the replica")

	sen.Master.Stop()
	start := time.Now()
	require.Eventually(t, func() bool {
		return s.Set(ctx, "k2", flightcache.Entry[string]{Value: "after"}) == nil
	}, 60*time.Second, 50*time.Millisecond, "writes go to the promoted replica")
	t.Logf("after the master stopped, the Store wrote again within %v", time.Since(start).Round(10*time.Millisecond))
	e, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok, "what was written before the failover is read after it")
	require.Equal(t, "before", e.Value)
	require.NoError(t, s.Close())
}
