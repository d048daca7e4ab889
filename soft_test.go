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

// TestSoftTimeoutServesTheOldValueWhileAHungLoadGoesOn: the source hangs
// for 10 s; a caller holding a value inside StaleIfError waits SoftTimeout,
// not 10 s, and the load, when it lands, is stored.
func TestSoftTimeoutServesTheOldValueWhileAHungLoadGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		versionedSource(src)
		l := newLoader(t, store, &flightcache.Options{
			FreshFor: time.Minute, StaleIfError: time.Hour, SoftTimeout: 50 * time.Millisecond, Recorder: rec,
		})
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)

		hang := make(chan struct{})
		slow := func(ctx context.Context, key string) (string, error) {
			select {
			case <-hang:
			case <-time.After(10 * time.Second):
			}
			return src.load(ctx, key)
		}
		start := time.Now()
		v, err := l.GetOrLoad(context.Background(), "k", slow)
		require.NoError(t, err)
		assert.Equal(t, "v1", v, "the old value")
		assert.Equal(t, 50*time.Millisecond, time.Since(start), "after SoftTimeout")

		start = time.Now()
		got, err := l.GetOrLoadMany(context.Background(), []string{"k"}, func(ctx context.Context, keys []string) (map[string]string, error) {
			t.Error("a batch joined the load in flight; it never loads again")
			return nil, nil
		})
		require.NoError(t, err)
		assert.Equal(t, "v1", got["k"], "a batch caller gets the old value too")
		assert.Equal(t, 50*time.Millisecond, time.Since(start))

		time.Sleep(10 * time.Second)
		synctest.Wait()
		v, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v2", v, "the load landed and was stored")
		assert.Equal(t, uint64(2), rec.Snapshot().StaleHits)
		close(hang)
	})
}

func TestSoftTimeoutDoesNotHoldBackAFastLoadOrACallerWithNothingToFallBackOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource()
		versionedSource(src)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{
			FreshFor: time.Minute, StaleIfError: time.Hour, SoftTimeout: 50 * time.Millisecond,
		})
		slow := func(ctx context.Context, key string) (string, error) {
			time.Sleep(time.Second)
			return src.load(ctx, key)
		}
		v, err := l.GetOrLoad(context.Background(), "k", slow)
		require.NoError(t, err)
		assert.Equal(t, "v1", v, "nothing to fall back on: the caller waits for the load")

		time.Sleep(2 * time.Minute)
		fast := func(ctx context.Context, key string) (string, error) {
			time.Sleep(10 * time.Millisecond)
			return src.load(ctx, key)
		}
		v, err = l.GetOrLoad(context.Background(), "k", fast)
		require.NoError(t, err)
		assert.Equal(t, "v2", v, "a load faster than SoftTimeout is waited for")
	})
}

func TestSoftTimeoutNeedsStaleIfError(t *testing.T) {
	_, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, SoftTimeout: time.Second})
	assert.ErrorContains(t, err, "Options.SoftTimeout")
	_, err = flightcache.New[string, string](newMemStore[string](), &flightcache.Options{SoftTimeout: -1})
	assert.ErrorContains(t, err, "Options.SoftTimeout")
}
