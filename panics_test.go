package flightcache_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// TestARecorderPanicOnABatchsCoalescedLeavesNoKeyClaimed: a Recorder that
// panics when GetOrLoadMany counts the keys it joined (stats.Coalesced)
// panics on the caller's path, but the keys the batch started still have
// their fill: a later caller of one of them gets its value rather than
// joining a call that never ends. What is taken before a call into a plug-in
// is given back on every exit path.
func TestARecorderPanicOnABatchsCoalescedLeavesNoKeyClaimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := panicsOnceOn(stats.Coalesced)
		store, src := newMemStore[string](), newSource()
		src.gate = make(chan struct{})
		l, err := flightcache.New[string, string](store, &flightcache.Options{Recorder: rec, LoadTimeout: time.Second})
		require.NoError(t, err)
		defer l.Close()

		go l.GetOrLoad(context.Background(), "a", src.load) // "a" is in flight
		synctest.Wait()
		batch := func(_ context.Context, keys []string) (map[string]string, error) {
			m := make(map[string]string)
			for _, k := range keys {
				m[k] = "value-" + k
			}
			return m, nil
		}
		// "a" is joined (Coalesced: the Recorder panics), "b" is started.
		assert.Panics(t, func() { _, _ = l.GetOrLoadMany(context.Background(), []string{"a", "b"}, batch) })
		close(src.gate)
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		v, err := l.GetOrLoad(ctx, "b", src.load)
		assert.NoError(t, err, "key b must not stay claimed by a fill that was never submitted")
		assert.Equal(t, "value-b", v)
	})
}

func TestARecorderThatPanicsOnRefreshDoesNotWedgeClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := panicsOn(stats.Refresh)
		store, src := newMemStore[string](), newSource()
		l, err := flightcache.New[string, string](store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, MaxRefreshes: 1, Recorder: rec})
		require.NoError(t, err)
		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		for range 3 {
			assert.Panics(t, func() { _, _ = l.GetOrLoad(context.Background(), "k", src.load) },
				"a Recorder that panics on a caller's path panics there")
			synctest.Wait()
			time.Sleep(2 * time.Minute)
		}
		assert.Equal(t, 4, src.count("k"), "the refresh slot and the key were given back each time")
		assert.NoError(t, l.Close(), "and Close does not hang")
	})
}

func TestPanicsOnABackgroundRefreshAreRecoveredAndCounted(t *testing.T) {
	for name, opts := range map[string]*flightcache.Options{
		"Recorder": {Recorder: panicsOn(stats.RefreshError)},
		"Logger":   {Logger: (&logSink{hook: func() { panic("handler bug") }}).logger(), Recorder: new(stats.Counter)},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts.FreshFor, opts.StaleFor = time.Minute, time.Hour
				l := newLoader(t, newMemStore[string](), opts)
				src := newSource()
				_, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				time.Sleep(2 * time.Minute)
				src.answer = func(context.Context, string) (string, error) { return "", errBackend }
				v, err := l.GetOrLoad(context.Background(), "k", src.load) // the refresh fails
				require.NoError(t, err)
				assert.Equal(t, "value-k", v)
				synctest.Wait() // a crash would have ended the process here
				assert.NotZero(t, l.Stats().Panics, "the panic was counted")
			})
		})
	}
}

func TestAPanickingStoreInABackgroundRefreshIsAnErrorNotACrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, rec := newMemStore[string](), new(stats.Counter)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute, Recorder: rec})
		src := newSource()
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(61 * time.Second)
		store.beforeSet = func(string, flightcache.Entry[string]) { panic("store bug") }
		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, uint64(1), rec.Snapshot().RefreshErrors)

		// A batch whose store panics while writing keeps the values it
		// loaded and does not crash.
		got, err := l.GetOrLoadMany(context.Background(), []string{"x"}, newBatchSource().load)
		require.NoError(t, err)
		assert.Equal(t, values("x"), got)

		// A panic on the batch's goroutine before anything is loaded (here
		// in its second look at the store) fails the batch with an error.
		gets := 0
		store.afterGet = func(string, bool) {
			if gets++; gets == 2 {
				panic("store bug")
			}
		}
		_, err = l.GetOrLoadMany(context.Background(), []string{"y"}, newBatchSource().load)
		var pe *singleflight.PanicError
		assert.ErrorAs(t, err, &pe)
	})
}

// TestAPanicAfterEveryKeyHasItsResultIsCountedAndLogged: a panic on a fill's
// goroutine after every key has its value (here in the lease's release) has
// no caller left to reach: it is recovered, counted (stats.Panic) and
// logged, so that the operator learns that the Leaser is broken.
func TestAPanicAfterEveryKeyHasItsResultIsCountedAndLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &logSink{}
		rec := new(stats.Counter)
		store := releasing(func() { panic("release bug") })
		l, err := flightcache.New[string, string](store, &flightcache.Options{Logger: h.logger(), Recorder: rec})
		require.NoError(t, err)
		defer l.Close()
		v, err := l.GetOrLoad(context.Background(), "k", newSource().load)
		require.NoError(t, err)
		assert.Equal(t, "value-k", v)
		synctest.Wait()
		assert.Equal(t, uint64(1), rec.Snapshot().Panics, "counted")
		assert.NotEmpty(t, h.messages(), "and logged")
	})
}
