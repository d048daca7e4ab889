package ristrettostore

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// gate admits calls until it is closed, and lets close wait until every call
// it admitted has left. It does the work of a sync.RWMutex held for reading
// by calls and for writing by close, without making every call write to one
// shared word, which on a machine with many cores costs more than ristretto's
// Get itself: a call counts itself on a counter taken from a sync.Pool, and
// the pool mostly hands each processor back its own.
//
// The zero gate is open and ready to use.
type gate struct {
	closed atomic.Bool
	pool   sync.Pool // of *counter

	mu       sync.Mutex
	counters []*counter // every counter handed out, so close can read them all
	next     int        // which counter to share out once there are enough
}

// counter is the number of admitted calls that took it and have not left. It
// fills a cache line, so that counters of different processors do not share
// one.
type counter struct {
	n atomic.Int64
	_ [56]byte
}

// maxCounters bounds the counters a gate makes. A sync.Pool drops what it
// holds at garbage collection, so without a bound the gate would make new
// counters forever; past the bound it shares out ones it has, which is only
// slower, never wrong, since calls may share a counter.
var maxCounters = 4 * runtime.GOMAXPROCS(0)

// enter admits a call and returns the counter to give back to leave, or
// returns nil if the gate is closed.
//
// enter increments the counter before it reads closed, and close sets closed
// before it reads the counters; sync/atomic's operations are sequentially
// consistent, so either enter sees closed or close sees the increment.
func (g *gate) enter() *counter {
	c, _ := g.pool.Get().(*counter)
	if c == nil {
		c = g.newCounter()
	}
	c.n.Add(1)
	if g.closed.Load() {
		g.leave(c)
		return nil
	}
	return c
}

// leave ends a call admitted by enter.
func (g *gate) leave(c *counter) {
	c.n.Add(-1)
	g.pool.Put(c)
}

// newCounter returns a counter that close will read. A counter made after
// close took its list is made after close set closed, so the call that takes
// it sees closed and leaves.
func (g *gate) newCounter() *counter {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.counters) >= maxCounters {
		c := g.counters[g.next%len(g.counters)]
		g.next++
		return c
	}
	c := new(counter)
	g.counters = append(g.counters, c)
	return c
}

// close closes the gate and waits, yielding the processor, until every call
// it admitted has left. It reports whether the gate was open. Calls are
// short, so the wait is too.
func (g *gate) close() bool {
	if g.closed.Swap(true) {
		return false
	}
	g.mu.Lock()
	counters := g.counters
	g.mu.Unlock()
	for _, c := range counters {
		for c.n.Load() != 0 {
			runtime.Gosched()
		}
	}
	return true
}
