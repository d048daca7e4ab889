package ristrettostore

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// gate admits calls until it is closed, and lets close wait until every call
// it admitted has left. It does the work of a sync.RWMutex held for reading
// by calls and for writing by close, without making every call write to one
// shared word, which on a machine with many cores costs more than
// ristretto's Get itself: a call counts itself on one of gateStripes
// counters, chosen by the address of the calling goroutine's stack, so that
// goroutines mostly keep to counters of their own.
//
// The zero gate is open and ready to use.
type gate struct {
	closed  atomic.Bool
	stripes [gateStripes]stripe
}

// gateStripes is the number of counters of a gate: enough that the
// goroutines running at once on a machine with dozens of cores rarely share
// one. A shared counter is only slower, never wrong.
const (
	gateBits    = 6
	gateStripes = 1 << gateBits
)

// stripe is the number of admitted calls that took it and have not left. It
// fills a cache line, so that stripes do not share one.
type stripe struct {
	n atomic.Int64
	_ [56]byte
}

// stripeOf picks the stripe for the calling goroutine from the address of a
// variable on its stack. Goroutines' stacks lie at least 2 KiB apart, while
// one goroutine's calls mostly sit within 2 KiB of each other, so the bits
// above the 11th tell goroutines apart; a multiplicative hash spreads them.
// The address is used as a number only, and read once: a call keeps the
// stripe it entered on.
func stripeOf() int {
	var probe byte
	addr := uint64(uintptr(unsafe.Pointer(&probe)))
	return int((addr >> 11) * 0x9E3779B97F4A7C15 >> (64 - gateBits))
}

// enter admits a call and returns the stripe to give back to leave, or
// returns nil if the gate is closed.
//
// enter increments its stripe before it reads closed, and close sets closed
// before it reads the stripes; sync/atomic's operations are sequentially
// consistent, so either enter sees closed or close sees the increment.
func (g *gate) enter() *stripe {
	s := &g.stripes[stripeOf()]
	s.n.Add(1)
	if g.closed.Load() {
		s.n.Add(-1)
		return nil
	}
	return s
}

// leave ends a call admitted by enter.
func (g *gate) leave(s *stripe) {
	s.n.Add(-1)
}

// close closes the gate and waits, yielding the processor, until every call
// it admitted has left. It reports whether the gate was open. Calls are
// short, so the wait is too.
func (g *gate) close() bool {
	if g.closed.Swap(true) {
		return false
	}
	for i := range g.stripes {
		for g.stripes[i].n.Load() != 0 {
			runtime.Gosched()
		}
	}
	return true
}
