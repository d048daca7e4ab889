package flightcache

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestClockFollowsTimeAndSleepsWhenUnread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c clock
		c.init()
		defer c.stop()

		assert.Equal(t, time.Now().UnixNano(), c.now(), "the first read goes to the system clock")
		assert.True(t, c.ticking)

		for range 50 {
			time.Sleep(clockTick / 3)
			lag := time.Now().UnixNano() - c.now()
			assert.GreaterOrEqual(t, lag, int64(0))
			assert.Less(t, lag, int64(clockTick), "the copy lags by less than a tick while read")
		}

		time.Sleep(clockIdleTicks*clockTick + 2*clockTick)
		synctest.Wait()
		c.mu.Lock()
		ticking := c.ticking
		c.mu.Unlock()
		assert.False(t, ticking, "the goroutine stops once nobody reads the clock")
		assert.Zero(t, c.nanos.Load())

		assert.Equal(t, time.Now().UnixNano(), c.now(), "a read after the stop is exact, and restarts it")
		assert.True(t, c.ticking)
	})
}

func TestClockStopEndsTheGoroutineForGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c clock
		c.init()
		c.now()
		c.stop()
		c.stop()
		assert.False(t, c.ticking)
		assert.Equal(t, time.Now().UnixNano(), c.now(), "a stopped clock still tells the time")
		assert.False(t, c.ticking, "and starts no goroutine")
	})
	// synctest.Test fails if a goroutine of the bubble outlives it.
}
