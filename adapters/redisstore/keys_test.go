package redisstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
	"github.com/flightcache/flightcache/singleflight"
)

// hashTag is what Redis Cluster hashes of key: the text between the first
// '{' and the next '}', when that is not empty, else the whole key
// (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

// TestRedisKeysAreUnambiguous builds the entry and lease keys of random
// prefixes and keys, made of the characters that matter to the layout
// ('{', '}', '\', NUL, the kind letters), and fails on any two that meet,
// or on an entry and its lease that Redis Cluster would put in different
// slots.
func TestRedisKeysAreUnambiguous(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	const alphabet = "{}\\\x00lvkn:[]x"
	word := func(min int) string {
		n := min + rng.IntN(6)
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	// New does no I/O: a client of nothing is enough to build keys.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()

	type origin struct{ prefix, key, kind string }
	seen := map[string]origin{}
	add := func(redisKey string, o origin) {
		if prev, ok := seen[redisKey]; ok && prev != o {
			t.Fatalf("Redis key %q is both %+v and %+v (seed %d)", redisKey, prev, o, seed)
		}
		seen[redisKey] = o
	}
	prefixes := []string{"a", "a{", "a}", "{x}", "p:", "p\\", "\\["}
	for range 40 {
		prefixes = append(prefixes, word(1)) // "" means DefaultPrefix
	}
	keys := []string{"", "x", "x\x00lease", "x}l", "x}v", "kx", "{", "}", "\\", "\\]"}
	for range 200 {
		keys = append(keys, word(0))
	}
	for _, p := range prefixes {
		s, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: p})
		require.NoError(t, err)
		for _, k := range keys {
			entry, lease, version := s.RedisKey(k), s.LeaseKey(k), s.VersionKey(k)
			add(entry, origin{p, k, "entry"})
			add(lease, origin{p, k, "lease"})
			add(version, origin{p, k, "version"})
			require.Equal(t, hashTag(entry), hashTag(lease), "prefix %q key %q: %q and %q in different slots (seed %d)", p, k, entry, lease, seed)
			require.Equal(t, hashTag(entry), hashTag(version), "prefix %q key %q: %q and %q in different slots (seed %d)", p, k, entry, version, seed)
			require.NotEqual(t, entry, hashTag(entry), "prefix %q key %q: %q has no hash tag (seed %d)", p, k, entry, seed)
		}
	}
}

// TestAKeyCannotTakeAnotherKeysLease is issue 13's case: the user key
// "x\x00lease" was stored on the Redis key of x's lease, with no TTL, and
// every fill of x then waited out its whole LoadTimeout.
func TestAKeyCannotTakeAnotherKeysLease(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		s := newStore[string, string](t, c, nil)
		for _, k := range []string{"x\x00lease", "x}l", "x\\]l", "x}"} {
			require.NoError(t, s.Set(ctx, k, flightcache.Entry[string]{Value: k}))
		}
		ctx1, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		release, err := s.Lease(ctx1, "x")
		require.NoError(t, err)
		require.NotNil(t, release, "x's lease is free: no user key sits on it")
		release()
		for _, k := range []string{"x\x00lease", "x}l", "x\\]l", "x}"} {
			e, ok, err := s.Get(ctx, k)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, k, e.Value)
			if cc, ok := c.(*redis.ClusterClient); ok {
				a, err := cc.ClusterKeySlot(ctx, s.RedisKey(k)).Result()
				require.NoError(t, err)
				b, err := cc.ClusterKeySlot(ctx, s.LeaseKey(k)).Result()
				require.NoError(t, err)
				v, err := cc.ClusterKeySlot(ctx, s.VersionKey(k)).Result()
				require.NoError(t, err)
				assert.Equal(t, a, b, "the entry and lease of %q share a slot", k)
				assert.Equal(t, a, v, "the entry and version of %q share a slot", k)
			}
		}
	})
}

// TestABatchReadOfAKeyGoCannotHashIsAnError: the maps a batch read returns
// would panic on such a key; the Store says so with an error instead
// (issue 12, rule 11).
func TestABatchReadOfAKeyGoCannotHashIsAnError(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore[any, string](t, c, &redisstore.Options[any, string]{Key: func(k any) string { return fmt.Sprint(k) }})
		for _, bad := range []any{[]int{1}, map[string]int{}, struct{ A any }{[]byte("x")}} {
			_, err := s.GetMany(context.Background(), []any{"ok", bad})
			assert.ErrorIs(t, err, singleflight.ErrUnhashableKey, "GetMany %T", bad)
			_, _, err = s.GetManyVersioned(context.Background(), []any{bad})
			assert.ErrorIs(t, err, singleflight.ErrUnhashableKey, "GetManyVersioned %T", bad)
		}
		got, err := s.GetMany(context.Background(), []any{"ok", 1})
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}
