package tiered_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestAnExpiredEntryIsStaleOnEveryInstanceEvenOneWithAColdLocalTier is
// ZiggyCreatures/FusionCache#553: an Expire on one node left the shared
// (L2) entry as it was, so a node whose memory tier (L1) missed, or one
// that restarted, read it back from L2 as still fresh. Here, after A's
// Expire, B (which had a local copy) and C (started afterwards, its local
// tier cold) serve the value only as stale, with a refresh, never as fresh.
func TestAnExpiredEntryIsStaleOnEveryInstanceEvenOneWithAColdLocalTier(t *testing.T) {
	f := newTagFleet(t)
	a := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	b := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	ctx := context.Background()
	policy := flightcache.EntryPolicy{FreshFor: time.Hour, StaleFor: time.Hour}
	require.NoError(t, a.loader.SetWithPolicy(ctx, "k", "v1", policy))
	r, ok, err := b.loader.Peek(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, flightcache.ServedFresh, r.Served, "B reads the Set fresh from Redis and keeps a local copy")

	require.NoError(t, a.loader.Expire(ctx, "k"))
	c := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	for name, m := range map[string]*tagMember{"A": a, "B": b, "C (cold local tier)": c} {
		require.Eventually(t, func() bool {
			r, ok, err := m.loader.Peek(ctx, "k")
			return err == nil && ok && r.Served == flightcache.ServedStale
		}, 5*time.Second, time.Millisecond, "instance %s: the expired entry is stale", name)
		r, ok, err := m.loader.Peek(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok, "instance %s: within StaleFor the old value is still served", name)
		assert.Equal(t, "v1", r.Value, "instance %s", name)
		assert.NotEqual(t, flightcache.ServedFresh, r.Served, "instance %s never serves the expired entry as fresh again", name)
	}

	// A read on C serves the old value stale and refreshes it once.
	refreshed := make(chan struct{})
	v, err := c.loader.GetOrLoad(ctx, "k", func(ctx context.Context, key string) (string, error) {
		defer close(refreshed)
		return "v2", flightcache.SetPolicy(ctx, key, policy)
	})
	require.NoError(t, err)
	assert.Equal(t, "v1", v)
	<-refreshed
	require.NoError(t, c.loader.Wait(ctx))
	require.Eventually(t, func() bool { return serves(t, a, "k") == "v2" }, 5*time.Second, time.Millisecond,
		"the refresh on C reaches A")
}
