package flightcache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// userKey is the context key of the user a caller reads for.
type userKey struct{}

func asUser(name string) context.Context {
	return context.WithValue(context.Background(), userKey{}, name)
}

// privateSource answers each key for the user in its ctx, and marks the
// answer Private while private is set. gate, when set, holds every load.
type privateSource struct {
	private atomic.Bool
	gate    chan struct{}
	loads   atomic.Int32
	started chan struct{}
}

func (s *privateSource) load(ctx context.Context, key string) (string, error) {
	s.loads.Add(1)
	if s.started != nil {
		s.started <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate
	}
	v := fmt.Sprintf("%s for %v", key, ctx.Value(userKey{}))
	if s.private.Load() {
		return v, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, Private: true})
	}
	return v, nil
}

func (s *privateSource) loadMany(ctx context.Context, keys []string) (map[string]string, error) {
	return eachKey(ctx, keys, s.load)
}

// A private result reaches only the caller whose load it was: the callers
// that joined that load load for themselves, and nothing is stored (rule
// 14; issue 22 input 7: 1 load reached 5 callers, and httppolicy maps
// "private" to it; moonrhythm/parapet#185).
func TestPrivateResultReachesOnlyItsOwnCaller(t *testing.T) {
	readers := map[string]func(ctx context.Context, l *flightcache.Loader[string, string], src *privateSource) (string, error){
		"GetOrLoad": func(ctx context.Context, l *flightcache.Loader[string, string], src *privateSource) (string, error) {
			return l.GetOrLoad(ctx, "k", src.load)
		},
		"GetOrLoadMany": func(ctx context.Context, l *flightcache.Loader[string, string], src *privateSource) (string, error) {
			m, err := l.GetOrLoadMany(ctx, []string{"k"}, src.loadMany)
			return m["k"], err
		},
		"Batcher": func(ctx context.Context, l *flightcache.Loader[string, string], src *privateSource) (string, error) {
			b, err := l.Batcher(src.loadMany, flightcache.Window{Wait: time.Millisecond})
			if err != nil {
				return "", err
			}
			return b.GetOrLoad(ctx, "k")
		},
	}
	for name, read := range readers {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newMemStore[string]()
				l := newLoader(t, store, nil)
				src := &privateSource{gate: make(chan struct{})}
				src.private.Store(true)

				users := []string{"ann", "bob", "cat", "dan", "eve"}
				got := make(map[string]string)
				var mu sync.Mutex
				var wg sync.WaitGroup
				for _, u := range users {
					wg.Go(func() {
						ctx, cancel := context.WithCancel(asUser(u))
						defer cancel()
						v, err := read(ctx, l, src)
						assert.NoError(t, err)
						mu.Lock()
						got[u] = v
						mu.Unlock()
					})
					synctest.Wait() // ann starts the load; the others join it
				}
				close(src.gate)
				wg.Wait()
				require.NoError(t, l.Wait(context.Background()))

				for _, u := range users {
					assert.Equal(t, "k for "+u, got[u], "each user gets the answer for them alone")
				}
				assert.Equal(t, int32(len(users)), src.loads.Load())
				_, stored := store.entry("k")
				assert.False(t, stored, "a private result is not stored")
			})
		})
	}
}

// After a private result, callers of the key do not join each other's
// loads (hit-for-pass) until a load returns a result that can be shared.
func TestCallersOfAKeyWhoseResultWasPrivateLoadAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		src := &privateSource{}
		src.private.Store(true)
		v, err := l.GetOrLoad(asUser("ann"), "k", src.load)
		require.NoError(t, err)
		require.Equal(t, "k for ann", v)

		// Three callers at once: none joins another's load.
		src.gate = make(chan struct{})
		var wg sync.WaitGroup
		for _, u := range []string{"bob", "cat", "dan"} {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(asUser(u))
				defer cancel()
				v, err := l.GetOrLoad(ctx, "k", src.load)
				assert.NoError(t, err)
				assert.Equal(t, "k for "+u, v)
			})
		}
		synctest.Wait()
		assert.Equal(t, int32(4), src.loads.Load(), "three loads in flight at once, one per caller")
		src.private.Store(false) // the answers become shareable
		close(src.gate)
		wg.Wait()

		// The last load's answer could be shared: callers join again.
		require.NoError(t, l.Invalidate(context.Background(), "k"))
		src.gate = make(chan struct{})
		for _, u := range []string{"eve", "fay"} {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(asUser(u))
				defer cancel()
				_, err := l.GetOrLoad(ctx, "k", src.load)
				assert.NoError(t, err)
			})
		}
		synctest.Wait()
		assert.Equal(t, int32(5), src.loads.Load(), "one load for both callers")
		close(src.gate)
		wg.Wait()
		require.NoError(t, l.Wait(context.Background()))
	})
}

// A private result of a refresh reaches no caller: a caller that joined it
// loads for itself, and what the Store held is dropped, not kept.
func TestPrivateResultOfARefreshReachesNoCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, nil)
		src := &privateSource{}
		_, err := l.GetOrLoad(asUser("ann"), "k", src.load)
		require.NoError(t, err)

		src.private.Store(true)
		src.gate = make(chan struct{})
		require.NoError(t, l.Refresh(asUser("ann"), "k", src.load))
		synctest.Wait()
		require.NoError(t, store.Delete(context.Background(), "k")) // bob misses, and joins the refresh
		got := make(chan string)
		go func() {
			ctx, cancel := context.WithCancel(asUser("bob"))
			defer cancel()
			v, err := l.GetOrLoad(ctx, "k", src.load)
			assert.NoError(t, err)
			got <- v
		}()
		synctest.Wait()
		require.Equal(t, int32(2), src.loads.Load(), "bob joined the refresh")
		close(src.gate)
		assert.Equal(t, "k for bob", <-got)
		require.NoError(t, l.Wait(context.Background()))
		assert.Equal(t, int32(3), src.loads.Load())
		e, ok := store.entry("k")
		assert.True(t, !ok || e.ExpiresAt.Time().Before(time.Now()), "what the Store held is dropped (an expired entry written over it)")
		assert.Zero(t, l.Stats().RefreshErrors, "a private result is no failed refresh")
	})
}
