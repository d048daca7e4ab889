package flightcache_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// A fill that a Set or Invalidate has superseded never writes (rule 8), so
// it gives up its place in the key's write order at once: its callers get
// its result without waiting for the write token, which a newer fill's
// write, or a Set, may hold for as long as the Store takes.

// stuckWrites makes store's writes of value block until the returned
// release is called; inSet is closed when the first of them is under way.
func stuckWrites(store *memStore[string], value string) (inSet <-chan struct{}, release func()) {
	in, stuck := make(chan struct{}), make(chan struct{})
	var once bool
	store.beforeSet = func(_ string, e flightcache.Entry[string]) {
		if e.Value != value {
			return
		}
		if !once {
			once = true
			close(in)
		}
		<-stuck
	}
	return in, func() { close(stuck) }
}

// received returns what ch holds now, if anything, without waiting.
func received[T any](ch <-chan T) (v T, ok bool) {
	select {
	case v = <-ch:
		return v, true
	default:
		return v, false
	}
}

func TestSupersededFillAnswersWithoutWaitingForANewerWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		inSet, release := stuckWrites(store, "second")
		l := newLoader(t, store, nil)
		ctx := context.Background()

		gate := make(chan struct{})
		first := make(chan string)
		go func() {
			v, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
				<-gate
				return "first", nil
			})
			assert.NoError(t, err)
			first <- v
		}()
		synctest.Wait()
		require.NoError(t, l.Invalidate(ctx, "k")) // supersedes the first fill

		second := make(chan string)
		go func() {
			v, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "second", nil })
			assert.NoError(t, err)
			second <- v
		}()
		<-inSet // the newer fill holds the write token in a Store.Set that hangs

		close(gate)
		synctest.Wait()
		v, early := received(first)
		assert.True(t, early, "a superseded fill kept its callers waiting for a write token it has no use for")
		release()
		if !early {
			v = <-first
		}
		assert.Equal(t, "first", v, "a superseded fill's result still reaches its callers")
		assert.Equal(t, "second", <-second)
		e, ok := store.entry("k")
		require.True(t, ok)
		assert.Equal(t, "second", e.Value, "the superseded fill never writes")
	})
}

func TestSupersededKeyOfABatchDoesNotHoldBackTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		inSet, release := stuckWrites(store, "a-newer")
		l := newLoader(t, store, nil)
		ctx := context.Background()

		gate := make(chan struct{})
		batch := make(chan map[string]string)
		go func() {
			vals, err := l.GetOrLoadMany(ctx, []string{"a", "b"}, func(_ context.Context, keys []string) (map[string]string, error) {
				<-gate
				m := make(map[string]string, len(keys))
				for _, k := range keys {
					m[k] = k + "-batch"
				}
				return m, nil
			})
			assert.NoError(t, err)
			batch <- vals
		}()
		synctest.Wait()
		require.NoError(t, l.Invalidate(ctx, "a")) // supersedes the batch's fill of a only

		newer := make(chan error)
		go func() {
			_, err := l.GetOrLoad(ctx, "a", func(context.Context, string) (string, error) { return "a-newer", nil })
			newer <- err
		}()
		<-inSet // a's newer fill holds a's write token in a Store.Set that hangs

		close(gate)
		synctest.Wait()
		vals, early := received(batch)
		assert.True(t, early, "the batch waited for the write token of a key a Set or Invalidate had superseded")
		release()
		if !early {
			vals = <-batch
		}
		assert.Equal(t, map[string]string{"a": "a-batch", "b": "b-batch"}, vals)
		e, ok := store.entry("b")
		require.True(t, ok, "the batch's current key is written")
		assert.Equal(t, "b-batch", e.Value)
		require.NoError(t, <-newer)
		e, ok = store.entry("a")
		require.True(t, ok)
		assert.Equal(t, "a-newer", e.Value, "the batch's superseded key is never written")
	})
}
