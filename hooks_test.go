package flightcache_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
)

// TestSetPolicyAfterTheLoadReturnedChangesNothing: a goroutine that the load
// spawned sets NoStore once the load has returned; the entry stored stays,
// with the Options' policy ("calls after the load returned change nothing").
func TestSetPolicyAfterTheLoadReturnedChangesNothing(t *testing.T) {
	for _, name := range []string{"background caller (inline fill)", "caller with a deadline"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newMemStore[string]()
				l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
				release, late := make(chan struct{}), make(chan error, 1)
				ctx := context.Background()
				if name != "background caller (inline fill)" {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Hour)
					defer cancel()
				}
				start := time.Now()
				v, err := l.GetOrLoad(ctx, "k", func(ctx context.Context, key string) (string, error) {
					go func() {
						<-release
						late <- flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{NoStore: true})
					}()
					return "v", nil
				})
				require.NoError(t, err)
				assert.Equal(t, "v", v)
				synctest.Wait() // the fill has written and ended
				close(release)
				assert.ErrorContains(t, <-late, "has returned", "the late call is told it changed nothing")
				synctest.Wait()
				e, ok := store.entry("k")
				require.True(t, ok, "the late NoStore did not drop the stored entry")
				assert.Equal(t, flightcache.DeadlineOf(start.Add(time.Minute)), e.FreshUntil)
				got, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
					return "", errors.New("must not load")
				})
				require.NoError(t, err)
				assert.Equal(t, "v", got)
			})
		})
	}
}

// TestHooksWorkThroughContextsDerivedFromTheLoads: SetPolicy and Previous
// work with a context derived from the load's: WithTimeout, WithValue,
// WithoutCancel, WithCancelCause.
func TestHooksWorkThroughContextsDerivedFromTheLoads(t *testing.T) {
	derive := map[string]func(context.Context) (context.Context, context.CancelFunc){
		"WithTimeout": func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, time.Second)
		},
		"WithValue": func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithValue(ctx, callerKey{}, "x"), func() {}
		},
		"WithoutCancel": func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithoutCancel(ctx), func() {}
		},
		"WithCancelCause": func(ctx context.Context) (context.Context, context.CancelFunc) {
			c, cancel := context.WithCancelCause(ctx)
			return c, func() { cancel(nil) }
		},
	}
	for name, d := range derive {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newMemStore[string]()
				l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour})
				start := time.Now()
				_, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
					c, cancel := d(ctx)
					defer cancel()
					return "v1", flightcache.SetPolicy(c, key, flightcache.EntryPolicy{FreshFor: time.Second, StaleFor: time.Hour})
				})
				require.NoError(t, err)
				e, _ := store.entry("k")
				assert.Equal(t, flightcache.DeadlineOf(start.Add(time.Second)), e.FreshUntil, "the policy set through a derived context")

				time.Sleep(2 * time.Second)
				var prev flightcache.Entry[string]
				var had bool
				require.NoError(t, l.Refresh(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
					c, cancel := d(ctx)
					defer cancel()
					prev, had = flightcache.Previous[string](c, key)
					return "", flightcache.ErrNotModified
				}))
				synctest.Wait()
				require.True(t, had)
				assert.Equal(t, "v1", prev.Value)
			})
		})
	}
}

// TestSetPolicyIsScopedToTheKeysOfItsCall: with MaxBatch 1, a batch
// of a and b is loaded in two calls of the BatchLoadFunc, each given one
// key. The call given [a] sets a policy for b, a key it does not load: that
// must be refused (SetPolicy: "key one of the keys it loads"), and b's
// entry must keep the Options' policy.
func TestSetPolicyIsScopedToTheKeysOfItsCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, MaxBatch: 1})
		aDone := make(chan struct{})
		var crossErr error
		start := time.Now()
		_, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, func(ctx context.Context, keys []string) (map[string]string, error) {
			require.Len(t, keys, 1)
			if keys[0] == "a" {
				crossErr = flightcache.SetPolicy(ctx, "b", flightcache.EntryPolicy{FreshFor: time.Hour})
				close(aDone)
			} else {
				<-aDone
			}
			return map[string]string{keys[0]: "v"}, nil
		})
		require.NoError(t, err)
		assert.Error(t, crossErr, "SetPolicy of a key this call does not load")
		e, _ := store.entry("b")
		assert.Equal(t, flightcache.DeadlineOf(start.Add(time.Minute)), e.FreshUntil, "b keeps the Options' policy")
	})
}

// TestSetPolicyWithAnInferredKeyTypeThatIsNotTheLoadersIsAnError: in a
// Loader[any, V], SetPolicy(ctx, "k", p) infers K = string, which is not the
// Loader's key type; it must say so, not succeed silently.
func TestSetPolicyWithAnInferredKeyTypeThatIsNotTheLoadersIsAnError(t *testing.T) {
	l, err := flightcache.New[any, string](newMapStore[any, string](), nil)
	require.NoError(t, err)
	defer l.Close()
	var setErr error
	_, err = l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key any) (string, error) {
		setErr = flightcache.SetPolicy(ctx, "k", flightcache.EntryPolicy{NoStore: true})
		return "v", nil
	})
	require.NoError(t, err)
	assert.Error(t, setErr, "K inferred as string in a Loader[any, ...]")
}

// TestPreviousOfAColdMissAndOutsideALoad: Previous reports false for
// a cold miss, for a context that is not a load's, and for a nil context;
// SetPolicy outside a load is an error, and a negative duration is refused.
func TestPreviousOfAColdMissAndOutsideALoad(t *testing.T) {
	l := newLoader(t, newMemStore[string](), nil)
	var had bool
	var negErr error
	_, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
		_, had = flightcache.Previous[string](ctx, key)
		negErr = flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{StaleFor: -time.Second})
		return "v", nil
	})
	require.NoError(t, err)
	assert.False(t, had)
	assert.Error(t, negErr)
	_, ok := flightcache.Previous[string](context.Background(), "k")
	assert.False(t, ok)
	//lint:ignore SA1012 a nil context is the mistake under test
	_, ok = flightcache.Previous[string, string](nil, "k")
	assert.False(t, ok)
	assert.Error(t, flightcache.SetPolicy(context.Background(), "k", flightcache.EntryPolicy{}))
}

// TestPreviousIsNeverAnEntryPastItsExpiresAt: "an entry is kept, for reads
// and for Previous alike, until its ExpiresAt". A Store may keep an entry
// past its ExpiresAt (it only may drop it); the load must not see it through
// Previous, nor bring it back with ErrNotModified. Here the entry was built
// by a policy with no window at all (HTTP's no-cache), which the README says
// leaves no Previous to revalidate.
func TestPreviousIsNeverAnEntryPastItsExpiresAt(t *testing.T) {
	t.Run("memStore, no window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			store := newMemStore[string]()
			l := newLoader(t, store, nil)
			ctx := context.Background()
			_, err := l.GetOrLoad(ctx, "k", func(ctx context.Context, key string) (string, error) {
				return "v1", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{}) // no-cache, no stale-if-error
			})
			require.NoError(t, err)
			time.Sleep(time.Second)
			var had bool
			_, err = l.GetOrLoad(ctx, "k", func(ctx context.Context, key string) (string, error) {
				_, had = flightcache.Previous[string](ctx, key)
				if had {
					return "", flightcache.ErrNotModified
				}
				return "v2", nil
			})
			assert.False(t, had, "an entry past its ExpiresAt is not kept for Previous")
			assert.NoError(t, err)
		})
	})
	// The same with the repository's own lrustore, which drops an expired
	// entry only when it is Set, not when it is read.
	t.Run("lrustore", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			store, err := lrustore.New[string, string](10)
			require.NoError(t, err)
			l := newLoader(t, store, &flightcache.Options{FreshFor: time.Second, StaleIfError: time.Minute})
			ctx := context.Background()
			_, err = l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "v1", nil })
			require.NoError(t, err)
			time.Sleep(2 * time.Minute) // past ExpiresAt
			var had bool
			v, err := l.GetOrLoad(ctx, "k", func(ctx context.Context, key string) (string, error) {
				_, had = flightcache.Previous[string](ctx, key)
				if had {
					return "", flightcache.ErrNotModified
				}
				return "v2", nil
			})
			assert.False(t, had, "lrustore: an entry past its ExpiresAt is not kept for Previous")
			assert.NoError(t, err)
			assert.Equal(t, "v2", v)
		})
	})
}

// TestABatchCallAnsweringNotModifiedKeepsEveryPreviousEntry: a BatchLoadFunc
// whose whole call answers ErrNotModified (every key unchanged, as one
// conditional request for many keys would say) keeps every previous entry,
// as a LoadFunc's ErrNotModified does, rather than failing every key.
func TestABatchCallAnsweringNotModifiedKeepsEveryPreviousEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Second, StaleIfError: time.Hour})
		ctx := context.Background()
		require.NoError(t, l.Set(ctx, "a", "old-a"))
		require.NoError(t, l.Set(ctx, "b", "old-b"))
		time.Sleep(2 * time.Second)
		got, err := l.GetOrLoadMany(ctx, []string{"a", "b"}, func(ctx context.Context, keys []string) (map[string]string, error) {
			return nil, flightcache.ErrNotModified
		})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "old-a", "b": "old-b"}, got)
		e, _ := store.entry("a")
		assert.True(t, e.FreshUntil.Time().After(time.Now()), "fresh again")
	})
}
