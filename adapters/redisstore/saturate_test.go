package redisstore_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestTimesAsLateAsTheyGoSurviveTheEnvelope: an entry fresh for
// math.MaxInt64 (past 2262, where Unix nanoseconds end), or stale or
// expiring in the year 9999, is stored and read back as still fresh, with a
// positive Redis TTL, never wrapped into the past (DESIGN rule 12); through
// a Loader, such a key is loaded once.
func TestTimesAsLateAsTheyGoSurviveTheEnvelope(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		s := newStore[string, string](t, c, nil)
		now := time.Now()
		late := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
		require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v", FreshUntil: flightcache.DeadlineOf(now.Add(math.MaxInt64)), StaleUntil: flightcache.DeadlineOf(late.Add(-time.Hour)), ExpiresAt: flightcache.DeadlineOf(late)}))
		e, ok, err := s.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok, "stored, not deleted as if expired")
		century := 100 * 365 * 24 * time.Hour
		assert.True(t, e.FreshUntil.Time().After(now.Add(2*century)), "FreshUntil %v", e.FreshUntil)
		assert.True(t, e.StaleUntil.Time().After(now.Add(2*century)), "StaleUntil %v", e.StaleUntil)
		assert.True(t, e.ExpiresAt.Time().After(now.Add(2*century)), "ExpiresAt %v", e.ExpiresAt)
		d, err := c.PTTL(ctx, s.RedisKey("k")).Result()
		require.NoError(t, err)
		assert.Positive(t, d, "a TTL in the future")

		l, err := flightcache.New[string, string](s, &flightcache.Options{FreshFor: math.MaxInt64})
		require.NoError(t, err)
		defer l.Close()
		loads := 0
		for range 3 {
			v, err := l.GetOrLoad(ctx, "long", func(context.Context, string) (string, error) { loads++; return "v", nil })
			require.NoError(t, err)
			assert.Equal(t, "v", v)
		}
		assert.Equal(t, 1, loads, "3 reads, 1 load")
	})
}
