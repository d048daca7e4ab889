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

// Expire makes a fresh entry stale now: within its stale window, re-based
// at now, the old value is served while one refresh loads a new one
// (FusionCache's Expire, Varnish's purge.soft).
func TestExpireServesTheOldValueWhileOneRefreshRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Minute})
		src := newSource()
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)

		require.NoError(t, l.Expire(context.Background(), "k"))
		e, ok := store.entry("k")
		require.True(t, ok)
		assert.Equal(t, flightcache.DeadlineOf(time.Now()), e.FreshUntil)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.StaleUntil, "the stale window, re-based at now")

		src.answer = func(context.Context, string) (string, error) { return "new", nil }
		src.gate = make(chan struct{}) // the refresh runs while the reads come
		for range 5 {
			r, err := l.GetOrLoadResult(context.Background(), "k", src.load)
			require.NoError(t, err)
			assert.Equal(t, "value-k", r.Value)
			assert.Equal(t, flightcache.ServedStale, r.Served)
		}
		close(src.gate)
		require.NoError(t, l.Wait(context.Background()))
		assert.Equal(t, 2, src.count("k"), "one refresh for every stale read")
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "new", v)
	})
}

// Without a stale window an expired entry is a miss; an entry fresh for
// ever has none.
func TestExpireOfAnEntryWithNoStaleWindowIsAMiss(t *testing.T) {
	for name, opts := range map[string]*flightcache.Options{
		"fresh for an hour": {FreshFor: time.Hour},
		"fresh for ever":    nil,
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLoader(t, newMemStore[string](), opts)
				src := newSource()
				_, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				require.NoError(t, l.Expire(context.Background(), "k"))
				time.Sleep(time.Nanosecond)
				r, err := l.GetOrLoadResult(context.Background(), "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, flightcache.ServedLoaded, r.Served)
				assert.Equal(t, 2, src.count("k"))
			})
		})
	}
}

// Expire leaves an entry that is stale already, and a key with none, as
// they are.
func TestExpireOfAStaleEntryOrNoneChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour})
		_, err := l.GetOrLoad(context.Background(), "k", newSource().load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		before, _ := store.entry("k")
		require.NoError(t, l.Expire(context.Background(), "k"))
		after, _ := store.entry("k")
		assert.Equal(t, before, after)

		require.NoError(t, l.Expire(context.Background(), "none"))
		_, ok := store.entry("none")
		assert.False(t, ok)
	})
}

// Expire wins over a load in flight, as Invalidate does (rule 8): the
// load's callers get its result, which is not stored; and an ended ctx does
// not stop an Expire that need not wait (rule 13).
func TestExpireWinsOverALoadInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		var rec stats.Counter
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Hour, Recorder: &rec})
		src := newSource()
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)

		src.gate = make(chan struct{})
		src.answer = func(context.Context, string) (string, error) { return "loaded before Expire", nil }
		require.NoError(t, l.Refresh(context.Background(), "k", src.load))
		synctest.Wait()
		require.NoError(t, l.Expire(endedContext(), "k"))
		close(src.gate)
		require.NoError(t, l.Wait(context.Background()))

		e, ok := store.entry("k")
		require.True(t, ok)
		assert.Equal(t, "value-k", e.Value, "the refresh that began before Expire did not write")
		assert.Equal(t, flightcache.DeadlineOf(time.Now()), e.FreshUntil, "expired")
	})
}

// Expire refuses what every write refuses.
func TestExpireBadInput(t *testing.T) {
	l := newLoader(t, newMemStore[string](), nil)
	//lint:ignore SA1012 a nil context is the bad input under test
	assert.Error(t, l.Expire(nil, "k"))
	require.NoError(t, l.Close())
	assert.ErrorIs(t, l.Expire(context.Background(), "k"), flightcache.ErrClosed)
}
