package flightcache

import (
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
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
		l, err := New[string, string](staleStore{}, &Options{FreshFor: time.Minute, StaleFor: time.Hour, MaxRefreshes: 1})
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
