package flightcache_test

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

func TestDurationsAsLongAsTheyGoMeanAtLeastThatLong(t *testing.T) {
	century := 100 * 365 * 24 * time.Hour
	for name, opts := range map[string]flightcache.Options{
		"FreshFor max":         {FreshFor: math.MaxInt64},
		"FreshFor 250y":        {FreshFor: 250 * 365 * 24 * time.Hour},
		"FreshFor max jitter":  {FreshFor: math.MaxInt64, Jitter: 1},
		"FreshFor 200y jitter": {FreshFor: 2 * century, Jitter: 0.5},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLoader(t, newMemStore[string](), &opts)
			src := newSource()
			for range 3 {
				v, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, "value-k", v)
			}
			assert.Equal(t, 1, src.count("k"), "3 reads, 1 load")
		})
	}
	t.Run("MissingFor max", func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{MissingFor: math.MaxInt64})
		src := newSource()
		src.answer = func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
		for range 3 {
			_, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.ErrorIs(t, err, flightcache.ErrNotFound)
		}
		assert.Equal(t, 1, src.count("k"))
	})
	t.Run("StaleFor max", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: math.MaxInt64})
			src := newSource()
			versionedSource(src)
			_, err := l.GetOrLoad(context.Background(), "k", src.load)
			require.NoError(t, err)
			time.Sleep(century / 100)
			src.gate = make(chan struct{})
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			require.NoError(t, err)
			assert.Equal(t, "v1", v, "served stale, at once, while the refresh runs")
			close(src.gate)
		})
	})
}

// TestAForeverPolicyUnderJitterAndEarlyRefreshIsNeverRefreshed: a Forever
// policy under Options.Jitter and EarlyRefresh stays fresh and is never
// refreshed early (no overflow in the windows or in the early-refresh draw).
func TestAForeverPolicyUnderJitterAndEarlyRefreshIsNeverRefreshed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Second, Jitter: 0.5, EarlyRefresh: 10, StaleFor: time.Hour})
		var calls atomic.Int64
		load := func(ctx context.Context, key string) (string, error) {
			calls.Add(1)
			return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: flightcache.Forever, StaleFor: time.Hour, StaleIfError: time.Hour})
		}
		ctx := context.Background()
		for range 100 {
			r, err := l.GetOrLoadResult(ctx, "k", load)
			require.NoError(t, err)
			assert.Equal(t, "v", r.Value)
			time.Sleep(time.Hour)
		}
		synctest.Wait()
		assert.EqualValues(t, 1, calls.Load())
	})
}
