package flightcache_test

import (
	"context"
	"fmt"
	"math"
	"sync"
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
	store := newMemStore[string]()
	_ = store
	l, err := flightcache.New[any, string](anyStore{}, nil)
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

// anyStore is a store for keys of type any that panics on any key it
// cannot hash, as a map-based store does.
type anyStore struct{}

func (anyStore) Get(_ context.Context, key any) (flightcache.Entry[string], bool, error) {
	_ = map[any]bool{key: true}
	return flightcache.Entry[string]{}, false, nil
}
func (anyStore) Set(_ context.Context, key any, _ flightcache.Entry[string]) error {
	_ = map[any]bool{key: true}
	return nil
}
func (anyStore) Delete(_ context.Context, key any) error {
	_ = map[any]bool{key: true}
	return nil
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
	l, err := flightcache.New[any, string](anyStore{}, nil)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.GetOrLoad(context.Background(), []int{1}, func(context.Context, any) (string, error) { return "", nil })
	assert.ErrorIs(t, err, flightcache.ErrInvalidKey)
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)
}

// rvStore is a Store of any key type over a map.
type rvStore[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]flightcache.Entry[V]
}

func (s *rvStore[K, V]) Get(_ context.Context, key K) (flightcache.Entry[V], bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	return e, ok, nil
}

func (s *rvStore[K, V]) Set(_ context.Context, key K, e flightcache.Entry[V]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = e
	return nil
}

func (s *rvStore[K, V]) Delete(_ context.Context, key K) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func newRvStore[K comparable, V any]() *rvStore[K, V] {
	return &rvStore[K, V]{m: make(map[K]flightcache.Entry[V])}
}

// TestABatcherAndALoadsHooksRefuseKeysGoCannotHash: a Loader or Batcher
// whose key type is an interface refuses a key holding a slice with
// ErrInvalidKey, never a panic, and so do the hooks inside a load.
func TestABatcherAndALoadsHooksRefuseKeysGoCannotHash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := flightcache.New[any, string](newRvStore[any, string](), nil)
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
