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
const clockIdleTicks = 100

// coarse is the process's one coarse clock, shared by every Loader.
var coarse coarseClock

// coarseClock tells the time as Unix nanoseconds where a lag does no harm
// (the failure throttle's backoff, when a refresh is due); freshness is
// judged by exactNow. A ticking goroutine keeps a copy that a read takes in
// a nanosecond; the copy lags the system clock by about clockTick, and by
// hundreds of milliseconds when the process is starved of CPU. The goroutine runs only while the clock is
// read: after clockIdleTicks unread ticks it stops, and the next read,
// finding no copy, reads the system clock and starts it again. All methods
// are safe for concurrent use.
type coarseClock struct {
	nanos atomic.Int64 // the copy; 0 while no goroutine keeps it
	read  atomic.Bool  // whether now was called since the last tick

	// base is a reading of the system clock, wall and monotonic, from
	// which exactNow tells the time with one read of the monotonic clock.
	base atomic.Pointer[clockBase]

	mu      sync.Mutex // guards ticking
	ticking bool
}

// now returns the current time as Unix nanoseconds, to within about a tick.
func (c *coarseClock) now() int64 {
	if n := c.nanos.Load(); n != 0 {
		if !c.read.Load() {
			c.read.Store(true)
		}
		return n
	}
	return c.wake()
}

// wake reads the system clock and starts the ticking goroutine. The
// process's clock does not start it inside a testing/synctest bubble (read
// by a Loader made outside it): a goroutine started there would belong to
// the bubble, which must not end with it still running.
func (c *coarseClock) wake() int64 {
	now := time.Now()
	n := now.UnixNano()
	if c == &coarse && inBubble(now) {
		return n
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ticking {
		c.ticking = true
		c.read.Store(true)
		c.nanos.Store(n)
		go c.tick()
	}
	return n
}

func (c *coarseClock) tick() {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for idle := 0; ; {
		<-t.C
		if c.read.Swap(false) {
			idle = 0
		} else if idle++; idle >= clockIdleTicks {
			c.mu.Lock()
			// A read may have come in since the Swap; it found a copy and
			// will find none from now on, which only costs it a system
			// clock read.
			c.nanos.Store(0)
			c.ticking = false
			c.mu.Unlock()
			return
		}
		c.nanos.Store(time.Now().UnixNano())
	}
}

// clockBase is a reading of the system clock: t carries its monotonic
// reading, wall is t as Unix nanoseconds, and mono is t's monotonic reading
// as the time since monoZero.
type clockBase struct {
	t    time.Time
	wall int64
	mono time.Duration
}

// monoZero is the origin of the monotonic times exactNowMono returns: a
// reading of the system clock when the package was initialized.
var monoZero = time.Now()

// clockBaseAge is how long a clockBase serves before the wall clock is read
// again, so that exactNow follows the wall clock's adjustments (NTP slews it
// by at most 500 ppm: 0.5 ms in a second) and its steps within a second.
const clockBaseAge = time.Second

// exactNow returns the current time as Unix nanoseconds, read from the
// system: the wall clock of a base at most clockBaseAge old, plus the
// monotonic time since. It costs one read of the monotonic clock, where
// time.Now reads the wall clock too.
func (c *coarseClock) exactNow() int64 {
	n, _ := c.exactNowMono()
	return n
}

// exactNowMono is exactNow, and the monotonic time since monoZero read with
// it, for durations that no adjustment of the wall clock may bend.
func (c *coarseClock) exactNowMono() (int64, time.Duration) {
	if b := c.base.Load(); b != nil {
		if d := time.Since(b.t); d >= 0 && d < clockBaseAge {
			return b.wall + int64(d), b.mono + d
		}
	}
	t := time.Now()
	n, m := t.UnixNano(), t.Sub(monoZero)
	c.base.Store(&clockBase{t: t, wall: n, mono: m})
	return n, m
}

// bubbleYears: a synctest bubble's clock starts at midnight UTC on
// 2000-01-01 (documented by testing/synctest); a process whose clock reads a
// time before this is in such a bubble.
var bubbleYears = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)

// inBubble reports whether now, read from the system clock, was read
// inside a testing/synctest bubble (see bubbleYears).
func inBubble(now time.Time) bool { return now.Before(bubbleYears) }

// clock is a Loader's view of the time. It reads the process's coarse
// clock, except inside a testing/synctest bubble, whose fake time the coarse
// clock's goroutine (started outside the bubble, or inside another) cannot
// follow; there it reads the system clock, exactly.
type clock struct {
	// src is &coarse, or, for an exact clock, a coarseClock that never
	// ticks, whose copy is always 0.
	src   *coarseClock
	exact bool
}

// stopped never ticks: exact clocks read it, find no copy, and go to the
// system clock.
var stopped coarseClock

func newClock() clock {
	if inBubble(time.Now()) {
		return clock{src: &stopped, exact: true}
	}
	return clock{src: &coarse}
}

// now returns the current time as Unix nanoseconds.
func (c clock) now() int64 {
	// The common case, small enough to be inlined: the coarse copy is
	// kept, and this tick has seen a read already.
	if n := c.src.nanos.Load(); n != 0 && c.src.read.Load() {
		return n
	}
	return c.slowNow()
}

// exactNow returns the current time as Unix nanoseconds, read from the
// system, never from the coarse copy: whatever the scheduler does to the
// coarse clock's goroutine, a verdict judged by it is right at an instant
// within the call that judged it (issue 22: the coarse clock lagged by up
// to 257 ms on a starved 2-core machine, and served entries past their
// windows).
func (c clock) exactNow() int64 {
	if c.exact {
		return time.Now().UnixNano()
	}
	return c.src.exactNow()
}

// exactNowMono returns exactNow, and with it a monotonic time (a duration
// since an origin of the process's) from which, read twice, the time between
// is measured: for a load's duration, with the one read of the clock that
// stamps its start. An exact clock, in a testing/synctest bubble, reads
// both from the bubble's clock.
func (c clock) exactNowMono() (int64, time.Duration) {
	if c.exact {
		n := time.Now().UnixNano()
		return n, time.Duration(n)
	}
	return c.src.exactNowMono()
}

// slowNow is now when the common case does not hold.
func (c clock) slowNow() int64 {
	if c.exact {
		return time.Now().UnixNano()
	}
	return c.src.now()
}
