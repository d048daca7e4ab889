package flightcache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

func TestFailingStoreStillServesLoads(t *testing.T) {
	store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
	store.fail = errors.New("store down")
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, Recorder: rec})

	for range 2 {
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err, "a failing store is not the caller's failure")
		assert.Equal(t, "value-k", v)
	}
	assert.Equal(t, 2, src.count("k"))
	// Per GetOrLoad: the first Get, the fill's second look, and the Set.
	assert.Equal(t, uint64(6), rec.Snapshot().StoreErrors)

	assert.ErrorIs(t, l.Set(context.Background(), "k", "v"), store.fail)
	assert.ErrorIs(t, l.Invalidate(context.Background(), "k"), store.fail)
	assert.Equal(t, uint64(8), rec.Snapshot().StoreErrors)
}

func TestStoreFailuresAreLoggedWithTheKeyAtMostOnceASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		store.fail = errors.New("store down")
		logs := &logSink{}
		l := newLoader(t, store, &flightcache.Options{Logger: logs.logger()})
		for range 10 {
			_, err := l.GetOrLoad(context.Background(), "user:7", src.load)
			require.NoError(t, err)
		}
		out := logs.String()
		assert.Equal(t, 1, strings.Count(out, "level=WARN"), "one line a second:\n%s", out)
		assert.Contains(t, out, "key=user:7")
		assert.Contains(t, out, "store down")

		time.Sleep(time.Second)
		_, err := l.GetOrLoad(context.Background(), "user:8", src.load)
		require.NoError(t, err)
		out = logs.String()
		assert.Equal(t, 2, strings.Count(out, "level=WARN"))
		assert.Contains(t, out, "suppressed=29", "the second line counts the 10×3-1 held back")
	})
}

func TestALoggerThatBlocksHoldsNoCallerPastItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		store.fail = errors.New("store down")
		release := make(chan struct{})
		h := &logSink{hook: func() { <-release }} // blocks every line until released
		l := newLoader(t, store, &flightcache.Options{Logger: h.logger()})
		defer close(release)
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			start := time.Now()
			_, _ = l.GetOrLoad(ctx, "k", newSource().load)
			cancel()
			assert.LessOrEqual(t, time.Since(start), 200*time.Millisecond)
		}
	})
}
