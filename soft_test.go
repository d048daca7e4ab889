package flightcache_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
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

func TestSoftTimeoutMustNotBeNegative(t *testing.T) {
	_, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{SoftTimeout: -1})
	assert.ErrorContains(t, err, "Options.SoftTimeout")
}

// Options never refuse what a load's policy makes meaningful (rule 14):
// SoftTimeout without Options.StaleIfError applies to an entry whose load
// set a stale-if-error window, and EarlyRefresh without Options.FreshFor to
// an entry whose load set a FreshFor. (httppolicy's users set both windows
// per response.)
func TestSoftTimeoutAppliesToAStaleIfErrorWindowTheLoadSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{SoftTimeout: time.Second})
		first := func(ctx context.Context, key string) (string, error) {
			err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, StaleIfError: time.Hour})
			return "v1", err
		}
		_, err := l.GetOrLoad(context.Background(), "k", first)
		require.NoError(t, err)

		time.Sleep(2 * time.Minute)
		slow := func(ctx context.Context, key string) (string, error) {
			time.Sleep(10 * time.Second)
			return "v2", nil
		}
		start := time.Now()
		r, err := l.GetOrLoadResult(context.Background(), "k", slow)
		require.NoError(t, err)
		assert.Equal(t, time.Second, time.Since(start), "the caller waited SoftTimeout, no longer")
		assert.Equal(t, "v1", r.Value)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.ErrorIs(t, r.Err, flightcache.ErrSoftTimeout)
		require.NoError(t, l.Wait(context.Background()))
	})
}

func TestEarlyRefreshNeedsNoFreshForInTheOptions(t *testing.T) {
	_, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{EarlyRefresh: 1})
	assert.NoError(t, err, "a load's EntryPolicy.FreshFor makes EarlyRefresh meaningful")
}

// TestSoftTimeoutAgainstASourceThatHangs measures, in a bubble's fake time,
// what 100 callers a second for a minute see of a source whose every load
// hangs for 10 s: upstream calls and the callers' p99, with SoftTimeout
// 50 ms and without. The figures are quoted in issue 14's closing note.
func TestSoftTimeoutAgainstASourceThatHangs(t *testing.T) {
	for _, soft := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run("SoftTimeout="+soft.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int64
				hangs := func(ctx context.Context, key string) (string, error) {
					calls.Add(1)
					time.Sleep(10 * time.Second)
					return "v", nil
				}
				l := newLoader(t, newMemStore[string](), &flightcache.Options{
					FreshFor: 20 * time.Second, StaleIfError: time.Hour, SoftTimeout: soft,
				})
				require.NoError(t, l.Set(context.Background(), "k", "old"))
				time.Sleep(21 * time.Second) // past its freshness: the next read loads

				var mu sync.Mutex
				var waits []time.Duration
				var wg sync.WaitGroup
				for range 60 * 100 {
					wg.Go(func() {
						start := time.Now()
						_, err := l.GetOrLoad(context.Background(), "k", hangs)
						assert.NoError(t, err)
						mu.Lock()
						waits = append(waits, time.Since(start))
						mu.Unlock()
					})
					time.Sleep(10 * time.Millisecond)
				}
				wg.Wait()
				slices.Sort(waits)
				p99 := waits[len(waits)*99/100]
				t.Logf("SoftTimeout %v: %d upstream calls in 60s, caller p50 %v, p99 %v, max %v",
					soft, calls.Load(), waits[len(waits)/2], p99, waits[len(waits)-1])
				if soft > 0 {
					assert.LessOrEqual(t, p99, soft)
				} else {
					assert.GreaterOrEqual(t, p99, 9*time.Second)
				}
				assert.LessOrEqual(t, calls.Load(), int64(3), "one load at a time, each stored for FreshFor")
			})
		})
	}
}

// TestSoftTimeoutThenTheFailedLoadThrottlesTheKey: a caller holding an old
// value gets it at SoftTimeout (ErrSoftTimeout); the load goes on and fails;
// the next caller gets the old value again, now as a throttled stand-in
// whose Err matches both ErrThrottled and the load's error, without a new
// load.
func TestSoftTimeoutThenTheFailedLoadThrottlesTheKey(t *testing.T) {
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

// A Background caller that holds an old value for SoftTimeout is not run
// inline: it gets the old value at SoftTimeout while the load goes on, and
// the load's result is stored when it lands.
func TestSoftTimeoutOfACallerThatNeverEndsIsNotRunInline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStore[string]()
		l, err := flightcache.New[string, string](s, &flightcache.Options{
			FreshFor: time.Second, StaleIfError: time.Hour, SoftTimeout: 100 * time.Millisecond, LoadTimeout: 10 * time.Second,
		})
		require.NoError(t, err)
		defer l.Close()
		ctx := context.Background()
		require.NoError(t, l.Set(ctx, "k", "old"))
		time.Sleep(2 * time.Second)
		start := time.Now()
		r, err := l.GetOrLoadResult(ctx, "k", func(context.Context, string) (string, error) {
			time.Sleep(time.Second)
			return "new", nil
		})
		require.NoError(t, err)
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
		assert.Equal(t, "old", r.Value)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.ErrorIs(t, r.Err, flightcache.ErrSoftTimeout)
		require.NoError(t, l.Wait(ctx))
		e, ok := s.entry("k")
		require.True(t, ok)
		assert.Equal(t, "new", e.Value)
	})
}

// TestSoftTimeoutStillServesTheOtherKeysOfABatchWhenOnesOldValueRanOut:
// in a GetOrLoadMany of two keys that each hold an old value, the first
// key's stand-in window ends before SoftTimeout fires, so that key waits
// for its load; the second key's old value is still good, and the caller
// must get it once SoftTimeout has passed (and its own load has ended),
// not wait for the second key's hung load.
func TestSoftTimeoutStillServesTheOtherKeysOfABatchWhenOnesOldValueRanOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{SoftTimeout: time.Second})
		ctx := context.Background()
		sie := map[string]time.Duration{"short": 10 * time.Second, "long": time.Hour}
		first := func(ctx context.Context, key string) (string, error) {
			err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, StaleIfError: sie[key]})
			return key + "-old", err
		}
		for _, k := range []string{"short", "long"} {
			_, err := l.GetOrLoad(ctx, k, first)
			require.NoError(t, err)
		}
		time.Sleep(time.Minute + 10*time.Second - 500*time.Millisecond) // "short" stands in for 500 ms more

		hang := make(chan struct{})
		defer close(hang)
		go func() {
			// Another caller's load of "long" hangs; this caller is served
			// the old value after SoftTimeout.
			_, _ = l.GetOrLoad(ctx, "long", func(context.Context, string) (string, error) {
				<-hang
				return "long-new", nil
			})
		}()
		synctest.Wait()

		start := time.Now()
		got, err := l.GetOrLoadMany(ctx, []string{"short", "long"}, func(ctx context.Context, keys []string) (map[string]string, error) {
			time.Sleep(1500 * time.Millisecond) // past SoftTimeout, and past the end of "short"'s window
			out := map[string]string{}
			for _, k := range keys {
				out[k] = k + "-new"
			}
			return out, nil
		})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"short": "short-new", "long": "long-old"}, got)
		assert.Equal(t, 1500*time.Millisecond, time.Since(start),
			"SoftTimeout passed while the caller waited for the key whose old value ran out; the other key's old value stands in")
	})
}

// TestSoftTimeoutPassedHoldsForABatchKeyLoadedAgainAfterAPrivateResult: in
// a GetOrLoadMany of two keys holding old values, the second key joined
// another caller's load, which returned a private result, so the batch
// loads it again alone; SoftTimeout has passed by then (the first key got
// its stand-in when it fired), so the second key gets its old value at
// once, not after its new load.
func TestSoftTimeoutPassedHoldsForABatchKeyLoadedAgainAfterAPrivateResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleIfError: time.Hour, SoftTimeout: time.Second})
		ctx := context.Background()
		for _, k := range []string{"a", "b"} {
			_, err := l.GetOrLoad(ctx, k, func(context.Context, string) (string, error) { return k + "-old", nil })
			require.NoError(t, err)
		}
		time.Sleep(2 * time.Minute)

		go func() {
			// Another caller's load of "b": its result is private.
			_, _ = l.GetOrLoad(ctx, "b", func(ctx context.Context, key string) (string, error) {
				time.Sleep(500 * time.Millisecond)
				return "b-private", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{Private: true})
			})
		}()
		synctest.Wait()

		start := time.Now()
		got, err := l.GetOrLoadMany(ctx, []string{"a", "b"}, func(ctx context.Context, keys []string) (map[string]string, error) {
			time.Sleep(10 * time.Second)
			out := map[string]string{}
			for _, k := range keys {
				out[k] = k + "-new"
			}
			return out, nil
		})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "a-old", "b": "b-old"}, got)
		assert.Equal(t, time.Second, time.Since(start), "the caller waits SoftTimeout, no longer")
		require.NoError(t, l.Wait(ctx))
	})
}

// TestACallerWhoseOldValueIsInvalidatedWhileItWaitsWaitsForTheLoad: a
// caller holding an old value inside its StaleIfError waits for a slow load;
// an InvalidateTag of the value's tag comes before SoftTimeout fires, so
// the caller holds nothing to fall back on then, and waits for the load as
// a caller with no old value does, in GetOrLoad and GetOrLoadMany alike:
// never ErrSoftTimeout as its answer.
func TestACallerWhoseOldValueIsInvalidatedWhileItWaitsWaitsForTheLoad(t *testing.T) {
	for _, many := range []bool{false, true} {
		t.Run(map[bool]string{false: "GetOrLoad", true: "GetOrLoadMany"}[many], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLoader(t, newMemStore[string](), &flightcache.Options{SoftTimeout: time.Second})
				ctx := context.Background()
				_, err := l.GetOrLoad(ctx, "k", func(ctx context.Context, key string) (string, error) {
					err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, StaleIfError: time.Hour, Tags: []string{"t"}})
					return "old", err
				})
				require.NoError(t, err)
				time.Sleep(2 * time.Minute) // "old" may stand in for a failed load

				go func() {
					time.Sleep(500 * time.Millisecond)
					assert.NoError(t, l.InvalidateTag(ctx, "t"))
				}()
				start := time.Now()
				var got string
				if many {
					var vals map[string]string
					vals, err = l.GetOrLoadMany(ctx, []string{"k"}, func(context.Context, []string) (map[string]string, error) {
						time.Sleep(3 * time.Second)
						return map[string]string{"k": "new"}, nil
					})
					got = vals["k"]
				} else {
					got, err = l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
						time.Sleep(3 * time.Second)
						return "new", nil
					})
				}
				require.NoError(t, err, "SoftTimeout fired after the old value was invalidated")
				assert.Equal(t, "new", got)
				assert.Equal(t, 3*time.Second, time.Since(start), "the caller waited for the load")
			})
		})
	}
}
