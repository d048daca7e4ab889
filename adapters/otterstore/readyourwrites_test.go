package otterstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// These tests run, over otterstore, the Loader scenarios of otter's own
// loader tests (maypok86/otter's loading_test.go) and viccon/sturdyc's, and
// replay public reports of reads that did not see a write.

func newLoader(t *testing.T, opts *flightcache.Options) *flightcache.Loader[string, string] {
	t.Helper()
	l, err := flightcache.New(openotterstore(t), opts)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// TestASetIsReadBackAtOnceThroughTheLoader replays eko/gocache#207 (a Get
// right after a Set missed, in a cache that applies writes later): after
// Loader.Set returns, a GetOrLoad of the key, on any goroutine, gets the
// value set and calls no load, for thousands of keys written and read at
// once.
func TestASetIsReadBackAtOnceThroughTheLoader(t *testing.T) {
	l := newLoader(t, &flightcache.Options{FreshFor: time.Hour})
	ctx := context.Background()
	var loads atomic.Int64
	load := func(context.Context, string) (string, error) { loads.Add(1); return "loaded", nil }
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprintf("%d/%d", w, i)
				require.NoError(t, l.Set(ctx, key, "set-"+key))
				v, err := l.GetOrLoad(ctx, key, load)
				assert.NoError(t, err)
				assert.Equal(t, "set-"+key, v, "a GetOrLoad right after Set")
			}
		})
	}
	wg.Wait()
	assert.Zero(t, loads.Load(), "nothing set was loaded again")
}

// TestAnInvalidateIsSeenAtOnceThroughTheLoader replays eko/gocache#176 (an
// invalidation not yet visible to the next Get): after
// Loader.Invalidate returns, the next GetOrLoad of the key loads it.
func TestAnInvalidateIsSeenAtOnceThroughTheLoader(t *testing.T) {
	l := newLoader(t, &flightcache.Options{FreshFor: time.Hour})
	ctx := context.Background()
	for i := range 2000 {
		key := strconv.Itoa(i)
		v, err := l.GetOrLoad(ctx, key, func(context.Context, string) (string, error) { return "old", nil })
		require.NoError(t, err)
		require.Equal(t, "old", v)
		require.NoError(t, l.Invalidate(ctx, key))
		v, err = l.GetOrLoad(ctx, key, func(context.Context, string) (string, error) { return "new", nil })
		require.NoError(t, err)
		require.Equal(t, "new", v, "key %s: served the invalidated value", key)
	}
}

// TestAKeyMissedByManyAtOnceIsLoadedOnce ports otter's
// TestCache_GetCoalescesConcurrentLoads over otterstore: callers that miss
// just as the load's write is being applied must not load again (rule 2).
func TestAKeyMissedByManyAtOnceIsLoadedOnce(t *testing.T) {
	l := newLoader(t, &flightcache.Options{FreshFor: time.Hour})
	for round := range 50 {
		key := "round-" + strconv.Itoa(round)
		var loads atomic.Int64
		load := func(_ context.Context, k string) (string, error) { loads.Add(1); return "v" + k, nil }
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				v, err := l.GetOrLoad(context.Background(), key, load)
				assert.NoError(t, err)
				assert.Equal(t, "v"+key, v)
			})
		}
		wg.Wait()
		require.Equal(t, int64(1), loads.Load(), "round %d", round)
	}
}

// TestASetThatReturnedBeforeItsLoadDidIsNeverOverwritten ports otter's
// TestCache_GetDoesNotOverwriteConcurrentSet over otterstore: a Set and a
// GetOrLoad race on each key, and the load returns only after the Set has;
// the key then holds the Set's value (rule 8).
func TestASetThatReturnedBeforeItsLoadDidIsNeverOverwritten(t *testing.T) {
	l := newLoader(t, &flightcache.Options{FreshFor: time.Hour})
	ctx := context.Background()
	for i := range 2000 {
		key := strconv.Itoa(i)
		setDone := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			assert.NoError(t, l.Set(ctx, key, "set"))
			close(setDone)
		})
		wg.Go(func() {
			_, _ = l.GetOrLoad(ctx, key, func(context.Context, string) (string, error) {
				<-setDone
				return "loaded", nil
			})
		})
		wg.Wait()
		require.NoError(t, l.Wait(ctx))
		r, found, err := l.Peek(ctx, key)
		require.NoError(t, err)
		require.True(t, found, "key %s", key)
		require.Equal(t, "set", r.Value, "key %s: a load overwrote a Set that returned before the load did", key)
	}
}

// TestAnInvalidateDuringAFillOfTheOldRowWins replays google/guava#1881 over
// otterstore: a load (a miss or a stale refresh) reads the old row, the row
// changes and the key is invalidated, then the load returns; its result is
// not stored, and the next read loads the new row.
func TestAnInvalidateDuringAFillOfTheOldRowWins(t *testing.T) {
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprintf("stale=%v", stale), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLoader(t, &flightcache.Options{FreshFor: time.Second, StaleFor: time.Hour})
				ctx := context.Background()
				var version atomic.Int64
				version.Store(1)
				var gate chan struct{}
				load := func(context.Context, string) (string, error) {
					v := version.Load()
					if gate != nil {
						<-gate
					}
					return "v" + strconv.FormatInt(v, 10), nil
				}
				if stale {
					_, err := l.GetOrLoad(ctx, "k", load)
					require.NoError(t, err)
					time.Sleep(2 * time.Second) // fake time: stale
				}
				gate = make(chan struct{})
				go func() { _, _ = l.GetOrLoad(ctx, "k", load) }()
				synctest.Wait() // the fill has read the old row
				version.Store(2)
				require.NoError(t, l.Invalidate(ctx, "k"))
				close(gate)
				require.NoError(t, l.Wait(ctx))
				_, found, err := l.Peek(ctx, "k")
				require.NoError(t, err)
				assert.False(t, found, "the fill that Invalidate overtook was stored")
				gate = nil
				v, err := l.GetOrLoad(ctx, "k", load)
				require.NoError(t, err)
				assert.Equal(t, "v2", v)
			})
		})
	}
}

// TestARefreshThatFindsTheKeyGoneRemovesItFromOtter ports sturdyc's
// TestGetOrFetchDeletesRecordsThatHaveBeenRemovedAtTheSource: the refresh of
// a stale key whose source answers "not found" removes the entry from
// otter itself (without MissingFor), so that no reader is served it.
func TestARefreshThatFindsTheKeyGoneRemovesItFromOtter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openotterstore(t)
		l, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Second, StaleFor: time.Hour})
		require.NoError(t, err)
		defer l.Close()
		ctx := context.Background()
		_, err = l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "v", nil })
		require.NoError(t, err)
		time.Sleep(2 * time.Second) // fake time: stale
		v, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound })
		require.NoError(t, err)
		assert.Equal(t, "v", v, "served stale while the refresh runs")
		require.NoError(t, l.Wait(ctx))
		_, found, err := store.Get(ctx, "k")
		require.NoError(t, err)
		assert.False(t, found, "the entry of a key gone at the source is removed from the Store")
	})
}
