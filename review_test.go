package flightcache_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// Tests for edge cases a review found.

func TestInvalidateGivesUpWhenItsContextEndsBehindAStuckWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		stuck := make(chan struct{})
		store.beforeSet = func(_ string, e flightcache.Entry[string]) {
			if e.Value == "value-k" {
				<-stuck
			}
		}
		l := newLoader(t, store, nil)
		go l.GetOrLoad(context.Background(), "k", src.load)
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, l.Invalidate(ctx, "k"), context.DeadlineExceeded)
		close(stuck)
	})
}

func TestARefreshThatFindsTheKeyGoneStopsServingIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: 10 * time.Minute})
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)

		src.answer = func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
		time.Sleep(61 * time.Second)
		v, err := l.GetOrLoad(context.Background(), "k", src.load) // stale, starts the refresh
		require.NoError(t, err)
		assert.Equal(t, "value-k", v)
		synctest.Wait()

		for range 3 {
			_, err = l.GetOrLoad(context.Background(), "k", src.load)
			assert.ErrorIs(t, err, flightcache.ErrNotFound, "the source said the key is gone")
		}
		assert.Equal(t, 5, src.count("k"), "the first load, the refresh, then a load per read (no MissingFor)")
	})
}

// panickyStore panics in Set once armed.
type panickyStore struct {
	*memStore[string]
	armed bool
}

func (p *panickyStore) Set(ctx context.Context, key string, e flightcache.Entry[string]) error {
	if p.armed {
		panic("store bug")
	}
	return p.memStore.Set(ctx, key, e)
}

func TestAPanickingStoreInABackgroundRefreshIsAnErrorNotACrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, rec := &panickyStore{memStore: newMemStore[string]()}, new(stats.Counter)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute, Recorder: rec})
		src := newSource()
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(61 * time.Second)
		store.armed = true
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
		store.memStore.afterGet = func(string, bool) {
			if gets++; gets == 2 {
				panic("store bug")
			}
		}
		_, err = l.GetOrLoadMany(context.Background(), []string{"y"}, newBatchSource().load)
		var pe *singleflight.PanicError
		assert.ErrorAs(t, err, &pe)
	})
}

type uncomparableErr struct{ detail any }

func (uncomparableErr) Error() string { return "uncomparable" }

func TestBatchErrorNeverPanicsOnUncomparableErrors(t *testing.T) {
	l := newLoader(t, newMemStore[string](), &flightcache.Options{MaxBatch: 1})
	_, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, func(_ context.Context, keys []string) (map[string]string, error) {
		return nil, uncomparableErr{detail: []string{keys[0]}}
	})
	require.Error(t, err)
	assert.NotPanics(t, func() {
		_ = errors.Is(err, flightcache.ErrNotFound)
		_ = err.Error()
	})
}

func TestGetOrLoadManyWithADoneContextStartsNothing(t *testing.T) {
	src := newBatchSource()
	l := newLoader(t, newMemStore[string](), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.GetOrLoadMany(ctx, []string{"a"}, src.load)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, src.callKeys())
}

func TestStoreFailuresAreLoggedWithTheKeyAtMostOnceASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		store.fail = errors.New("store down")
		var logs syncBuffer
		l := newLoader(t, store, &flightcache.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
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
