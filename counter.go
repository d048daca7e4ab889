package flightcache

import (
	"sync"
	"sync/atomic"
)

// counter counts things under way (fills, log lines) and lets a caller wait
// for a moment when none is. A sync.WaitGroup may not go from 0 to 1 while it
// is waited for; a fill or a line may well start while Close or Loader.Wait
// waits. Counting takes one atomic add; only a count that drops to 0 while
// somebody waits takes the lock. Safe for concurrent use.
type counter struct {
	n atomic.Int64

	mu   sync.Mutex
	none chan struct{} // made by zero while n > 0; closed when n drops to 0
}

func (c *counter) add() { c.n.Add(1) }

func (c *counter) done() {
	if c.n.Add(-1) != 0 {
		return
	}
	c.mu.Lock()
	// Something may have started since the count dropped, and a waiter
	// taken a channel for it: that channel is closed by the done that
	// brings the count to 0 again.
	if c.none != nil && c.n.Load() == 0 {
		close(c.none)
		c.none = nil
	}
	c.mu.Unlock()
}

// zero returns a channel that is closed once nothing is under way.
func (c *counter) zero() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n.Load() == 0 {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	if c.none == nil {
		c.none = make(chan struct{})
	}
	return c.none
}
