package flightcache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// A fill's job is reused by later fills once its pipeline is over (issue
// 16: it was most of a miss's bytes). The context a load got is not: a load
// may keep it (a goroutine it started, a log handler), and what it reads or
// says through it after its fill is over must reach nothing of the fills
// that came after.

// A load keeps its context past its fill; other fills run, reusing the
// job. The kept context still has its caller's values, stays ended, and its
// hooks answer as after any load: SetPolicy refuses, Previous finds nothing,
// for its own key and for the keys of the fills that came after.
func TestKeptLoadContextReachesNothingOfLaterFills(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) {
			store := newMemStore[string]()
			l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
			caller := func(v string) (context.Context, context.CancelFunc) {
				ctx := context.WithValue(context.Background(), callerKey{}, v)
				if inline {
					return ctx, func() {}
				}
				return context.WithCancel(ctx)
			}
			ctx, cancel := caller("first")
			defer cancel()
			var kept context.Context
			_, err := l.GetOrLoad(ctx, "a", func(c context.Context, key string) (string, error) {
				kept = c
				return "A", nil
			})
			require.NoError(t, err)
			require.NoError(t, l.Wait(context.Background()))

			// Later fills, one of which may reuse the first one's job; each
			// sets its own policy, and has a previous entry to revalidate.
			require.NoError(t, l.Set(context.Background(), "c", "old-C"))
			for _, k := range []string{"b", "c"} {
				ctx, cancel := caller("later")
				err := l.Refresh(ctx, k, func(c context.Context, key string) (string, error) {
					assert.Equal(t, "later", c.Value(callerKey{}))
					assert.Error(t, flightcache.SetPolicy(kept, key, flightcache.EntryPolicy{FreshFor: time.Second}),
						"a kept context must not reach a later fill's hooks")
					_, ok := flightcache.Previous[string](kept, key)
					assert.False(t, ok, "a kept context must not see a later fill's previous entry")
					assert.NoError(t, flightcache.SetPolicy(c, key, flightcache.EntryPolicy{FreshFor: time.Minute}))
					return "v-" + key, nil
				})
				require.NoError(t, err)
				require.NoError(t, l.Wait(context.Background()))
				cancel()
			}

			assert.Equal(t, "first", kept.Value(callerKey{}))
			assert.ErrorIs(t, kept.Err(), context.Canceled)
			select {
			case <-kept.Done():
			default:
				t.Fatal("a kept context's Done must stay closed")
			}
			err = flightcache.SetPolicy(kept, "a", flightcache.EntryPolicy{FreshFor: time.Second})
			assert.ErrorContains(t, err, "has returned")
			_, ok := flightcache.Previous[string](kept, "a")
			assert.False(t, ok)

			// The later fills' policies are theirs: nothing leaked between them.
			e, ok := store.entry("c")
			require.True(t, ok)
			assert.Equal(t, "v-c", e.Value)
			assert.WithinDuration(t, time.Now().Add(time.Minute), e.FreshUntil.Time(), 10*time.Second)
		})
	}
}

// The Done channel of a fill's context is made only when asked for: asked
// for before the context ends, it is closed when it ends; asked for after,
// it is closed already; and every caller gets the same channel.
func TestFillContextDoneAskedForBeforeAndAfterItEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Minute})
		var early <-chan struct{}
		var kept context.Context
		_, err := l.GetOrLoad(context.Background(), "k", func(c context.Context, key string) (string, error) {
			early, kept = c.Done(), c
			assert.Equal(t, early, c.Done(), "Done returns one channel")
			select {
			case <-early:
				t.Error("Done is closed while the load runs")
			default:
			}
			return "v", nil
		})
		require.NoError(t, err)
		<-early // closed when the fill ended
		assert.Equal(t, early, kept.Done())

		var late context.Context
		_, err = l.GetOrLoad(context.Background(), "other", func(c context.Context, key string) (string, error) {
			late = c // Done is never asked for while the fill runs
			return "v", nil
		})
		require.NoError(t, err)
		<-late.Done()
		assert.ErrorIs(t, late.Err(), context.Canceled)
	})
}

// Many goroutines miss many keys at once, each load checking that its
// context is its own (its key, its caller's value, its previous entry) and
// keeping it; whatever job a fill reuses, no load sees another's. Run with
// -race.
func TestReusedJobsUnderConcurrentFills(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	store := newMemStore[string]()
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
	const keys, callers, rounds = 16, 8, 40
	for k := range keys {
		if k%2 == 0 {
			require.NoError(t, l.Set(context.Background(), fmt.Sprint("k", k), fmt.Sprint("old-k", k)))
		}
	}
	plan := make([][]int, callers)
	for c := range plan {
		plan[c] = make([]int, rounds)
		for r := range plan[c] {
			plan[c][r] = rng.IntN(keys)
		}
	}
	var mu sync.Mutex
	var kept []context.Context
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for _, k := range plan[c] {
				key := fmt.Sprint("k", k)
				ctx := context.WithValue(context.Background(), callerKey{}, key)
				if c%2 == 1 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
				}
				load := func(lc context.Context, got string) (string, error) {
					assert.Equal(t, key, got)
					assert.Equal(t, key, lc.Value(callerKey{}), "a load sees its own caller's values")
					if prev, ok := flightcache.Previous[string](lc, got); ok {
						assert.Contains(t, prev.Value, got)
					}
					assert.NoError(t, flightcache.SetPolicy(lc, got, flightcache.EntryPolicy{FreshFor: time.Hour}))
					mu.Lock()
					kept = append(kept, lc)
					mu.Unlock()
					return "new-" + got, nil
				}
				if rng2 := (c + k) % 3; rng2 == 0 {
					assert.NoError(t, l.Refresh(ctx, key, load))
					continue
				}
				assert.NoError(t, l.Invalidate(ctx, key))
				v, err := l.GetOrLoad(ctx, key, load)
				assert.NoError(t, err)
				assert.Contains(t, v, key)
			}
		})
	}
	wg.Wait()
	require.NoError(t, l.Wait(context.Background()))
	for _, c := range kept {
		key := c.Value(callerKey{}).(string)
		assert.Error(t, flightcache.SetPolicy(c, key, flightcache.EntryPolicy{}))
		assert.ErrorIs(t, c.Err(), context.Canceled)
	}
}

// An entry's windows count from when its load returned, not from when the
// fill got round to building it: a fill held in between (here by its
// Recorder) must not serve the value past FreshFor+StaleFor of its age.
func TestEntryWindowsCountFromTheLoadsReturn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{
			FreshFor: time.Minute, StaleFor: time.Minute,
			// The Recorder holds the fill between the load's return and
			// the entry's build, as a descheduled pipeline would be held.
			Recorder: &recorder{onRecordLoad: func(time.Duration, error) { time.Sleep(10 * time.Second) }},
		})
		var returned time.Time
		_, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
			returned = time.Now()
			return "v", nil
		})
		require.NoError(t, err)
		e, ok := store.entry("k")
		require.True(t, ok)
		assert.True(t, e.FreshUntil.Time().Equal(returned.Add(time.Minute)), "FreshUntil %v, want %v", e.FreshUntil, returned.Add(time.Minute))
		assert.True(t, e.StaleUntil.Time().Equal(returned.Add(2*time.Minute)), "StaleUntil %v, want %v", e.StaleUntil, returned.Add(2*time.Minute))
	})
}

// A load that keeps its context finds it ended (Canceled) once the fill is
// over; contexts derived from it afterwards are born ended, AfterFunc runs
// at once, and its stop reports false.
func TestAKeptLoadContextIsEndedOnceItsFillIsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := flightcache.New[string, string](newMemStore[string](), nil)
		require.NoError(t, err)
		defer l.Close()
		var kept context.Context
		var derivedBefore context.Context
		var cancelBefore context.CancelFunc
		stoppedRan := atomic.Bool{}
		var stopResult bool
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err = l.GetOrLoad(ctx, "k", func(ctx context.Context, _ string) (string, error) {
			kept = ctx
			derivedBefore, cancelBefore = context.WithCancel(ctx)
			stop := context.AfterFunc(ctx, func() { stoppedRan.Store(true) })
			stopResult = stop()
			return "v", nil
		})
		require.NoError(t, err)
		defer cancelBefore()
		require.NoError(t, l.Wait(context.Background()))
		synctest.Wait()

		assert.True(t, stopResult, "stop before the end stops f")
		assert.False(t, stoppedRan.Load(), "a stopped AfterFunc never runs")
		select {
		case <-kept.Done():
		default:
			t.Fatal("the fill's context is not done after the fill")
		}
		assert.ErrorIs(t, kept.Err(), context.Canceled)
		assert.ErrorIs(t, derivedBefore.Err(), context.Canceled)
		assert.ErrorIs(t, context.Cause(derivedBefore), context.Canceled)

		after, cancelAfter := context.WithTimeout(kept, time.Hour)
		defer cancelAfter()
		assert.ErrorIs(t, after.Err(), context.Canceled)
		ran := make(chan struct{})
		stop := context.AfterFunc(kept, func() { close(ran) })
		<-ran
		assert.False(t, stop(), "stop after f started reports false")
		assert.ErrorIs(t, context.WithoutCancel(kept).Err(), nil)
	})
}

// A job's timer is kept for the job's next fill, but never across the edge
// of a testing/synctest bubble: a Loader made outside one and used inside
// it, and outside again, loads and times out in both without a panic
// (a timer made in a bubble may not be set from outside, nor the other way).
func TestJobTimersStayOnTheirSideOfABubble(t *testing.T) {
	l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Second})
	miss := func(key string) {
		v, err := l.GetOrLoad(context.Background(), key, func(_ context.Context, k string) (string, error) { return "v" + k, nil })
		require.NoError(t, err)
		require.Equal(t, "v"+key, v)
	}
	for i := range 3 {
		miss("out-" + strconv.Itoa(i)) // jobs, and their timers, made outside
	}
	synctest.Test(t, func(t *testing.T) {
		for i := range 3 {
			miss("in-" + strconv.Itoa(i))
		}
		// The caller gives up after twice LoadTimeout: a fill whose timer
		// is not the bubble's never times out there, and the test fails
		// instead of hanging.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hang := make(chan struct{})
		_, err := l.GetOrLoad(ctx, "slow", func(context.Context, string) (string, error) { <-hang; return "", nil })
		assert.ErrorIs(t, err, flightcache.ErrLoadTimeout, "the deadline fires in the bubble")
		close(hang)
		require.NoError(t, l.Wait(context.Background()))
	})
	for i := range 3 {
		miss("after-" + strconv.Itoa(i)) // jobs made in the bubble, reused outside
	}
}
