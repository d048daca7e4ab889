package flightcache_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// TestGetOrLoadResultSaysHowEachValueWasServed walks one key through every
// way a value is served.
func TestGetOrLoadResultSaysHowEachValueWasServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := new(failing)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{
			FreshFor: time.Minute, StaleFor: time.Minute, StaleIfError: time.Hour, SoftTimeout: 50 * time.Millisecond,
		})
		ctx := context.Background()
		start := time.Now()
		r, err := l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		assert.Equal(t, "v-k", r.Value)
		assert.Equal(t, start.Add(time.Minute), r.FreshUntil)
		assert.Equal(t, start.Add(2*time.Minute), r.StaleUntil)
		assert.Equal(t, start.Add(61*time.Minute), r.ExpiresAt)
		assert.NoError(t, r.Err)

		r, err = l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
		assert.Equal(t, start.Add(time.Minute), r.FreshUntil)

		time.Sleep(90 * time.Second)
		src.down.Store(true)
		r, err = l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStale, r.Served)
		assert.Equal(t, "v-k", r.Value)
		synctest.Wait()

		time.Sleep(time.Minute) // past StaleFor: the old value only stands in
		r, err = l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.ErrorIs(t, r.Err, errBackend)
		assert.Equal(t, "v-k", r.Value)

		hang := func(ctx context.Context, key string) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}
		r, err = l.GetOrLoadResult(ctx, "k", hang)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.ErrorIs(t, r.Err, flightcache.ErrSoftTimeout)

		r, err = l.GetOrLoadResult(ctx, "never", src.load)
		require.ErrorIs(t, err, errBackend)
		assert.Zero(t, r, "nothing served")
		l.Close()
	})
}

func TestGetOrLoadResultOfANotFoundAnswer(t *testing.T) {
	l := newLoader(t, newMemStore[string](), &flightcache.Options{MissingFor: time.Minute})
	gone := func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
	r, err := l.GetOrLoadResult(context.Background(), "k", gone)
	require.ErrorIs(t, err, flightcache.ErrNotFound)
	assert.Equal(t, flightcache.ServedLoaded, r.Served)
	assert.True(t, r.Missing)
	r, err = l.GetOrLoadResult(context.Background(), "k", gone)
	require.ErrorIs(t, err, flightcache.ErrNotFound)
	assert.Equal(t, flightcache.ServedFresh, r.Served)
}

func TestServedNames(t *testing.T) {
	for s, name := range map[flightcache.Served]string{
		flightcache.ServedFresh: "fresh", flightcache.ServedStale: "stale", flightcache.ServedLoaded: "loaded",
		flightcache.ServedStandIn: "stand-in", 0: "Served(0)",
	} {
		assert.Equal(t, name, s.String())
	}
}

// TestAHitOfAnEntryWithItsOwnPolicyAllocatesNothing, through GetOrLoad
// and GetOrLoadResult alike.
func TestAHitOfAnEntryWithItsOwnPolicyAllocatesNothing(t *testing.T) {
	store := newMemStore[string]()
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, Recorder: new(stats.Counter)})
	load := func(ctx context.Context, key string) (string, error) {
		_ = flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: 2 * time.Hour, StaleFor: time.Minute})
		return "v", nil
	}
	_, err := l.GetOrLoad(context.Background(), "k", load)
	require.NoError(t, err)
	e, _ := store.entry("k")
	require.True(t, e.FreshUntil.After(time.Now().Add(time.Hour)), "the load's policy")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoad(context.Background(), "k", load) }))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoadResult(context.Background(), "k", load) }))
}
