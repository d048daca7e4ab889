package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestInstancesLeasingPartsOfABatchNeverWaitOnEachOther: A leases keys 0-5
// of a batch, B then asks for 3-9: B gets 6-9 at once, without waiting for
// A's 3-5, and once A releases, B can take those too.
func TestInstancesLeasingPartsOfABatchNeverWaitOnEachOther(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		prefix := redistest.Prefix(t)
		a := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, LeaseTTL: 500 * time.Millisecond})
		b := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
		keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}

		takenA, releaseA, err := a.LeaseMany(ctx, append(keys[:6:6], "k0")) // a repeat is one key
		require.NoError(t, err)
		assert.Equal(t, keys[:6], takenA)
		takenB, releaseB, err := b.LeaseMany(ctx, keys[3:])
		require.NoError(t, err)
		assert.Equal(t, keys[6:], takenB, "B takes what A does not hold, without waiting")

		// A's leases outlive their TTL while A lives.
		time.Sleep(1500 * time.Millisecond)
		n, err := c.Exists(ctx, a.LeaseKey("k3")).Result()
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "A's lease is kept alive")

		releaseA()
		releaseA() // a second call does nothing
		for _, k := range keys[:6] {
			n, err := c.Exists(ctx, a.LeaseKey(k)).Result()
			require.NoError(t, err)
			assert.Zero(t, n, "%s released", k)
		}
		n, err = c.Exists(ctx, b.LeaseKey("k6")).Result()
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "A's release leaves B's leases")
		again, releaseAgain, err := b.LeaseMany(ctx, keys[3:6])
		require.NoError(t, err)
		assert.Equal(t, keys[3:6], again)
		releaseAgain()
		releaseB()
		require.NoError(t, a.Close())
	})
}
