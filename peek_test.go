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

// Peek says what a read would serve now, and how, without loading,
// refreshing or counting a hit or a miss (otter's GetIfPresent).
func TestPeekSaysWhatAReadWouldServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec stats.Counter
		l := newLoader(t, newMemStore[string](), &flightcache.Options{
			FreshFor: time.Minute, StaleFor: time.Minute, StaleIfError: time.Hour, MissingFor: time.Minute, Recorder: &rec,
		})
		src := newSource()
		ctx := context.Background()

		_, ok, err := l.Peek(ctx, "k")
		require.NoError(t, err)
		assert.False(t, ok, "nothing stored: a read would load")

		_, err = l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err)
		before := rec.Snapshot()

		r, ok, err := l.Peek(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "value-k", r.Value)
		assert.Equal(t, flightcache.ServedFresh, r.Served)

		time.Sleep(90 * time.Second)
		r, ok, err = l.Peek(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, flightcache.ServedStale, r.Served)

		time.Sleep(time.Minute) // past StaleFor, inside StaleIfError
		_, ok, err = l.Peek(ctx, "k")
		require.NoError(t, err)
		assert.False(t, ok, "a read would load; the old value stands in only for a failed load")

		src.answer = func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
		_, err = l.GetOrLoad(ctx, "gone", src.load)
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		_, ok, err = l.Peek(ctx, "gone")
		assert.True(t, ok)
		assert.ErrorIs(t, err, flightcache.ErrNotFound, "a cached not-found")

		require.NoError(t, l.Wait(ctx))
		after := rec.Snapshot()
		assert.Equal(t, 2, int(src.total.Load()), "Peek loaded and refreshed nothing")
		assert.Equal(t, before.Hits, after.Hits)
		assert.Equal(t, before.StaleHits, after.StaleHits)
		assert.Equal(t, before.Misses+1, after.Misses, "only the GetOrLoad of gone")
	})
}

func TestPeekBadInput(t *testing.T) {
	l := newLoader(t, newMemStore[string](), nil)
	//lint:ignore SA1012 a nil context is the bad input under test
	_, _, err := l.Peek(nil, "k")
	assert.Error(t, err)
	require.NoError(t, l.Close())
	_, _, err = l.Peek(context.Background(), "k")
	assert.ErrorIs(t, err, flightcache.ErrClosed)
}
