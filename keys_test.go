package flightcache_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/singleflight"
)

func TestKeysGoCannotHashAreErrorsFromEveryEntryPoint(t *testing.T) {
	l, err := flightcache.New[any, string](newMapStore[any, string](), nil)
	require.NoError(t, err)
	defer l.Close()
	ctx := context.Background()
	load := func(context.Context, any) (string, error) { return "v", nil }
	batch := func(context.Context, []any) (map[any]string, error) { return nil, nil }
	for _, bad := range []any{[]int{1}, map[string]int{}, func() {}, struct{ X any }{[]byte("x")}, math.NaN()} {
		_, err := l.GetOrLoad(ctx, bad, load)
		assert.ErrorIs(t, err, flightcache.ErrInvalidKey, "GetOrLoad %T", bad)
		_, err = l.GetOrLoadMany(ctx, []any{"ok", bad}, batch)
		assert.ErrorIs(t, err, flightcache.ErrInvalidKey, "GetOrLoadMany %T", bad)
		assert.ErrorIs(t, l.Set(ctx, bad, "v"), flightcache.ErrInvalidKey, "Set %T", bad)
		assert.ErrorIs(t, l.Invalidate(ctx, bad), flightcache.ErrInvalidKey, "Invalidate %T", bad)
	}
	v, err := l.GetOrLoad(ctx, "fine", load)
	require.NoError(t, err, "every other key still works")
	assert.Equal(t, "v", v)
}

func TestKeysLruStoreCannotHashNeverReachIt(t *testing.T) {
	store, err := lrustore.New[any, string](10)
	require.NoError(t, err)
	l, err := flightcache.New[any, string](store, nil)
	require.NoError(t, err)
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := l.GetOrLoad(context.Background(), []int{1}, func(context.Context, any) (string, error) { return "v", nil })
		assert.ErrorIs(t, err, flightcache.ErrInvalidKey)
		v, err := l.GetOrLoad(context.Background(), 1, func(context.Context, any) (string, error) { return "v", nil })
		assert.NoError(t, err)
		assert.Equal(t, "v", v)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the store's lock is wedged")
	}
}

func TestAnUnhashableKeyMatchesSingleflightsErrorToo(t *testing.T) {
	l, err := flightcache.New[any, string](newMapStore[any, string](), nil)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.GetOrLoad(context.Background(), []int{1}, func(context.Context, any) (string, error) { return "", nil })
	assert.ErrorIs(t, err, flightcache.ErrInvalidKey)
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)
}

// TestABatcherAndALoadsHooksRefuseKeysGoCannotHash: a Loader or Batcher
// whose key type is an interface refuses a key holding a slice with
// ErrInvalidKey, never a panic, and so do the hooks inside a load.
func TestABatcherAndALoadsHooksRefuseKeysGoCannotHash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := flightcache.New[any, string](newMapStore[any, string](), nil)
		require.NoError(t, err)
		defer l.Close()
		ctx := context.Background()
		b, err := l.Batcher(func(ctx context.Context, keys []any) (map[any]string, error) {
			out := map[any]string{}
			for _, k := range keys {
				out[k] = fmt.Sprint(k)
			}
			return out, nil
		}, flightcache.Window{Wait: time.Millisecond})
		require.NoError(t, err)
		require.NotPanics(t, func() {
			_, err = b.GetOrLoad(ctx, []int{1})
		})
		require.ErrorIs(t, err, flightcache.ErrInvalidKey)
		require.NotPanics(t, func() {
			_, err = b.GetOrLoadResult(ctx, map[string]int{})
		})
		require.ErrorIs(t, err, flightcache.ErrInvalidKey)

		var setErr error
		var prevOK bool
		_, err = l.GetOrLoad(ctx, 1, func(ctx context.Context, key any) (string, error) {
			assert.NotPanics(t, func() {
				setErr = flightcache.SetPolicy[any](ctx, []int{1}, flightcache.EntryPolicy{})
				_, prevOK = flightcache.Previous[string, any](ctx, []int{1})
			})
			return "v", nil
		})
		require.NoError(t, err)
		assert.ErrorIs(t, setErr, flightcache.ErrInvalidKey)
		assert.False(t, prevOK)
	})
}
