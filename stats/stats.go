package stats

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// Event is one kind of thing a Loader counts.
type Event uint8

// The events a Loader records. Each event adds to the Stats field of the same
// name.
const (
	// Hit is a read served from the store while fresh.
	Hit Event = iota
	// Miss is a read that found nothing servable and waited for a load.
	Miss
	// MissingHit is a read served by a cached "not found" answer.
	MissingHit
	// StaleHit is a read served a value past its freshness.
	StaleHit
	// Coalesced is a caller that joined a load in flight instead of
	// starting one.
	Coalesced
	// Refresh is a background refresh started.
	Refresh
	// RefreshError is a background refresh that failed.
	RefreshError
	// StoreError is a failed Store call.
	StoreError
	// Panic is a load that panicked.
	Panic
	// KeysLoaded is keys asked of the source: one for each load of one key,
	// and every key of a batch load.
	KeysLoaded

	numEvents
)

// Recorder receives a Loader's events. Implementations must be safe for
// concurrent use and cheap: Record is called on the hit path.
type Recorder interface {
	// Record adds n occurrences of e.
	Record(e Event, n int)
	// RecordLoad reports one call of the source that took elapsed and
	// failed with err, or succeeded when err is nil. A load that said the
	// key does not exist has succeeded.
	RecordLoad(elapsed time.Duration, err error)
}

// Stats is a snapshot of a Counter. Every field only ever increases.
type Stats struct {
	Hits          uint64
	Misses        uint64
	MissingHits   uint64
	StaleHits     uint64
	Coalesced     uint64        // callers (or keys of a batch) that joined a load in flight
	Loads         uint64        // calls of the source, refreshes and batches included
	KeysLoaded    uint64        // keys asked of the source
	LoadErrors    uint64        // loads that failed
	LoadTime      time.Duration // time spent in loads, summed
	Refreshes     uint64
	RefreshErrors uint64
	StoreErrors   uint64
	Panics        uint64
}

// HitRatio is the share of reads served from the store, stale or not,
// including cached "not found" answers. It is 0 before the first read.
func (s Stats) HitRatio() float64 {
	served := s.Hits + s.MissingHits + s.StaleHits
	if served+s.Misses == 0 {
		return 0
	}
	return float64(served) / float64(served+s.Misses)
}

// stripes is how many copies of the counters a Counter keeps, so that cores
// counting at once rarely share a cache line.
const (
	stripeBits = 4
	stripes    = 1 << stripeBits
)

// A stripe holds one copy of every counter, padded to whole cache lines.
type stripe struct {
	events     [numEvents]atomic.Uint64
	loads      atomic.Uint64
	loadErrors atomic.Uint64
	loadNanos  atomic.Int64
	_          [128 - (int(numEvents)+3)*8%128]byte
}

// Counter is a Recorder that counts every event. Its zero value is ready to
// use; it must not be copied after first use. All methods are safe for
// concurrent use.
type Counter struct {
	s [stripes]stripe
}

// stripe picks a stripe from the address of the calling goroutine's stack:
// goroutines running at once have distinct stacks, and so mostly distinct
// stripes, and reading an address costs far less than a random number.
func (c *Counter) stripe() *stripe {
	var onStack byte
	h := uint64(uintptr(unsafe.Pointer(&onStack))>>10) * 0x9e3779b97f4a7c15
	return &c.s[h>>(64-stripeBits)]
}

// Record adds n occurrences of e. Unknown events and n <= 0 are ignored.
func (c *Counter) Record(e Event, n int) {
	if e >= numEvents || n <= 0 {
		return
	}
	c.stripe().events[e].Add(uint64(n))
}

// RecordLoad counts one load, and one load error when err is not nil.
func (c *Counter) RecordLoad(elapsed time.Duration, err error) {
	s := c.stripe()
	s.loads.Add(1)
	s.loadNanos.Add(int64(elapsed))
	if err != nil {
		s.loadErrors.Add(1)
	}
}

// Snapshot adds the stripes up. Counts recorded while it runs may or may not
// be included.
func (c *Counter) Snapshot() Stats {
	var ev [numEvents]uint64
	var st Stats
	for i := range c.s {
		s := &c.s[i]
		for e := range ev {
			ev[e] += s.events[e].Load()
		}
		st.Loads += s.loads.Load()
		st.LoadErrors += s.loadErrors.Load()
		st.LoadTime += time.Duration(s.loadNanos.Load())
	}
	st.Hits = ev[Hit]
	st.Misses = ev[Miss]
	st.MissingHits = ev[MissingHit]
	st.StaleHits = ev[StaleHit]
	st.Coalesced = ev[Coalesced]
	st.Refreshes = ev[Refresh]
	st.RefreshErrors = ev[RefreshError]
	st.StoreErrors = ev[StoreError]
	st.Panics = ev[Panic]
	st.KeysLoaded = ev[KeysLoaded]
	return st
}

var _ Recorder = (*Counter)(nil)
