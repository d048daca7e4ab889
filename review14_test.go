package flightcache_test

// Adversarial tests of issue 14's API (per-entry policy, revalidation,
// GetOrLoadResult, the failure throttle, SoftTimeout, Batcher, the fill's
// context), written by a reviewer trying to break its promises. Tests that
// found a bug are skipped with the reason, so the suite stays green.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/singleflight"
)

// rvStore is a Store of any key type over a map.
type rvStore[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]flightcache.Entry[V]
}

func newRvStore[K comparable, V any]() *rvStore[K, V] {
	return &rvStore[K, V]{m: make(map[K]flightcache.Entry[V])}
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

type reviewCtxKey struct{}

// TestReviewSetPolicyAfterTheLoadReturnedChangesNothing: a goroutine that
// the load spawned sets NoStore once the load has returned; the entry
// stored stays, with the Options' policy ("calls after the load returned
// change nothing").
func TestReviewSetPolicyAfterTheLoadReturnedChangesNothing(t *testing.T) {
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
				assert.Equal(t, start.Add(time.Minute), e.FreshUntil)
				got, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
					return "", errors.New("must not load")
				})
				require.NoError(t, err)
				assert.Equal(t, "v", got)
			})
		})
	}
}

// TestReviewHooksThroughDerivedContexts: SetPolicy and Previous work with a
// context derived from the load's: WithTimeout, WithValue, WithoutCancel,
// WithCancelCause.
func TestReviewHooksThroughDerivedContexts(t *testing.T) {
	derive := map[string]func(context.Context) (context.Context, context.CancelFunc){
		"WithTimeout": func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, time.Second)
		},
		"WithValue": func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithValue(ctx, reviewCtxKey{}, "x"), func() {}
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
				assert.Equal(t, start.Add(time.Second), e.FreshUntil, "the policy set through a derived context")

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

// TestReviewSetPolicyIsScopedToTheKeysOfItsCall: with MaxBatch 1, a batch
// of a and b is loaded in two calls of the BatchLoadFunc, each given one
// key. The call given [a] sets a policy for b, a key it does not load: that
// must be refused (SetPolicy: "key one of the keys it loads"), and b's
// entry must keep the Options' policy.
func TestReviewSetPolicyIsScopedToTheKeysOfItsCall(t *testing.T) {
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
		assert.Equal(t, start.Add(time.Minute), e.FreshUntil, "b keeps the Options' policy")
	})
}

// TestReviewNoStoreInABatch: one key of a batch says NoStore; its old entry
// is dropped and its callers get the value, the other keys are stored.
func TestReviewNoStoreInABatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Second, StaleIfError: time.Hour})
		ctx := context.Background()
		require.NoError(t, l.Set(ctx, "a", "old-a"))
		time.Sleep(2 * time.Second) // a is past FreshFor, inside StaleIfError: loaded with the batch
		got, err := l.GetOrLoadMany(ctx, []string{"a", "b", "c"}, func(ctx context.Context, keys []string) (map[string]string, error) {
			require.NoError(t, flightcache.SetPolicy(ctx, "a", flightcache.EntryPolicy{NoStore: true}))
			out := map[string]string{}
			for _, k := range keys {
				out[k] = "new-" + k
			}
			return out, nil
		})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "new-a", "b": "new-b", "c": "new-c"}, got)
		synctest.Wait()
		if e, ok := store.entry("a"); ok {
			assert.True(t, e.ExpiresAt.Before(time.Now()), "NoStore drops the old entry (an expired entry stands for none)")
		}
		r, err := l.GetOrLoadResult(ctx, "a", func(context.Context, string) (string, error) { return "next-a", nil })
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served, "the old value is not served in place of the NoStore one")
		assert.Equal(t, "next-a", r.Value)
		for _, k := range []string{"b", "c"} {
			e, ok := store.entry(k)
			require.True(t, ok, k)
			assert.Equal(t, "new-"+k, e.Value)
		}
	})
}

// TestReviewNotModifiedRacingAWrite: a revalidation that answers
// ErrNotModified (wrapped) while a Set or Invalidate of the key happens
// never writes over them (rule 8), over a plain Store and over a Fencer.
func TestReviewNotModifiedRacingAWrite(t *testing.T) {
	for _, fenced := range []bool{false, true} {
		for _, op := range []string{"Set", "Invalidate", "none"} {
			t.Run(fmt.Sprintf("fenced=%v/%s", fenced, op), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var store flightcache.Store[string, string]
					var mem *memStore[string]
					if fenced {
						fs := newFenceStore()
						store, mem = fs, fs.memStore
					} else {
						mem = newMemStore[string]()
						store = mem
					}
					l := newLoader(t, store, &flightcache.Options{FreshFor: time.Second, StaleIfError: time.Hour})
					ctx := context.Background()
					require.NoError(t, l.Set(ctx, "k", "v1"))
					time.Sleep(2 * time.Second) // past FreshFor, inside StaleIfError

					inLoad, release := make(chan struct{}), make(chan struct{})
					done := make(chan struct{})
					var r flightcache.Result[string]
					var err error
					go func() {
						defer close(done)
						r, err = l.GetOrLoadResult(ctx, "k", func(ctx context.Context, key string) (string, error) {
							close(inLoad)
							<-release
							return "", fmt.Errorf("upstream said 304: %w", flightcache.ErrNotModified)
						})
					}()
					<-inLoad
					switch op {
					case "Set":
						require.NoError(t, l.Set(ctx, "k", "v2"))
					case "Invalidate":
						require.NoError(t, l.Invalidate(ctx, "k"))
					}
					close(release)
					<-done
					require.NoError(t, err)
					assert.Equal(t, "v1", r.Value, "the load's callers get the value it kept")
					assert.Equal(t, flightcache.ServedLoaded, r.Served)
					assert.True(t, r.FreshUntil.After(time.Now()), "fresh again")
					synctest.Wait()
					e, ok := mem.entry("k")
					switch op {
					case "Set":
						require.True(t, ok)
						assert.Equal(t, "v2", e.Value, "Set wins")
					case "Invalidate":
						assert.False(t, ok, "Invalidate wins")
					default:
						require.True(t, ok)
						assert.Equal(t, "v1", e.Value)
						assert.True(t, e.FreshUntil.After(time.Now()), "the kept entry is fresh again in the Store")
					}
				})
			})
		}
	}
}

// TestReviewSetDoesNotLeaveAThrottledKeyBehind: after a failed load, a Set
// stores a value; once it goes stale, its refresh runs (not held back by
// the old failure), and a miss after the entry expires loads.
func TestReviewSetDoesNotLeaveAThrottledKeyBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := new(failing)
		src.down.Store(true)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{
			FreshFor: time.Second, FailureBackoff: flightcache.Backoff{Initial: time.Minute},
		})
		ctx := context.Background()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, errBackend)
		src.down.Store(false)
		require.NoError(t, l.Set(ctx, "k", "set"))
		time.Sleep(2 * time.Second) // the Set's entry is gone (no StaleFor)
		v, err := l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v-k", v)
	})
}

// TestReviewRefreshIsNotThrottledAndEndsTheThrottle: a throttled key can be
// refreshed at once; a Refresh that succeeds lets the next miss load... and
// the stored value is served.
func TestReviewRefreshIsNotThrottledAndEndsTheThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, src := throttledKey(t)
		ctx := context.Background()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, flightcache.ErrThrottled)
		require.ErrorIs(t, err, errBackend, "the last error is still matchable")
		assert.EqualValues(t, 1, src.calls.Load())

		// A failing Refresh is not throttled either, and keeps the key held back.
		require.NoError(t, l.Refresh(ctx, "k", src.load))
		synctest.Wait()
		assert.EqualValues(t, 2, src.calls.Load())
		_, err = l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, flightcache.ErrThrottled)

		src.down.Store(false)
		require.NoError(t, l.Refresh(ctx, "k", src.load))
		synctest.Wait()
		r, err := l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v-k", r.Value)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
		assert.EqualValues(t, 3, src.calls.Load())
	})
}

// TestReviewSoftTimeoutThenThrottle: a caller holding an old value gets it
// at SoftTimeout (ErrSoftTimeout); the load goes on and fails; the next
// caller gets the old value again, now as a throttled stand-in whose Err
// matches both ErrThrottled and the load's error, without a new load.
func TestReviewSoftTimeoutThenThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		l := newLoader(t, newMemStore[string](), &flightcache.Options{
			FreshFor: time.Second, StaleIfError: time.Hour, SoftTimeout: 50 * time.Millisecond,
			LoadTimeout:    10 * time.Second,
			FailureBackoff: flightcache.Backoff{Initial: time.Minute},
		})
		ctx := context.Background()
		require.NoError(t, l.Set(ctx, "k", "old"))
		time.Sleep(2 * time.Second)
		hang := func(ctx context.Context, key string) (string, error) {
			calls.Add(1)
			select {
			case <-time.After(5 * time.Second):
			case <-ctx.Done():
			}
			return "", errBackend
		}
		start := time.Now()
		r, err := l.GetOrLoadResult(ctx, "k", hang)
		require.NoError(t, err)
		assert.Equal(t, 50*time.Millisecond, time.Since(start))
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.Equal(t, "old", r.Value)
		assert.ErrorIs(t, r.Err, flightcache.ErrSoftTimeout)

		// A second caller during the load joins it, and also leaves at SoftTimeout.
		r, err = l.GetOrLoadResult(ctx, "k", hang)
		require.NoError(t, err)
		assert.ErrorIs(t, r.Err, flightcache.ErrSoftTimeout)
		assert.EqualValues(t, 1, calls.Load())

		time.Sleep(10 * time.Second) // the load failed
		r, err = l.GetOrLoadResult(ctx, "k", hang)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.Equal(t, "old", r.Value)
		assert.ErrorIs(t, r.Err, flightcache.ErrThrottled)
		assert.ErrorIs(t, r.Err, errBackend)
		assert.EqualValues(t, 1, calls.Load(), "throttled: no new load")
	})
}

// TestReviewResultOfJoinersAndBatches: a caller that joins a load in
// flight, and a Batcher's caller, get ServedLoaded with the entry's times;
// a NoStore result carries the times it would have had.
func TestReviewResultOfJoinersAndBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute})
		ctx := context.Background()
		start := time.Now()
		gate := make(chan struct{})
		slow := func(ctx context.Context, key string) (string, error) {
			<-gate
			return "v-" + key, nil
		}
		results := make([]flightcache.Result[string], 3)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				r, err := l.GetOrLoadResult(ctx, "j", slow)
				assert.NoError(t, err)
				results[i] = r
			})
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		for _, r := range results {
			assert.Equal(t, flightcache.ServedLoaded, r.Served)
			assert.Equal(t, "v-j", r.Value)
			assert.Equal(t, start.Add(time.Minute), r.FreshUntil)
			assert.Equal(t, start.Add(2*time.Minute), r.StaleUntil)
			assert.NoError(t, r.Err)
		}

		ws := new(windowSource)
		b, err := l.Batcher(ws.load, flightcache.Window{Wait: time.Millisecond})
		require.NoError(t, err)
		r, err := b.GetOrLoadResult(ctx, "x")
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		assert.Equal(t, "v-x", r.Value)
		assert.Equal(t, start.Add(time.Minute+time.Millisecond), r.FreshUntil)
		r, err = b.GetOrLoadResult(ctx, "x")
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
		r, err = b.GetOrLoadResult(ctx, "absent")
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)

		now := time.Now()
		r, err = l.GetOrLoadResult(ctx, "n", func(ctx context.Context, key string) (string, error) {
			return "once", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: 10 * time.Second, NoStore: true})
		})
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		assert.Equal(t, now.Add(10*time.Second), r.FreshUntil, "the times it would have had")
	})
}

// TestReviewBatcherCloseRace: callers of a Batcher while the Loader closes
// each get a value or ErrClosed, never hang, and leave no goroutine.
func TestReviewBatcherCloseRace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := flightcache.New[string, string](newMemStore[string](), nil)
		require.NoError(t, err)
		ws := new(windowSource)
		b, err := l.Batcher(ws.load, flightcache.Window{Wait: 10 * time.Millisecond, MaxKeys: 3})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * time.Millisecond)
				v, err := b.GetOrLoad(context.Background(), fmt.Sprint("k", i))
				if err != nil {
					assert.ErrorIs(t, err, flightcache.ErrClosed)
					return
				}
				assert.Equal(t, fmt.Sprint("v-k", i), v)
			})
		}
		time.Sleep(7 * time.Millisecond)
		require.NoError(t, l.Close())
		wg.Wait()
		_, err = b.GetOrLoad(context.Background(), "after")
		require.ErrorIs(t, err, flightcache.ErrClosed)
	})
}

// TestReviewBatcherMaxKeysOne: a window of one key loads each miss at once,
// alone.
func TestReviewBatcherMaxKeysOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		ws := new(windowSource)
		b, err := l.Batcher(ws.load, flightcache.Window{Wait: time.Hour, MaxKeys: 1})
		require.NoError(t, err)
		got, errs, took := readAll(t, b, []string{"a", "b", "c"})
		assert.Zero(t, took, "a full window does not wait")
		for _, k := range []string{"a", "b", "c"} {
			assert.NoError(t, errs[k])
			assert.Equal(t, "v-"+k, got[k])
		}
		assert.ElementsMatch(t, [][]string{{"a"}, {"b"}, {"c"}}, ws.seen())
	})
}

// TestReviewKeysGoCannotHash: a Loader or Batcher whose key type is an
// interface refuses a key holding a slice with ErrInvalidKey, never a panic,
// and so do the hooks inside a load.
func TestReviewKeysGoCannotHash(t *testing.T) {
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

// TestReviewSetPolicyWithTheInferredKeyTypeOfAnInterfaceKeyedLoader: in a
// Loader[any, V], SetPolicy(ctx, "k", p) infers K = string, which is not
// the Loader's key type; it must say so, not succeed silently.
func TestReviewSetPolicyWithTheInferredKeyTypeOfAnInterfaceKeyedLoader(t *testing.T) {
	l, err := flightcache.New[any, string](newRvStore[any, string](), nil)
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

// TestReviewABatcherWhoseLoadPanics: every caller of the window gets an
// error wrapping *singleflight.PanicError; the next window loads again.
func TestReviewABatcherWhoseLoadPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		var calls atomic.Int64
		b, err := l.Batcher(func(ctx context.Context, keys []string) (map[string]string, error) {
			if calls.Add(1) == 1 {
				panic("boom")
			}
			out := map[string]string{}
			for _, k := range keys {
				out[k] = "v-" + k
			}
			return out, nil
		}, flightcache.Window{Wait: time.Millisecond})
		require.NoError(t, err)
		_, errs, _ := readAll(t, b, []string{"a", "b"})
		for _, k := range []string{"a", "b"} {
			var pe *singleflight.PanicError
			require.ErrorAs(t, errs[k], &pe, k)
			assert.Equal(t, "boom", pe.Value)
		}
		got, errs, _ := readAll(t, b, []string{"a", "b"})
		assert.NoError(t, errs["a"])
		assert.Equal(t, "v-a", got["a"])
	})
}

// TestReviewTheFillContext: the context a load gets has the fill's
// deadline, carries the caller's values, ends with context.Canceled once
// the load has returned (Err and Cause alike), runs context.AfterFunc
// callbacks then, and ends contexts derived from it.
func TestReviewTheFillContext(t *testing.T) {
	for _, name := range []string{"inline", "handed off"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: 7 * time.Second})
				ctx := context.WithValue(context.Background(), reviewCtxKey{}, "caller")
				if name != "inline" {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Second) // shorter than LoadTimeout
					defer cancel()
				}
				start := time.Now()
				var loadCtx, derived context.Context
				afterRan := make(chan struct{})
				_, err := l.GetOrLoad(ctx, "k", func(c context.Context, key string) (string, error) {
					loadCtx = c
					dl, ok := c.Deadline()
					assert.True(t, ok)
					assert.Equal(t, start.Add(7*time.Second), dl, "the fill's deadline, not the caller's")
					assert.Equal(t, "caller", c.Value(reviewCtxKey{}))
					assert.NoError(t, c.Err())
					assert.NoError(t, context.Cause(c))
					context.AfterFunc(c, func() { close(afterRan) })
					var cancel context.CancelFunc
					derived, cancel = context.WithTimeout(c, time.Hour)
					_ = cancel // ended by the fill's end; cancelled below
					t.Cleanup(cancel)
					return "v", nil
				})
				require.NoError(t, err)
				<-afterRan
				<-loadCtx.Done()
				assert.ErrorIs(t, loadCtx.Err(), context.Canceled)
				assert.ErrorIs(t, context.Cause(loadCtx), context.Canceled)
				<-derived.Done()
				assert.ErrorIs(t, derived.Err(), context.Canceled)
				// AfterFunc on a context that has ended runs at once.
				ran := make(chan struct{})
				stop := context.AfterFunc(loadCtx, func() { close(ran) })
				<-ran
				assert.False(t, stop())
			})
		})
	}
}

// TestReviewTheFillContextAtItsDeadline: a load that honours its context
// sees DeadlineExceeded at LoadTimeout, and context.Cause agrees.
func TestReviewTheFillContextAtItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Second})
		var cause error
		_, err := l.GetOrLoad(context.Background(), "k", func(c context.Context, key string) (string, error) {
			<-c.Done()
			cause = context.Cause(c)
			return "", c.Err()
		})
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, cause, context.DeadlineExceeded)
	})
}

// TestReviewAnHTTPRequestInsideALoad: net/http accepts the fill's context
// (http.NewRequestWithContext), for an inline fill and a handed-off one,
// directly and through a derived timeout, and the request is cut at the
// fill's deadline.
func TestReviewAnHTTPRequestInsideALoad(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("ETag", `"1"`)
		_, _ = fmt.Fprint(w, "body", r.URL.Path)
	}))
	defer srv.Close()
	defer close(hang)
	client := srv.Client()
	defer client.CloseIdleConnections()

	get := func(ctx context.Context, path string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		buf := make([]byte, 64)
		n, _ := resp.Body.Read(buf)
		return string(buf[:n]), nil
	}
	l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: 200 * time.Millisecond})
	timed, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, ctx := range []context.Context{context.Background(), timed} {
		v, err := l.GetOrLoad(ctx, fmt.Sprint("/a", ctx.Done() == nil), func(ctx context.Context, key string) (string, error) {
			return get(ctx, key)
		})
		require.NoError(t, err)
		assert.Contains(t, v, "body/a")
		v, err = l.GetOrLoad(ctx, fmt.Sprint("/b", ctx.Done() == nil), func(ctx context.Context, key string) (string, error) {
			c, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			return get(c, key)
		})
		require.NoError(t, err)
		assert.Contains(t, v, "body/b")
		_, err = l.GetOrLoad(ctx, "/hang", func(ctx context.Context, key string) (string, error) {
			return get(ctx, key)
		})
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
}

// TestReviewForeverWithJitterAndEarlyRefresh: a Forever policy under
// Options.Jitter and EarlyRefresh stays fresh and is never refreshed early
// (no overflow in the windows or in the early-refresh draw).
func TestReviewForeverWithJitterAndEarlyRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Second, Jitter: 0.5, EarlyRefresh: 10, StaleFor: time.Hour})
		var calls atomic.Int64
		load := func(ctx context.Context, key string) (string, error) {
			calls.Add(1)
			return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: flightcache.Forever, StaleFor: time.Hour, StaleIfError: time.Hour})
		}
		ctx := context.Background()
		for range 100 {
			r, err := l.GetOrLoadResult(ctx, "k", load)
			require.NoError(t, err)
			assert.Equal(t, "v", r.Value)
			time.Sleep(time.Hour)
		}
		synctest.Wait()
		assert.EqualValues(t, 1, calls.Load())
	})
}

// TestReviewPreviousOfAColdMissAndOutsideALoad: Previous reports false for
// a cold miss, for a context that is not a load's, and for a nil context;
// SetPolicy outside a load is an error, and a negative duration is refused.
func TestReviewPreviousOfAColdMissAndOutsideALoad(t *testing.T) {
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
	//nolint:staticcheck // a nil context on purpose
	_, ok = flightcache.Previous[string, string](nil, "k")
	assert.False(t, ok)
	assert.Error(t, flightcache.SetPolicy(context.Background(), "k", flightcache.EntryPolicy{}))
}

// TestReviewPreviousIsNotAnExpiredEntry: "an entry is kept, for reads and
// for Previous alike, until its ExpiresAt". A Store may keep an entry past
// its ExpiresAt (it only may drop it); the load must not see it through
// Previous, nor bring it back with ErrNotModified. Here the entry was built
// by a policy with no window at all (HTTP's no-cache), which the README
// says leaves no Previous to revalidate.
func TestReviewPreviousIsNotAnExpiredEntry(t *testing.T) {
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

// TestReviewABatchCallAnsweringNotModified: a BatchLoadFunc whose whole
// call answers ErrNotModified (every key unchanged, as one conditional
// request for many keys would say) keeps every previous entry, as a
// LoadFunc's ErrNotModified does, rather than failing every key.
func TestReviewABatchCallAnsweringNotModified(t *testing.T) {
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
		assert.True(t, e.FreshUntil.After(time.Now()), "fresh again")
	})
}

// TestReviewAnInlineFillFreesItsJoinersAtTheDeadline: a caller with
// context.Background() runs the fill on its own goroutine; when the load
// ignores its context, a joiner with a context that can end is freed at
// LoadTimeout, the inline caller only when the load returns, both with
// ErrLoadTimeout, and the late result is not stored.
func TestReviewAnInlineFillFreesItsJoinersAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{LoadTimeout: time.Second})
		started := make(chan struct{})
		start := time.Now()
		var inlineTook time.Duration
		var inlineErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, inlineErr = l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
				close(started)
				time.Sleep(5 * time.Second) // ignores ctx
				return "late", nil
			})
			inlineTook = time.Since(start)
		}()
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		_, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "", errors.New("joined, never called") })
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		assert.Equal(t, time.Second, time.Since(start), "the joiner is freed at the deadline")
		<-done
		require.ErrorIs(t, inlineErr, flightcache.ErrLoadTimeout)
		assert.Equal(t, 5*time.Second, inlineTook)
		synctest.Wait()
		_, ok := store.entry("k")
		assert.False(t, ok, "the late result is dropped")
	})
}
