package stats

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"
)

// Event is one kind of thing a Loader counts, reported to [Recorder.Record].
type Event uint8

// The events a Loader records. Each event adds to the [Stats] field of the
// same name (Hit to Hits, and so on).
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
	// Throttled is a call that found its key's loads throttled after a
	// failure (Options.FailureBackoff) and had no old value to fall back
	// on: it got the last load's error without a load.
	Throttled
	// Expire is a Loader.Expire that made an entry stale.
	Expire
	// TagInvalidation is a Loader.InvalidateTag that took effect.
	TagInvalidation
	// Clear is a Loader.Clear that took effect.
	Clear
	// Peek is a Loader.Peek.
	Peek
	// PeekHit is a Loader.Peek that found a value (or a cached "not
	// found") a read would serve.
	PeekHit

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

// Stats is a snapshot of a [Counter], returned by [Counter.Snapshot]. Every
// count only ever increases, as a Prometheus counter does: a Counter is never
// reset, so the difference between two snapshots of one Counter, which
// [Stats.Sub] computes, is what happened in between.
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
	Throttled     uint64 // calls refused a load by the failure throttle

	Expires          uint64 // Expire calls that made an entry stale
	TagInvalidations uint64 // InvalidateTag calls that took effect
	Clears           uint64 // Clear calls that took effect
	Peeks            uint64 // Peek calls
	PeekHits         uint64 // Peek calls that found what a read would serve

	// LoadBuckets is the histogram of load latencies: one [Bucket] for each
	// of [LoadBucketBounds], in increasing order, each counting the loads that
	// took at most its UpperBound (cumulative counts, as in a Prometheus
	// histogram). Loads is the implicit last bucket, with no upper bound,
	// and is never less than the count of any bucket in the same snapshot.
	// A Snapshot always fills it in; it is nil only in a Stats built by hand.
	LoadBuckets []Bucket
}

// Bucket is one bucket of the load-latency histogram in [Stats.LoadBuckets].
type Bucket struct {
	// UpperBound is the bucket's inclusive upper bound.
	UpperBound time.Duration
	// Count is the number of loads that took at most UpperBound, including
	// those counted by the buckets below this one.
	Count uint64
}

// loadBounds are the upper bounds of the load-latency buckets: 1-2.5-5 steps
// from 100µs to 50s, so that both a cache in front of a local key-value
// store and one in front of a slow report query get a useful resolution.
// A load that runs into the default LoadTimeout of 30s lands in the last one.
var loadBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	1 * time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	1 * time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 25 * time.Second, 50 * time.Second,
}

// numLoadBuckets is how many buckets a stripe counts loads in: one for each
// bound, and one for loads slower than the last bound.
const numLoadBuckets = len(loadBounds) + 1

// LoadBucketBounds returns the upper bounds of the buckets in
// [Stats.LoadBuckets], in increasing order. They are the same for every
// [Counter]; an exporter can use them to declare its histogram before the
// first snapshot. The caller may modify the returned slice.
func LoadBucketBounds() []time.Duration {
	return append([]time.Duration(nil), loadBounds[:]...)
}

// loadBucket returns the index of the bucket that counts a load that took
// elapsed: the first bucket whose bound is at least elapsed.
func loadBucket(elapsed time.Duration) int {
	for i, b := range loadBounds {
		if elapsed <= b {
			return i
		}
	}
	return len(loadBounds)
}

// Sub returns what happened between the snapshot old and the snapshot s of
// the same [Counter]: each count of s less the same count of old, and each
// bucket of s.LoadBuckets less the bucket of old.LoadBuckets with the same
// UpperBound (a bucket that old lacks counts as empty there). The result
// shares no memory with s or old, and its LoadBuckets is nil only when
// s.LoadBuckets is.
//
// A count of old above the same count of s (snapshots swapped, or taken
// from different Counters) gives 0 for that count rather than wrapping
// around. Sub(Stats{}) returns a copy of s.
//
//	before := counter.Snapshot()
//	// ... serve requests ...
//	delta := counter.Snapshot().Sub(before)
//	log.Printf("hit ratio %.2f over %d loads", delta.HitRatio(), delta.Loads)
func (s Stats) Sub(old Stats) Stats {
	d := Stats{
		Hits:          sub(s.Hits, old.Hits),
		Misses:        sub(s.Misses, old.Misses),
		MissingHits:   sub(s.MissingHits, old.MissingHits),
		StaleHits:     sub(s.StaleHits, old.StaleHits),
		Coalesced:     sub(s.Coalesced, old.Coalesced),
		Loads:         sub(s.Loads, old.Loads),
		KeysLoaded:    sub(s.KeysLoaded, old.KeysLoaded),
		LoadErrors:    sub(s.LoadErrors, old.LoadErrors),
		LoadTime:      subDuration(s.LoadTime, old.LoadTime),
		Refreshes:     sub(s.Refreshes, old.Refreshes),
		RefreshErrors: sub(s.RefreshErrors, old.RefreshErrors),
		StoreErrors:   sub(s.StoreErrors, old.StoreErrors),
		Panics:        sub(s.Panics, old.Panics),
		Throttled:     sub(s.Throttled, old.Throttled),

		Expires:          sub(s.Expires, old.Expires),
		TagInvalidations: sub(s.TagInvalidations, old.TagInvalidations),
		Clears:           sub(s.Clears, old.Clears),
		Peeks:            sub(s.Peeks, old.Peeks),
		PeekHits:         sub(s.PeekHits, old.PeekHits),
	}
	if s.LoadBuckets != nil {
		d.LoadBuckets = make([]Bucket, len(s.LoadBuckets))
		for i, b := range s.LoadBuckets {
			d.LoadBuckets[i] = Bucket{UpperBound: b.UpperBound, Count: sub(b.Count, bucketCount(old.LoadBuckets, i, b.UpperBound))}
		}
	}
	return d
}

// sub returns a-b, or 0 when b is larger.
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// subDuration returns a-b, 0 when b is larger, and the longest Duration
// when a-b does not fit in one.
func subDuration(a, b time.Duration) time.Duration {
	if b >= a {
		return 0
	}
	if d := a - b; d > 0 {
		return d
	}
	return math.MaxInt64
}

// bucketCount returns the count of the bucket of buckets whose upper bound
// is bound, looking first at index i, where it is when both snapshots come
// from Counters; 0 when there is none.
func bucketCount(buckets []Bucket, i int, bound time.Duration) uint64 {
	if i < len(buckets) && buckets[i].UpperBound == bound {
		return buckets[i].Count
	}
	for _, b := range buckets {
		if b.UpperBound == bound {
			return b.Count
		}
	}
	return 0
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

// stripeWords is the size of a stripe's counters in 8-byte words.
const stripeWords = int(numEvents) + 2 + numLoadBuckets

// A stripe holds one copy of every counter, padded to whole cache lines. It
// keeps no count of loads: the loads are the sum of its load buckets, so that
// a snapshot's Loads and LoadBuckets always agree.
type stripe struct {
	events      [numEvents]atomic.Uint64
	loadErrors  atomic.Uint64
	loadNanos   atomic.Int64
	loadBuckets [numLoadBuckets]atomic.Uint64 // per bucket, not cumulative
	// Never empty: a zero-size last field would be padded to a word.
	_ [128 - stripeWords*8%128]byte
}

// Counter is a [Recorder] that counts every [Event], and every load in a
// [Bucket] of its latency. Its zero value is ready to use; it must not be copied after
// first use. All methods are safe for concurrent use.
//
// A Counter is never reset: each count only grows, which is what exporters
// of counters to Prometheus or OpenTelemetry expect. To measure an interval,
// subtract the snapshot taken at its start from the one taken at its end
// with [Stats.Sub].
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

// RecordLoad counts one load, in the bucket of its latency, adds elapsed to
// the time spent in loads, and counts one load error when err is not nil. A
// negative elapsed counts as 0, so that LoadTime never decreases.
func (c *Counter) RecordLoad(elapsed time.Duration, err error) {
	elapsed = max(elapsed, 0)
	s := c.stripe()
	s.loadBuckets[loadBucket(elapsed)].Add(1)
	s.loadNanos.Add(int64(elapsed))
	if err != nil {
		s.loadErrors.Add(1)
	}
}

// Snapshot adds the stripes up into a [Stats]. Counts recorded while it runs may or may not
// be included, but Loads always equals the loads counted in LoadBuckets and
// above their last bound, and LoadErrors never exceeds Loads. Each call
// returns a new LoadBuckets slice.
func (c *Counter) Snapshot() Stats {
	var ev [numEvents]uint64
	var buckets [numLoadBuckets]uint64
	var st Stats
	for i := range c.s {
		s := &c.s[i]
		for e := range ev {
			ev[e] += s.events[e].Load()
		}
		// RecordLoad adds to a bucket before it adds the error: reading
		// the errors first keeps LoadErrors within Loads.
		st.LoadErrors += s.loadErrors.Load()
		st.LoadTime += time.Duration(s.loadNanos.Load())
		for b := range buckets {
			buckets[b] += s.loadBuckets[b].Load()
		}
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
	st.Throttled = ev[Throttled]
	st.Expires = ev[Expire]
	st.TagInvalidations = ev[TagInvalidation]
	st.Clears = ev[Clear]
	st.Peeks = ev[Peek]
	st.PeekHits = ev[PeekHit]

	st.LoadBuckets = make([]Bucket, len(loadBounds))
	var cumulative uint64
	for i, bound := range loadBounds {
		cumulative += buckets[i]
		st.LoadBuckets[i] = Bucket{UpperBound: bound, Count: cumulative}
	}
	st.Loads = cumulative + buckets[len(loadBounds)]
	return st
}

var _ Recorder = (*Counter)(nil)
