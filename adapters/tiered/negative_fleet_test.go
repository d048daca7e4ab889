package tiered_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestACachedNotFoundIsSharedAndGivesWayToASetElsewhere is
// redis/rueidis#534 and PostHog/posthog#51050: a "not found" cached on one
// instance (a client-side cached nil in rueidis, a negative-cache entry in
// PostHog) kept hiding a value that another instance had just written, for
// as long as the negative entry lived. Here a cached "not found" is shared
// by the fleet (one load for all), lives in Redis no longer than
// MissingFor, and a Set on another instance replaces it everywhere.
func TestACachedNotFoundIsSharedAndGivesWayToASetElsewhere(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	const missingFor = time.Minute
	opts := flightcache.Options{FreshFor: time.Hour, MissingFor: missingFor}
	a := newInstance(t, c, prefix, true, true, opts)
	b := newInstance(t, c, prefix, true, true, opts)
	ctx := context.Background()
	var loads atomic.Int32
	notFound := func(context.Context, string) (string, error) {
		loads.Add(1)
		return "", flightcache.ErrNotFound
	}

	for name, in := range map[string]*instance{"A": a, "B": b} {
		_, err := in.loader.GetOrLoad(ctx, "k", notFound)
		require.ErrorIs(t, err, flightcache.ErrNotFound, "instance %s", name)
	}
	assert.EqualValues(t, 1, loads.Load(), "the fleet shares the cached not-found")
	ttl, err := c.PTTL(ctx, a.shared.RedisKey("k")).Result()
	require.NoError(t, err)
	assert.Positive(t, ttl, "the negative entry has a Redis TTL")
	assert.LessOrEqual(t, ttl, missingFor, "no longer than MissingFor")

	require.NoError(t, a.loader.Set(ctx, "k", "v"))
	for name, in := range map[string]*instance{"A": a, "B": b} {
		require.Eventually(t, func() bool {
			v, err := in.loader.GetOrLoad(ctx, "k", notFound)
			return err == nil && v == "v"
		}, 5*time.Second, time.Millisecond, "instance %s serves the Set, not the cached not-found", name)
	}
	assert.EqualValues(t, 1, loads.Load(), "and loads nothing more")

	// And back: an Invalidate elsewhere ends the value; the next load's
	// not-found is cached again for the whole fleet.
	require.NoError(t, b.loader.Invalidate(ctx, "k"))
	require.Eventually(t, func() bool {
		_, ok, err := a.loader.Peek(ctx, "k")
		return err == nil && !ok
	}, 5*time.Second, time.Millisecond, "A drops its copy")
	_, err = a.loader.GetOrLoad(ctx, "k", notFound)
	require.ErrorIs(t, err, flightcache.ErrNotFound)
	_, err = b.loader.GetOrLoad(ctx, "k", notFound)
	require.ErrorIs(t, err, flightcache.ErrNotFound)
	assert.EqualValues(t, 2, loads.Load())
}
