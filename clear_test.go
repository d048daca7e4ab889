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

// Clear makes every entry a miss, tagged or not, negative or not, made by
// a load, by Set or by hand, and touches none of them: it is a generation,
// not a scan (FusionCache's Clear).
func TestClearMakesEveryEntryAMiss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, rec := newMemStore[string](), new(stats.Counter)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, MissingFor: time.Hour, Recorder: rec})
		src := taggingSource()
		for _, k := range []string{"u1", "x"} {
			_, err := l.GetOrLoad(context.Background(), k, src.load)
			require.NoError(t, err)
		}
		require.NoError(t, l.Set(context.Background(), "set", "S"))
		require.NoError(t, store.Set(context.Background(), "by hand", flightcache.Entry[string]{Value: "H"}))
		_, err := l.GetOrLoad(context.Background(), "none", func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound })
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		sets := store.sets.Load()

		require.NoError(t, l.Clear(context.Background()))
		assert.Equal(t, sets, store.sets.Load(), "Clear writes no entry")
		assert.Zero(t, store.deletes.Load(), "nor deletes one")
		for _, k := range []string{"u1", "x", "set", "by hand", "none"} {
			_, ok, err := l.Peek(context.Background(), k)
			require.NoError(t, err)
			assert.False(t, ok, "%s is gone", k)
			v, err := l.GetOrLoad(context.Background(), k, newSource().load)
			require.NoError(t, err)
			assert.Equal(t, "value-"+k, v)
		}
		st := rec.Snapshot()
		assert.Equal(t, uint64(1), st.Clears)
		assert.Equal(t, uint64(5), st.Peeks)
		assert.Zero(t, st.PeekHits)
	})
}

// What is written after Clear returned survives it: a Set, and a load
// that began after it; a load in flight when Clear was called has its
// result given to its callers, not to callers after Clear, and not kept.
func TestClearWinsOverALoadInFlightAndSparesLaterWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour})
		src := newSource()
		src.gate = make(chan struct{})
		old := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.NoError(t, err)
			old <- v
		}()
		synctest.Wait()
		require.NoError(t, l.Clear(context.Background()))
		require.NoError(t, l.Set(context.Background(), "after", "A")) // the same instant as Clear, in the bubble

		later := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.NoError(t, err)
			later <- v
		}()
		synctest.Wait()
		assert.Equal(t, 2, src.count("k"), "a caller after Clear joins no load that began before it")
		src.gate <- struct{}{}
		<-old
		src.gate <- struct{}{}
		<-later
		src.gate = nil
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, 2, src.count("k"), "the load after Clear is kept")
		v, err := l.GetOrLoad(context.Background(), "after", src.load)
		require.NoError(t, err)
		assert.Equal(t, "A", v, "a Set after Clear survives it, even at the same instant")
	})
}

// Expire counts the entries it made stale; Peek counts every call, and
// the ones that found what a read would serve.
func TestExpireAndPeekAreCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := new(stats.Counter)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Hour, Recorder: rec})
		require.NoError(t, l.Set(context.Background(), "k", "v"))
		_, ok, err := l.Peek(context.Background(), "k")
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, l.Expire(context.Background(), "k"))
		require.NoError(t, l.Expire(context.Background(), "k"))       // stale already: nothing to do
		require.NoError(t, l.Expire(context.Background(), "missing")) // no entry: nothing to do
		_, _, err = l.Peek(context.Background(), "missing")
		require.NoError(t, err)
		st := rec.Snapshot()
		assert.Equal(t, uint64(1), st.Expires)
		assert.Equal(t, uint64(2), st.Peeks)
		assert.Equal(t, uint64(1), st.PeekHits)
		assert.Zero(t, st.Hits+st.Misses, "Peek is neither a hit nor a miss")
	})
}
