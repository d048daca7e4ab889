package tiered_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
	"github.com/flightcache/flightcache/adapters/tiered"
)

// leasingLRU is an in-memory shared tier that is a flightcache.Leaser whose
// leases are always free.
type leasingLRU struct {
	*lrustore.Store[string, string]
}

func (leasingLRU) Lease(context.Context, string) (func(), error) { return func() {}, nil }

// TestAStaleLocalCopyGivesWayToALongerStaleWindow: when the local copy is
// stale and the shared one is fresh until the same time, the copy that is
// served while it refreshes for longer (StaleUntil) is the newer, and
// replaces the local one, after a Lease and in GetMany; when either copy
// has no StaleUntil, ExpiresAt decides, as before StaleUntil existed.
func TestAStaleLocalCopyGivesWayToALongerStaleWindow(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Round(0)
	short := flightcache.Entry[string]{Value: "short window", FreshUntil: flightcache.DeadlineOf(now.Add(-time.Second)), StaleUntil: flightcache.DeadlineOf(now.Add(time.Minute)), ExpiresAt: flightcache.DeadlineOf(now.Add(time.Hour))}
	long := short
	long.Value, long.StaleUntil = "long window", flightcache.DeadlineOf(now.Add(10*time.Minute))
	none := short
	none.Value, none.StaleUntil = "no window", 0

	for _, c := range []struct {
		name          string
		local, shared flightcache.Entry[string]
		want          flightcache.Entry[string]
	}{
		{"the shared copy's window is longer", short, long, long},
		{"the local copy's window is longer", long, short, long},
		{"the same window", short, short, short},
		{"the shared copy has no window", short, none, short},
		{"the local copy has no window", none, long, none},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, via := range []string{"Lease", "GetMany"} {
				local, shared := newLRU[string](t), newLRU[string](t)
				s := tiered.New[string, string](local, leasingLRU{shared})
				require.NoError(t, local.Set(ctx, "k", c.local))
				require.NoError(t, shared.Set(ctx, "k", c.shared))
				if via == "Lease" {
					release, err := s.(flightcache.Leaser[string, string]).Lease(ctx, "k")
					require.NoError(t, err)
					release()
					e, ok, err := s.Get(ctx, "k")
					require.NoError(t, err)
					require.True(t, ok)
					assert.Equal(t, c.want, e, "%s: Get after Lease", via)
				} else {
					got, err := s.GetMany(ctx, []string{"k"})
					require.NoError(t, err)
					assert.Equal(t, c.want, got["k"], via)
				}
				e, ok, _ := local.Get(ctx, "k")
				require.True(t, ok)
				assert.Equal(t, c.want, e, "%s: the local tier keeps the newer copy, StaleUntil included", via)
			}
		})
	}
}

// TestEveryCopyFromTheSharedTierKeepsStaleUntil: whichever read copies an
// entry from the shared Redis tier into the local one (Get, GetMany,
// GetVersioned, GetManyVersioned, Lease past a stale copy), the local copy
// is the entry as stored, StaleUntil included.
func TestEveryCopyFromTheSharedTierKeepsStaleUntil(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		prefix := redistest.Prefix(t)
		writer, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: prefix, Timeout: timeout})
		require.NoError(t, err)
		now := time.Unix(time.Now().Unix(), 123456789)
		e := flightcache.Entry[string]{
			Value:        "shared",
			FreshUntil:   flightcache.DeadlineOf(now.Add(time.Minute + 1)),
			StaleUntil:   flightcache.DeadlineOf(now.Add(10*time.Minute + 3)),
			ExpiresAt:    flightcache.DeadlineOf(now.Add(time.Hour + 5)),
			LoadDuration: flightcache.MicrosOf(7 * time.Millisecond),
		}
		require.NoError(t, writer.Set(ctx, "k", e))

		reads := map[string]func(s tiered.Store[string, string]) (flightcache.Entry[string], error){
			"Get": func(s tiered.Store[string, string]) (flightcache.Entry[string], error) {
				got, _, err := s.Get(ctx, "k")
				return got, err
			},
			"GetMany": func(s tiered.Store[string, string]) (flightcache.Entry[string], error) {
				got, err := s.GetMany(ctx, []string{"k"})
				return got["k"], err
			},
			"GetVersioned": func(s tiered.Store[string, string]) (flightcache.Entry[string], error) {
				got, _, _, err := s.(flightcache.Fencer[string, string]).GetVersioned(ctx, "k")
				return got, err
			},
			"GetManyVersioned": func(s tiered.Store[string, string]) (flightcache.Entry[string], error) {
				got, _, err := s.(flightcache.BatchFencer[string, string]).GetManyVersioned(ctx, []string{"k"})
				return got["k"], err
			},
			"Lease": func(s tiered.Store[string, string]) (flightcache.Entry[string], error) {
				release, err := s.(flightcache.Leaser[string, string]).Lease(ctx, "k")
				if release != nil {
					release()
				}
				return e, err // Lease returns no entry: only the local copy counts
			},
		}
		for name, read := range reads {
			local := newLRU[string](t)
			if name == "Lease" {
				// Lease reads the shared tier only past a stale local copy.
				stale := e
				stale.Value, stale.FreshUntil, stale.StaleUntil = "stale", flightcache.DeadlineOf(now.Add(-time.Hour)), flightcache.DeadlineOf(now.Add(-time.Minute))
				require.NoError(t, local.Set(ctx, "k", stale))
			}
			shared, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: prefix, Timeout: timeout})
			require.NoError(t, err)
			s := tiered.New[string, string](local, shared)
			got, err := read(s)
			require.NoError(t, err, name)
			assertSameEntry(t, e, got, name+" returns")
			copied, ok, _ := local.Get(ctx, "k")
			require.True(t, ok, "%s copies the shared entry into the local tier", name)
			assertSameEntry(t, e, copied, name+" copies")
		}
	})
}

// assertSameEntry asserts that got is want, comparing times with Equal.
func assertSameEntry(t *testing.T, want, got flightcache.Entry[string], what string) {
	t.Helper()
	assert.Equal(t, want.Value, got.Value, what)
	assert.Equal(t, want.Missing, got.Missing, what)
	assert.True(t, want.FreshUntil.Equal(got.FreshUntil), "%s FreshUntil %v, want %v", what, got.FreshUntil, want.FreshUntil)
	assert.True(t, want.StaleUntil.Equal(got.StaleUntil), "%s StaleUntil %v, want %v", what, got.StaleUntil, want.StaleUntil)
	assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt), "%s ExpiresAt %v, want %v", what, got.ExpiresAt, want.ExpiresAt)
	assert.Equal(t, want.LoadDuration, got.LoadDuration, what)
}
