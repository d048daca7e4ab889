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

// No read is ever served past its entry's windows, whatever the scheduler
// does to the coarse clock (rule 6; issue 22 input 9: with 16 readers on 2
// cores the coarse clock's goroutine lagged by up to 257 ms, and a fresh
// verdict by it served entries past their ExpiresAt). Each entry here is
// past its windows by the system clock and inside them by a coarse clock
// that lags a minute behind; every entry point loads it.
func TestLaggingCoarseClockServesNothingPastItsWindows(t *testing.T) {
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	entries := map[string]Entry[string]{
		"fresh past ExpiresAt":  {Value: "old", FreshUntil: DeadlineOf(ago(time.Second)), ExpiresAt: DeadlineOf(ago(time.Second))},
		"missing past its time": {Missing: true, FreshUntil: DeadlineOf(ago(time.Second)), ExpiresAt: DeadlineOf(ago(time.Second))},
		"stale past StaleUntil": {Value: "old", FreshUntil: DeadlineOf(ago(2 * time.Minute)), StaleUntil: DeadlineOf(ago(30 * time.Second)), ExpiresAt: DeadlineOf(ago(30 * time.Second))},
		"fresh, early refresh":  {Value: "old", FreshUntil: DeadlineOf(ago(time.Second)), ExpiresAt: DeadlineOf(ago(time.Second)), LoadDuration: MicrosOf(time.Second)},
	}
	reads := map[string]func(l *Loader[string, string]) (string, error){
		"GetOrLoad": func(l *Loader[string, string]) (string, error) {
			return l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "new", nil })
		},
		"GetOrLoadMany": func(l *Loader[string, string]) (string, error) {
			m, err := l.GetOrLoadMany(context.Background(), []string{"k"}, func(context.Context, []string) (map[string]string, error) {
				return map[string]string{"k": "new"}, nil
			})
			return m["k"], err
		},
		"Batcher": func(l *Loader[string, string]) (string, error) {
			b, err := l.Batcher(func(context.Context, []string) (map[string]string, error) {
				return map[string]string{"k": "new"}, nil
			}, Window{Wait: time.Millisecond})
			if err != nil {
				return "", err
			}
			return b.GetOrLoad(context.Background(), "k")
		},
	}
	for name, e := range entries {
		for via, read := range reads {
			t.Run(name+"/"+via, func(t *testing.T) {
				lag := &coarseClock{}
				lag.nanos.Store(ago(time.Minute).UnixNano())
				lag.read.Store(true)
				s := newMapStore[string, string]()
				s.m["k"] = e
				l, err := New[string, string](s, &Options{FreshFor: time.Hour, StaleFor: time.Minute, MissingFor: time.Hour, EarlyRefresh: 1})
				require.NoError(t, err)
				defer l.Close()
				l.clock, l.fill.clock, l.refresh.clock = clock{src: lag}, clock{src: lag}, clock{src: lag}

				v, err := read(l)
				require.NoError(t, err)
				assert.Equal(t, "new", v, "loaded, not served past its windows")
			})
		}
	}
}

func TestExactClockMeasuresDurationsAcrossItsBases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c coarseClock
		wall, mono := c.exactNowMono()
		assert.Equal(t, time.Now().UnixNano(), wall)
		for _, step := range []time.Duration{time.Millisecond, clockBaseAge / 2, clockBaseAge, 3 * clockBaseAge} {
			time.Sleep(step)
			w, m := c.exactNowMono()
			assert.Equal(t, time.Now().UnixNano(), w, "after %v", step)
			assert.Equal(t, step, m-mono, "a duration of %v, across a renewal of the base or not", step)
			mono = m
		}
	})
}

func TestAnEntryRecordsWhenItsLoadBeganAndHowLongItTook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMapStore[string, string]()
		l, err := New[string, string](store, &Options{FreshFor: time.Hour, LoadTimeout: time.Minute})
		require.NoError(t, err)
		defer l.Close()
		began := time.Now()
		_, err = l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
			time.Sleep(1500 * time.Millisecond)
			return "v", nil
		})
		require.NoError(t, err)
		e, ok, err := store.Get(context.Background(), "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 1500*time.Millisecond, e.LoadDuration.Duration())
		assert.Equal(t, DeadlineOf(began), e.LoadedAt)
	})
}
