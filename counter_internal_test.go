package flightcache

import (
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Close waits for the fills running when it is called. Take a fill A whose
// done() has dropped the count to 0 but not yet taken the lock, a fill B
// that starts (0 to 1), and a Close whose zero() then makes the channel: A
// must not close that channel while B, which started before Close, still
// runs. The test widens A's window by holding the counter's lock while A's
// done runs (A then blocks on it after dropping the count to 0), and counts
// how often zero's channel is closed while B is counted.
func TestCounterZeroStaysOpenWhileAFillThatStartedBeforeItRuns(t *testing.T) {
	const tries = 2_000
	bad := 0
	for range tries {
		var c counter
		c.add() // fill A
		var wg sync.WaitGroup
		c.mu.Lock()
		wg.Go(func() { c.done() }) // A ends: n drops to 0, then A waits for mu
		for c.n.Load() != 0 {
			runtime.Gosched()
		}
		c.add() // fill B starts
		c.mu.Unlock()
		ch := c.zero() // Close, after B started
		wg.Wait()      // A's done has returned; B is still running
		select {
		case <-ch:
			bad++ // Close would return while B runs
		default:
		}
	}
	t.Logf("%d of %d tries saw zero closed while a fill ran", bad, tries)
	assert.Zero(t, bad)
}
