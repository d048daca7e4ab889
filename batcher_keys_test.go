package flightcache_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// A key appears at most once in any call of a BatchLoadFunc, and the
// policy its load sets reaches every caller and every copy of it (rule 14).
// A key queued in a Batcher's window, invalidated, then missed again in the
// same window used to reach the BatchLoadFunc twice, the second copy stored
// last with the Options' policy (graphql-java/java-dataloader#68).
func TestBatcherLoadsAKeyQueuedTwiceOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, nil)
		var mu sync.Mutex
		var calls [][]string
		load := func(ctx context.Context, keys []string) (map[string]string, error) {
			mu.Lock()
			calls = append(calls, slices.Clone(keys))
			mu.Unlock()
			out := map[string]string{}
			for _, k := range keys {
				out[k] = "loaded-" + k
				if err := flightcache.SetPolicy(ctx, k, flightcache.EntryPolicy{FreshFor: time.Second}); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		b, err := l.Batcher(load, flightcache.Window{Wait: 10 * time.Millisecond})
		require.NoError(t, err)

		var wg sync.WaitGroup
		get := func(key string) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := b.GetOrLoad(context.Background(), key)
				assert.NoError(t, err)
				assert.Equal(t, "loaded-"+key, v)
			}()
			synctest.Wait()
		}
		get("k")
		get("other")
		require.NoError(t, l.Invalidate(context.Background(), "k"))
		get("k") // a new call of k, in the same window
		wg.Wait()
		require.NoError(t, l.Wait(context.Background()))

		require.Len(t, calls, 1)
		assert.ElementsMatch(t, []string{"k", "other"}, calls[0], "each key once")
		e, ok := store.entry("k")
		require.True(t, ok)
		assert.Equal(t, "loaded-k", e.Value)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Second)), e.FreshUntil, "the policy the load set, not the Options'")
	})
}

// A private result of a key a Batcher's window got twice reaches only the
// caller of its first copy; the caller of the other copy loads for itself.
func TestBatcherKeyQueuedTwiceWithAPrivateResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		src := &privateSource{}
		src.private.Store(true)
		b, err := l.Batcher(src.loadMany, flightcache.Window{Wait: 10 * time.Millisecond})
		require.NoError(t, err)

		got := make(map[string]string)
		var mu sync.Mutex
		var wg sync.WaitGroup
		get := func(user string) {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(asUser(user))
				defer cancel()
				v, err := b.GetOrLoad(ctx, "k")
				assert.NoError(t, err)
				mu.Lock()
				got[user] = v
				mu.Unlock()
			})
			synctest.Wait()
		}
		get("ann")
		require.NoError(t, l.Invalidate(context.Background(), "k"))
		get("bob")
		wg.Wait()
		require.NoError(t, l.Wait(context.Background()))
		assert.Equal(t, map[string]string{"ann": "k for ann", "bob": "k for bob"}, got)
		assert.Equal(t, int32(2), src.loads.Load())
	})
}
