package flightcache

import (
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
