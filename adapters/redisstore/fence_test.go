package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestASetOnOneInstanceWinsOverASlowFillOnAnother is issue 13's first case,
// at the Store level: instance A's fill reads the key's version and is slow;
// instance B sets v2 (or invalidates); A's fill then tries to write v1.
func TestASetOnOneInstanceWinsOverASlowFillOnAnother(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		prefix := redistest.Prefix(t)
		a := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
		b := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})

		_, found, v, err := a.GetVersioned(ctx, "k")
		require.NoError(t, err)
		require.False(t, found)
		require.NoError(t, b.Set(ctx, "k", flightcache.Entry[string]{Value: "v2"}))
		wrote, err := a.SetIfVersion(ctx, "k", flightcache.Entry[string]{Value: "v1"}, v)
		require.NoError(t, err)
		assert.False(t, wrote, "A's slow fill must not write over B's Set")
		e, _, err := b.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "v2", e.Value, "every instance reads B's value")

		_, _, v, err = a.GetVersioned(ctx, "k")
		require.NoError(t, err)
		require.NoError(t, b.Delete(ctx, "k"))
		wrote, err = a.SetIfVersion(ctx, "k", flightcache.Entry[string]{Value: "v1"}, v)
		require.NoError(t, err)
		assert.False(t, wrote, "nor over B's Invalidate")
		d, err := c.PTTL(ctx, a.VersionKey("k")).Result()
		require.NoError(t, err)
		assert.Greater(t, d, 50*time.Second, "the tombstone lasts FenceTTL")
		_, found, _, err = a.GetVersioned(ctx, "k")
		require.NoError(t, err)
		assert.False(t, found)

		// Batches: B changes one key of A's batch.
		keys := []string{"b1", "b2", "b3"}
		_, versions, err := a.GetManyVersioned(ctx, keys)
		require.NoError(t, err)
		require.NoError(t, b.Set(ctx, "b2", flightcache.Entry[string]{Value: "B"}))
		written, err := a.SetManyIfVersion(ctx, map[string]flightcache.Entry[string]{
			"b1": {Value: "A"}, "b2": {Value: "A"}, "b3": {Value: "A"},
		}, versions)
		require.NoError(t, err)
		assert.Equal(t, map[string]bool{"b1": true, "b3": true}, written)
		e, _, err = a.Get(ctx, "b2")
		require.NoError(t, err)
		assert.Equal(t, "B", e.Value)
	})
}

func TestVersionsLiveAsLongAsTheirEntriesAndAtLeastFenceTTL(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{FenceTTL: 30 * time.Second})
	require.NoError(t, s.Set(ctx, "short", flightcache.Entry[string]{Value: "v", ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Second))}))
	d, err := c.PTTL(ctx, s.VersionKey("short")).Result()
	require.NoError(t, err)
	assert.Greater(t, d, 20*time.Second, "a short-lived entry's version stays FenceTTL")
	require.NoError(t, s.Set(ctx, "long", flightcache.Entry[string]{Value: "v", ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour))}))
	d, err = c.PTTL(ctx, s.VersionKey("long")).Result()
	require.NoError(t, err)
	assert.Greater(t, d, 59*time.Minute, "a long-lived entry's version as long as it")
	require.NoError(t, s.Set(ctx, "forever", flightcache.Entry[string]{Value: "v"}))
	d, err = c.PTTL(ctx, s.VersionKey("forever")).Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), d)
	c.Del(ctx, s.RedisKey("forever"), s.VersionKey("forever"))
}

// The cost of fencing: a fenced write is one Lua script, one round trip, as
// the plain SET it replaces; reading the version rides on the fill's read
// (MGET of two keys in one slot).
func BenchmarkWrites(b *testing.B) {
	ctx := context.Background()
	c := redistest.Client(b)
	s, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: redistest.Prefix(b), TripAfter: -1})
	require.NoError(b, err)
	e := flightcache.Entry[string]{Value: "value", FreshUntil: flightcache.DeadlineOf(time.Now().Add(time.Hour)), ExpiresAt: flightcache.DeadlineOf(time.Now().Add(2 * time.Hour))}
	b.Run("go-redis SET", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := c.Set(ctx, "bench:raw:"+strconv.Itoa(i%100), "value", time.Hour).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-redis EVALSHA write", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			k := "bench:raw:" + strconv.Itoa(i%100)
			if err := redisstore.WriteScript.Run(ctx, c, []string{"{" + k + "}v", "{" + k + "}n"}, "*", "value", 3600000, "12345", 60000).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-redis GET", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			c.Get(ctx, "bench:raw:"+strconv.Itoa(i%100))
		}
	})
	b.Run("Get", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, _, err := s.Get(ctx, strconv.Itoa(i%100)); err != nil {
				b.Fatal(err)
			}
		}
	})
	cc := redis.NewClient(&redis.Options{Addr: redistest.Addr(b), ContextTimeoutEnabled: true})
	defer cc.Close()
	direct, err := redisstore.New[string, string](cc, &redisstore.Options[string, string]{Prefix: redistest.Prefix(b), TripAfter: -1})
	require.NoError(b, err)
	b.Run("Get ContextTimeoutEnabled", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, _, err := direct.Get(ctx, strconv.Itoa(i%100)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set ContextTimeoutEnabled", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := direct.Set(ctx, strconv.Itoa(i%100), e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := s.Set(ctx, strconv.Itoa(i%100), e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetVersioned+SetIfVersion", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			k := strconv.Itoa(i % 100)
			_, _, v, err := s.GetVersioned(ctx, k)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.SetIfVersion(ctx, k, e, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get+Set", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			k := strconv.Itoa(i % 100)
			if _, _, err := s.Get(ctx, k); err != nil {
				b.Fatal(err)
			}
			if err := s.Set(ctx, k, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
