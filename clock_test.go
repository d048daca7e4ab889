package flightcache

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCoarseClockFollowsTimeAndSleepsWhenUnread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c coarseClock
		assert.Equal(t, time.Now().UnixNano(), c.now(), "the first read goes to the system clock")
		assert.True(t, c.isTicking())

		for range 50 {
			time.Sleep(clockTick / 3)
			lag := time.Now().UnixNano() - c.now()
			assert.GreaterOrEqual(t, lag, int64(0))
			assert.Less(t, lag, int64(clockTick), "the copy lags by less than a tick while read")
		}

		time.Sleep(clockIdleTicks*clockTick + 2*clockTick)
		synctest.Wait()
		assert.False(t, c.isTicking(), "the goroutine stops once nobody reads the clock")
		assert.Zero(t, c.nanos.Load())

		assert.Equal(t, time.Now().UnixNano(), c.now(), "a read after the stop is exact, and restarts it")
		assert.True(t, c.isTicking())
		time.Sleep(2 * clockIdleTicks * clockTick)
	})
	// synctest.Test fails if a goroutine of the bubble outlives it.
}

func TestClockInsideASynctestBubbleIsExact(t *testing.T) {
	assert.False(t, newClock().exact, "outside a bubble, Loaders share the coarse clock")
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		assert.True(t, c.exact)
		time.Sleep(time.Hour)
		assert.Equal(t, time.Now().UnixNano(), c.now())
	})
}

func (c *coarseClock) isTicking() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ticking
}

func TestEveryLoaderSharesOneClockGoroutine(t *testing.T) {
	var loaders []*Loader[string, string]
	for range 50 {
		l, err := New[string, string](staleStore, &Options{FreshFor: time.Minute, StaleFor: time.Hour, MaxRefreshes: 1})
		assert.NoError(t, err)
		loaders = append(loaders, l)
	}
	defer func() {
		for _, l := range loaders {
			l.Close()
		}
	}()
	for _, l := range loaders {
		assert.False(t, l.clock.exact)
		l.clock.now()
	}
	// A goroutine that has not run yet is not in runtime.Stack's dump.
	count, stacks := 0, ""
	for range 1000 {
		runtime.Gosched()
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if count = strings.Count(stacks, "coarseClock).tick"); count > 0 {
			break
		}
	}
	assert.Equal(t, 1, count, "one clock goroutine for the process:\n%s", stacks)
}

// TestAStaleEntryIsJudgedAgainByTheSystemClock: a coarse clock held back
// (as CPU starvation holds it back) finds an entry still inside its stale
// window that the system clock finds past it; the read loads rather than
// serve the entry stale past its StaleUntil.
func TestAStaleEntryIsJudgedAgainByTheSystemClock(t *testing.T) {
	now := time.Now()
	var lagging coarseClock
	lagging.nanos.Store(now.Add(-time.Second).UnixNano())
	lagging.read.Store(true)
	e := Entry[string]{
		Value: "old", FreshUntil: now.Add(-2 * time.Second), StaleUntil: now.Add(-500 * time.Millisecond), ExpiresAt: now.Add(-500 * time.Millisecond),
	}
	store := fixedStore{entry: func() Entry[string] { return e }}
	l, err := New[string, string](store, &Options{FreshFor: time.Minute, StaleFor: time.Minute})
	require.NoError(t, err)
	defer l.Close()
	l.clock = clock{src: &lagging}
	loads := 0
	v, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
		loads++
		return "new", nil
	})
	require.NoError(t, err)
	assert.Equal(t, "new", v, "not the entry past its StaleUntil")
	assert.Equal(t, 1, loads)
}

// An entry that a lagging coarse clock finds stale, but that is past its
// StaleUntil by the system clock, is not served stale: GetOrLoad and
// GetOrLoadMany load it (confirmStale).
func TestALaggingClockServesNothingPastStaleUntil(t *testing.T) {
	now := time.Now()
	lag := &coarseClock{}
	lag.nanos.Store(now.Add(-time.Minute).UnixNano()) // a minute behind
	lag.read.Store(true)
	e := Entry[string]{
		Value:      "old",
		FreshUntil: now.Add(-2 * time.Minute),
		StaleUntil: now.Add(-30 * time.Second), // stale by the lagging clock, gone by the system's
	}
	for _, many := range []bool{false, true} {
		s := newMapStore[string, string]()
		s.m["k"] = e
		l, err := New[string, string](s, &Options{FreshFor: time.Hour, StaleFor: time.Minute})
		require.NoError(t, err)
		l.clock, l.fill.clock = clock{src: lag}, clock{src: lag}
		var v string
		if many {
			var m map[string]string
			m, err = l.GetOrLoadMany(context.Background(), []string{"k"}, func(context.Context, []string) (map[string]string, error) {
				return map[string]string{"k": "new"}, nil
			})
			v = m["k"]
		} else {
			v, err = l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "new", nil })
		}
		require.NoError(t, err)
		assert.Equal(t, "new", v, "many=%v", many)
		require.NoError(t, l.Close())
	}
}
