package flightcache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// failing is a source that fails while down is set, counting its calls.
type failing struct {
	down  atomic.Bool
	calls atomic.Int64
}

func (f *failing) load(_ context.Context, key string) (string, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return "", errBackend
	}
	return "v-" + key, nil
}

// throttledKey returns a Loader whose key "k" has just been held back for
// an hour by a failed load of src (down), one load made; call it inside a
// testing/synctest bubble.
func throttledKey(t *testing.T) (*flightcache.Loader[string, string], *failing) {
	t.Helper()
	src := new(failing)
	src.down.Store(true)
	l := newLoader(t, newMemStore[string](), &flightcache.Options{
		FreshFor: time.Minute, FailureBackoff: flightcache.Backoff{Initial: time.Hour},
	})
	ctx := context.Background()
	_, err := l.GetOrLoad(ctx, "k", src.load)
	require.ErrorIs(t, err, errBackend)
	_, err = l.GetOrLoad(ctx, "k", src.load)
	require.ErrorIs(t, err, flightcache.ErrThrottled)
	return l, src
}

// TestAFailedLoadHoldsBackTheNextForItsBackoff: after a load fails, callers
// get the last error (matchable, and ErrThrottled) without a load until the
// backoff's wait has passed; the waits double up to Max.
func TestAFailedLoadHoldsBackTheNextForItsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, rec := new(failing), new(stats.Counter)
		src.down.Store(true)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{
			FreshFor: time.Minute, Recorder: rec,
			FailureBackoff: flightcache.Backoff{Initial: time.Second, Max: 4 * time.Second},
		})
		ctx := context.Background()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, errBackend)
		assert.NotErrorIs(t, err, flightcache.ErrThrottled, "the load itself failed")

		_, err = l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, flightcache.ErrThrottled)
		require.ErrorIs(t, err, errBackend, "the last error, still matchable")
		assert.Equal(t, int64(1), src.calls.Load(), "no load while held back")
		assert.Equal(t, uint64(1), rec.Snapshot().Throttled)

		_, err = l.GetOrLoad(ctx, "other", src.load)
		assert.NotErrorIs(t, err, flightcache.ErrThrottled, "only the failed key is held back")

		// Waits of 1s, 2s, 4s, 4s: a load at the end of each.
		for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
			before := src.calls.Load()
			time.Sleep(wait - time.Millisecond)
			_, err = l.GetOrLoad(ctx, "k", src.load)
			require.ErrorIs(t, err, flightcache.ErrThrottled, "wait %d", i)
			time.Sleep(time.Millisecond)
			_, err = l.GetOrLoad(ctx, "k", src.load)
			require.NotErrorIs(t, err, flightcache.ErrThrottled, "wait %d over", i)
			assert.Equal(t, before+1, src.calls.Load())
		}

		src.down.Store(false)
		time.Sleep(4 * time.Second)
		v, err := l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v-k", v)
		require.NoError(t, l.Invalidate(ctx, "k"))
		src.down.Store(true)
		_, err = l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, errBackend)
		time.Sleep(time.Second)
		_, err = l.GetOrLoad(ctx, "k", src.load)
		assert.NotErrorIs(t, err, flightcache.ErrThrottled, "a success started the backoff over at Initial")
	})
}

// TestAThrottledKeyServesItsOldValue: a caller holding a value inside
// StaleIfError gets it, counted as a stale hit, and GetOrLoadResult says why.
func TestAThrottledKeyServesItsOldValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, rec := new(failing), new(stats.Counter)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{
			FreshFor: time.Minute, StaleIfError: time.Hour, Recorder: rec,
			FailureBackoff: flightcache.Backoff{Initial: time.Minute},
		})
		ctx := context.Background()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		src.down.Store(true)

		r, err := l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.ErrorIs(t, r.Err, errBackend)
		assert.NotErrorIs(t, r.Err, flightcache.ErrThrottled, "this call's load failed")

		for range 10 {
			r, err = l.GetOrLoadResult(ctx, "k", src.load)
			require.NoError(t, err)
			assert.Equal(t, "v-k", r.Value)
			assert.Equal(t, flightcache.ServedStandIn, r.Served)
			assert.ErrorIs(t, r.Err, flightcache.ErrThrottled)
		}
		got, err := l.GetOrLoadMany(ctx, []string{"k"}, func(context.Context, []string) (map[string]string, error) {
			t.Error("a throttled key is not loaded by a batch either")
			return nil, nil
		})
		require.NoError(t, err)
		assert.Equal(t, "v-k", got["k"])
		assert.Equal(t, int64(2), src.calls.Load())
		s := rec.Snapshot()
		assert.Equal(t, uint64(12), s.StaleHits)
		assert.Zero(t, s.Throttled, "every caller had a value")
	})
}

func TestABatchGetsTheThrottledErrorPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FailureBackoff: flightcache.Backoff{Initial: time.Minute}})
		ctx := context.Background()
		_, err := l.GetOrLoad(ctx, "bad", func(context.Context, string) (string, error) { return "", errBackend })
		require.ErrorIs(t, err, errBackend)
		got, err := l.GetOrLoadMany(ctx, []string{"bad", "good"}, func(_ context.Context, keys []string) (map[string]string, error) {
			assert.Equal(t, []string{"good"}, keys)
			return map[string]string{"good": "g"}, nil
		})
		var be *flightcache.BatchError[string]
		require.ErrorAs(t, err, &be)
		assert.ErrorIs(t, be.Failed["bad"], flightcache.ErrThrottled)
		assert.ErrorIs(t, be.Failed["bad"], errBackend)
		assert.Equal(t, map[string]string{"good": "g"}, got)
	})
}

// TestWithoutFailureBackoffOnlyRefreshesBackOff: the zero Backoff throttles
// background refreshes (1s doubling), not the loads callers wait for; an
// explicit Refresh is never held back.
func TestWithoutFailureBackoffOnlyRefreshesBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := new(failing)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour})
		l2 := newLoader(t, newMemStore[string](), nil)
		ctx := context.Background()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		src.down.Store(true)
		for range 5 {
			_, err := l.GetOrLoad(ctx, "k", src.load)
			require.NoError(t, err)
			synctest.Wait()
		}
		assert.Equal(t, int64(2), src.calls.Load(), "one refresh, then backing off")
		require.NoError(t, l.Refresh(ctx, "k", src.load))
		synctest.Wait()
		assert.Equal(t, int64(3), src.calls.Load(), "Refresh is not held back")
		time.Sleep(time.Second)
		_, err = l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, int64(3), src.calls.Load(), "the failed Refresh doubled the wait to 2s")
		time.Sleep(time.Second)
		_, err = l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, int64(4), src.calls.Load())

		for range 3 {
			_, err := l2.GetOrLoad(ctx, "k", src.load)
			require.ErrorIs(t, err, errBackend)
			require.NotErrorIs(t, err, flightcache.ErrThrottled)
		}
	})
}

// TestThrottlePaceAgainstADeadSource counts the loads a dead source gets
// from 100 callers a second for a minute: one per wave without the throttle,
// a handful with it. The figures are quoted in issue 14's closing note.
func TestThrottlePaceAgainstADeadSource(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backoff flightcache.Backoff
		most    int64
	}{
		{"without", flightcache.Backoff{}, 6000},
		{"with 100ms..10s", flightcache.Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.2}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := new(failing)
				src.down.Store(true)
				l := newLoader(t, newMemStore[string](), &flightcache.Options{FailureBackoff: tc.backoff})
				for range 60 * 100 {
					_, err := l.GetOrLoad(context.Background(), "k", src.load)
					require.Error(t, err)
					time.Sleep(10 * time.Millisecond)
				}
				t.Logf("%s: %d loads in 60s (%.1f/s) from 100 callers/s", tc.name, src.calls.Load(), float64(src.calls.Load())/60)
				assert.LessOrEqual(t, src.calls.Load(), tc.most)
				assert.Greater(t, src.calls.Load(), int64(5), "the key is still tried")
			})
		})
	}
}

func TestFailureBackoffIsValidated(t *testing.T) {
	for _, b := range []flightcache.Backoff{
		{Initial: -time.Second},
		{Max: time.Second},
		{Initial: time.Minute, Max: time.Second},
		{Initial: time.Second, Jitter: 2},
		{Jitter: 0.5},
	} {
		_, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{FailureBackoff: b})
		assert.ErrorContains(t, err, "Options.FailureBackoff", "%+v", b)
	}
}

// TestInvalidateAndSetEndAKeysBackoff: an explicit Invalidate asks for a
// new load, and a Set puts a value there; neither is held back.
func TestInvalidateAndSetEndAKeysBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, src := throttledKey(t)
		ctx := context.Background()

		src.down.Store(false)
		require.NoError(t, l.Invalidate(ctx, "k"))
		v, err := l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err, "Invalidate ended the backoff")
		assert.Equal(t, "v-k", v)

		src.down.Store(true)
		require.NoError(t, l.Invalidate(ctx, "k"))
		_, err = l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, errBackend)
		require.NoError(t, l.Set(ctx, "k", "set"))
		require.NoError(t, l.Invalidate(ctx, "k"))
		_, err = l.GetOrLoad(ctx, "k", src.load)
		assert.NotErrorIs(t, err, flightcache.ErrThrottled)
	})
}

// TestASetLeavesNoFailedKeyHeldBack: after a failed load, a Set stores a
// value; once it goes stale, its refresh runs (not held back by the old
// failure), and a miss after the entry expires loads.
func TestASetLeavesNoFailedKeyHeldBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := new(failing)
		src.down.Store(true)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{
			FreshFor: time.Second, FailureBackoff: flightcache.Backoff{Initial: time.Minute},
		})
		ctx := context.Background()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, errBackend)
		src.down.Store(false)
		require.NoError(t, l.Set(ctx, "k", "set"))
		time.Sleep(2 * time.Second) // the Set's entry is gone (no StaleFor)
		v, err := l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v-k", v)
	})
}

// TestRefreshIsNotThrottledAndOneThatSucceedsEndsTheBackoff: a throttled key
// can be refreshed at once; a Refresh that succeeds lets the next miss
// load... and the stored value is served.
func TestRefreshIsNotThrottledAndOneThatSucceedsEndsTheBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, src := throttledKey(t)
		ctx := context.Background()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, flightcache.ErrThrottled)
		require.ErrorIs(t, err, errBackend, "the last error is still matchable")
		assert.EqualValues(t, 1, src.calls.Load())

		// A failing Refresh is not throttled either, and keeps the key held back.
		require.NoError(t, l.Refresh(ctx, "k", src.load))
		synctest.Wait()
		assert.EqualValues(t, 2, src.calls.Load())
		_, err = l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, flightcache.ErrThrottled)

		src.down.Store(false)
		require.NoError(t, l.Refresh(ctx, "k", src.load))
		synctest.Wait()
		r, err := l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v-k", r.Value)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
		assert.EqualValues(t, 3, src.calls.Load())
	})
}
