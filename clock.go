package flightcache

import (
	"sync"
	"sync/atomic"
	"time"
)

// clockTick is how often the coarse clock is brought up to date while it is
// read.
const clockTick = time.Millisecond

// clockIdleTicks is how many ticks without a read stop the ticking goroutine.
const clockIdleTicks = 1000

// clock tells the time as Unix nanoseconds for freshness checks. Reading the
// system clock would cost a hit about as much as an LRU lookup, so a ticking
// goroutine keeps a copy that a hit reads in a nanosecond; the copy lags the
// system clock by at most about clockTick (more when the process is starved
// of CPU). The goroutine runs only while the clock is being read: after
// clockIdleTicks unread ticks it stops, and the next read, finding no copy,
// reads the system clock and starts it again.
type clock struct {
	nanos atomic.Int64 // the copy; 0 while no goroutine keeps it
	read  atomic.Bool  // whether now was called since the last tick

	mu      sync.Mutex // guards ticking and stopped
	ticking bool
	stopped bool
	quit    chan struct{}
	done    sync.WaitGroup
}

func (c *clock) init() {
	c.quit = make(chan struct{})
}

// now returns the current time as Unix nanoseconds, to within about a tick.
func (c *clock) now() int64 {
	if n := c.nanos.Load(); n != 0 {
		if !c.read.Load() {
			c.read.Store(true)
		}
		return n
	}
	return c.wake()
}

// wake reads the system clock and starts the ticking goroutine.
func (c *clock) wake() int64 {
	n := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ticking && !c.stopped {
		c.ticking = true
		c.read.Store(true)
		c.nanos.Store(n)
		c.done.Add(1)
		go c.tick()
	}
	return n
}

func (c *clock) tick() {
	defer c.done.Done()
	t := time.NewTicker(clockTick)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-c.quit:
			c.sleep()
			return
		case <-t.C:
		}
		if c.read.Swap(false) {
			idle = 0
		} else if idle++; idle >= clockIdleTicks {
			c.sleep()
			return
		}
		c.nanos.Store(time.Now().UnixNano())
	}
}

// sleep drops the copy, so that readers go to the system clock until the
// goroutine is started again.
func (c *clock) sleep() {
	c.mu.Lock()
	c.nanos.Store(0)
	c.ticking = false
	c.mu.Unlock()
}

// stop ends the ticking goroutine for good; now keeps working from the system
// clock.
func (c *clock) stop() {
	c.mu.Lock()
	if !c.stopped {
		c.stopped = true
		close(c.quit)
	}
	c.mu.Unlock()
	c.done.Wait()
}
