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

// logFields returns the fields of s's log of invalidations and the instants
// they hold.
func logFields(t *testing.T, c redis.UniversalClient, s *redisstore.Store[string, string]) map[string]flightcache.Deadline {
	t.Helper()
	raw, err := c.HGetAll(context.Background(), s.InvalidationLogKey()).Result()
	require.NoError(t, err)
	fields := make(map[string]flightcache.Deadline, len(raw))
	for f, v := range raw {
		at, ok := redisstore.ParseLogAt(v)
		require.True(t, ok, "field %q holds %q", f, v)
		fields[f] = at
	}
	return fields
}

// TestATaggedInvalidationIsRecordedAsTheFold: LogInvalidation records a
// Tagged invalidation in the fold's field, deleting the tags' fields it
// covers, and tells it to every instance as a Tagged invalidation, never
// a Clear; one with a Tag is refused without a call to Redis.
func TestATaggedInvalidationIsRecordedAsTheFold(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, ClockSkew: -1})
	other := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	own, told := watch(t, s), watch(t, other)
	base := at(time.Now())
	for i, tag := range []string{"old", "new"} {
		_, err := s.LogInvalidation(ctx, flightcache.Invalidation{Tag: tag, At: base.Add(time.Duration(2*i) * time.Millisecond)})
		require.NoError(t, err)
	}

	_, err := s.LogInvalidation(ctx, flightcache.Invalidation{Tag: "x", Tagged: true, At: base})
	require.Error(t, err, "a Tagged invalidation has no Tag")
	fold, err := s.LogInvalidation(ctx, flightcache.Invalidation{Tagged: true, At: base.Add(time.Millisecond)})
	require.NoError(t, err)
	assert.True(t, fold.Tagged)
	assert.Equal(t, map[string]flightcache.Deadline{"f": fold.At, "tnew": base.Add(2 * time.Millisecond)}, logFields(t, c, s),
		"the fold replaced the tag it covers")
	assert.True(t, own.has(fold), "applied to the Store's own watchers")
	told.waitFor(t, "told to another instance as a Tagged invalidation", fold)
	for _, w := range []*applied{own, told} {
		_, ok := w.latest("")
		assert.False(t, ok, "never as a Clear")
	}
}
