package flightcache

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Close promises to wait for the fills running when it is called. With the
// counter, a fill A whose done() has dropped n to 0 but not yet taken the
// lock, a fill B that starts (n 0->1), and a Close whose zero() then makes
// the channel, A closes that channel: Close returns while B, which started
// before Close, still runs. The test widens A's window by holding the
// counter's lock while A's done runs (A then blocks on it after dropping n
// to 0), and counts how often zero's channel closes while B is counted.
func TestReview16CounterZeroClosesWhileAFillStartedBeforeItRuns(t *testing.T) {
	t.Skip("BUG: counter.done closes none without checking n is still 0 (counter.go); Close/Wait may return while a fill that started before them runs")
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

// The context.Context contract: "If Done is not yet closed, Err returns
// nil." fillCtx.end sets the state before it closes done, and Err reads only
// the state, so a reader can see an error while Done is still open (the
// context package's cancelCtx.Err waits for Done before it returns one).
func TestReview16FillCtxErrOnlyOnceDoneIsClosed(t *testing.T) {
	t.Skip("BUG: fillCtx.Err returns an error before Done is closed (fillctx.go end: CAS, then close); Err should <-c.done when the state is not live")
	const tries = 20_000
	bad := 0
	for range tries {
		var c fillCtx
		c.begin(context.Background(), time.Now().Add(time.Hour))
		var wg sync.WaitGroup
		wg.Go(func() { c.end(ctxCanceled) })
		for c.Err() == nil {
		}
		select {
		case <-c.Done():
		default:
			bad++
		}
		wg.Wait()
	}
	t.Logf("%d of %d tries saw Err before Done was closed", bad, tries)
	assert.Zero(t, bad)
}
