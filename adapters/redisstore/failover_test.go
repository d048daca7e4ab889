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

// TestWaitReplicasPutsACompletedWriteOnAReplica is issue 23, input 8:
// over Sentinel, a failover under load served values older than a Set that
// had completed, the versions rolling back with them (asynchronous
// replication). With Options.WaitReplicas a write returns only once a
// replica has it, single keys and batches alike, and fails with
// ErrNotReplicated when none acknowledges in time.
func TestWaitReplicasPutsACompletedWriteOnAReplica(t *testing.T) {
	ctx := context.Background()
	sen := redistest.StartSentinel(t)
	master := redis.NewClient(&redis.Options{Addr: sen.Master.Addr})
	t.Cleanup(func() { master.Close() })
	replica := redis.NewClient(&redis.Options{Addr: sen.Replica.Addr})
	t.Cleanup(func() { replica.Close() })
	s := newStore[string, string](t, master, &redisstore.Options[string, string]{WaitReplicas: 1, Timeout: time.Second, TripAfter: -1})
	e := flightcache.Entry[string]{Value: "v"}

	require.NoError(t, s.Set(ctx, "k", e))
	assert.Equal(t, int64(1), replica.Exists(ctx, s.RedisKey("k")).Val(), "the replica has it when Set returns")
	require.NoError(t, s.SetMany(ctx, map[string]flightcache.Entry[string]{"a": e, "b": e}))
	assert.Equal(t, int64(2), replica.Exists(ctx, s.RedisKey("a"), s.RedisKey("b")).Val())
	require.NoError(t, s.Delete(ctx, "k"))
	assert.Zero(t, replica.Exists(ctx, s.RedisKey("k")).Val())

	sen.Replica.Stop()
	start := time.Now()
	err := s.Set(ctx, "k", e)
	require.ErrorIs(t, err, redisstore.ErrNotReplicated)
	assert.Less(t, time.Since(start), time.Second+margin, "within Timeout")

	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": sen.Master.Addr}})
	t.Cleanup(func() { ring.Close() })
	_, err = redisstore.New[string, string](ring, &redisstore.Options[string, string]{WaitReplicas: 1})
	assert.ErrorContains(t, err, "WaitReplicas")
}
