package tiered_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestAWriteTheSharedTierRefusedConvergesOnTheWrite is issue 23, input 2:
// with Redis refusing writes for a moment (CLIENT PAUSE ... WRITE, longer
// than the call's Timeout), instance A's Invalidate deleted its local copy
// and returned the error; its notification was sent again, so B dropped
// its copy too, and both read the old value back from Redis and kept it for
// FreshFor. Notifications were retried; the shared delete was not
// (alphagov/notifications-utils#1120). Now A serves no shared copy of the
// key while the shared delete is retried in the background, and once it
// lands B is told again: the fleet converges on the write, for Delete,
// Set and SetMany.
func TestAWriteTheSharedTierRefusedConvergesOnTheWrite(t *testing.T) {
	v := func(s string) flightcache.Entry[string] { return flightcache.Entry[string]{Value: s} }
	writes := map[string]struct {
		write func(ctx context.Context, m *member) error
		aSees string // what A serves for the keys while the repair runs
	}{
		"Delete": {func(ctx context.Context, m *member) error { return m.store.Delete(ctx, "k") }, ""},
		"Set":    {func(ctx context.Context, m *member) error { return m.store.Set(ctx, "k", v("v2")) }, "v2"},
		"SetMany": {func(ctx context.Context, m *member) error {
			return m.store.SetMany(ctx, map[string]flightcache.Entry[string]{"k": v("v2"), "j": v("v2")})
		}, "v2"},
	}
	for name, w := range writes {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.Start(t)
			client := func() *redis.Client {
				c := redis.NewClient(&redis.Options{Addr: srv.Addr})
				t.Cleanup(func() { c.Close() })
				return c
			}
			prefix := redistest.Prefix(t)
			a := newMember(t, client(), prefix, redisstore.Options[string, string]{Timeout: 150 * time.Millisecond, TripAfter: -1})
			b := newMember(t, client(), prefix, redisstore.Options[string, string]{Timeout: timeout})
			require.NoError(t, b.store.SetMany(ctx, map[string]flightcache.Entry[string]{"k": v("v1"), "j": v("v1")}))
			require.Equal(t, "v1", b.serves("k"))
			require.Equal(t, "v1", a.serves("k"))

			require.NoError(t, client().Do(ctx, "CLIENT", "PAUSE", 800, "WRITE").Err())
			require.Error(t, w.write(ctx, a), "the shared tier refused the write")
			assert.Positive(t, a.store.PendingRepairs())
			assert.Equal(t, w.aSees, a.serves("k"), "A serves its own write or nothing, never the old value")
			require.NoError(t, a.store.EvictLocal(ctx, "k"))
			assert.Empty(t, a.serves("k"), "nor does A read the old value back from Redis")

			// Once Redis takes writes again, the delete lands and B is told.
			require.Eventually(t, func() bool {
				return a.store.PendingRepairs() == 0 && b.serves("k") == "" && a.serves("k") == ""
			}, 5*time.Second, 10*time.Millisecond, "the fleet converges on the write")
			if name == "SetMany" {
				assert.Empty(t, b.serves("j"))
			}
		})
	}
}

// TestASetTooLargeForRedisLeavesNoInstanceServingTheOldValue is
// django/django#3481 (ticket 16358): memcached refused a value over its
// item size, the set failed, and the old value stayed in the cache, to be
// served over the newer one in the database. Here a Set whose entry is
// longer than MaxEntryBytes is refused by Redis (ErrTooLarge) though Redis
// is up: the writer serves its own write or nothing, and the other
// instances, which held the old value locally and in Redis, stop serving
// it; the fleet converges on a miss.
func TestASetTooLargeForRedisLeavesNoInstanceServingTheOldValue(t *testing.T) {
	f := newTagFleet(t)
	o := redisstore.Options[string, string]{MaxEntryBytes: 1024}
	a := f.member(redistest.Client(t), o)
	b := f.member(redistest.Client(t), o)
	ctx := context.Background()
	require.NoError(t, a.loader.Set(ctx, "k", "old"))
	require.Equal(t, "old", serves(t, b, "k"), "B reads the old value and keeps a local copy")

	huge := strings.Repeat("x", 4096)
	err := a.loader.Set(ctx, "k", huge)
	if err != nil {
		assert.ErrorIs(t, err, redisstore.ErrTooLarge)
	}
	assert.Contains(t, []string{huge, ""}, serves(t, a, "k"), "A serves its own write or nothing")
	require.Eventually(t, func() bool {
		return a.store.PendingRepairs() == 0 && serves(t, b, "k") != "old"
	}, 5*time.Second, time.Millisecond, "B stops serving the old value")
	for name, m := range map[string]*tagMember{"A": a, "B": b} {
		assert.NotEqual(t, "old", serves(t, m, "k"), "instance %s", name)
		require.NoError(t, m.store.EvictLocal(ctx, "k"))
		assert.NotEqual(t, "old", serves(t, m, "k"), "instance %s reads no old value back from Redis", name)
	}
	late := f.member(redistest.Client(t), o)
	assert.Empty(t, serves(t, late, "k"), "an instance started later finds nothing")
}
