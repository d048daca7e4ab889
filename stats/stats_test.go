package stats_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache/stats"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bucketCount returns the cumulative count of the bucket of s whose upper
// bound is bound, failing the test when there is none.
func bucketCount(t *testing.T, s stats.Stats, bound time.Duration) uint64 {
	t.Helper()
	for _, b := range s.LoadBuckets {
		if b.UpperBound == bound {
			return b.Count
		}
	}
	require.Failf(t, "no such bucket", "no bucket with upper bound %v", bound)
	return 0
}

// withoutBuckets returns s with LoadBuckets cleared, to compare the counters
// alone.
func withoutBuckets(s stats.Stats) stats.Stats {
	s.LoadBuckets = nil
	return s
}

func TestCounterZeroValueCountsEveryEvent(t *testing.T) {
	var c stats.Counter
	assert.Equal(t, stats.Stats{}, withoutBuckets(c.Snapshot()))

	events := map[stats.Event]int{
		stats.Hit: 1, stats.Miss: 2, stats.MissingHit: 3, stats.StaleHit: 4, stats.Coalesced: 5,
		stats.Refresh: 6, stats.RefreshError: 7, stats.StoreError: 8, stats.Panic: 9, stats.KeysLoaded: 10,
		stats.Throttled: 11, stats.Expire: 12, stats.TagInvalidation: 13, stats.Clear: 14, stats.Peek: 15,
		stats.PeekHit: 16,
	}
	for e, n := range events {
		c.Record(e, n)
	}
	c.RecordLoad(2*time.Millisecond, nil)
	c.RecordLoad(3*time.Millisecond, errors.New("down"))

	s := c.Snapshot()
	assert.Equal(t, stats.Stats{
		Hits: 1, Misses: 2, MissingHits: 3, StaleHits: 4, Coalesced: 5,
		Refreshes: 6, RefreshErrors: 7, StoreErrors: 8, Panics: 9, KeysLoaded: 10,
		Throttled: 11, Expires: 12, TagInvalidations: 13, Clears: 14, Peeks: 15, PeekHits: 16,
		Loads: 2, LoadErrors: 1, LoadTime: 5 * time.Millisecond,
	}, withoutBuckets(s))
	assert.Zero(t, bucketCount(t, s, time.Millisecond))
	assert.Equal(t, uint64(1), bucketCount(t, s, 2500*time.Microsecond))
	assert.Equal(t, uint64(2), bucketCount(t, s, 5*time.Millisecond))
	assert.Equal(t, uint64(2), bucketCount(t, s, 50*time.Second))
}

func TestCounterIgnoresUnknownEventsAndNonPositiveCounts(t *testing.T) {
	var c stats.Counter
	c.Record(stats.Event(200), 1)
	c.Record(stats.Hit, 0)
	c.Record(stats.Hit, -3)
	assert.Equal(t, stats.Stats{}, withoutBuckets(c.Snapshot()))
}

func TestLoadBucketBounds(t *testing.T) {
	bounds := stats.LoadBucketBounds()
	require.Len(t, bounds, 18)
	assert.Equal(t, 100*time.Microsecond, bounds[0])
	assert.Equal(t, 50*time.Second, bounds[len(bounds)-1])
	for i := 1; i < len(bounds); i++ {
		assert.Greater(t, bounds[i], bounds[i-1], "bounds increase")
	}

	bounds[0] = time.Hour
	assert.Equal(t, 100*time.Microsecond, stats.LoadBucketBounds()[0], "the caller gets a copy")
}

func TestZeroCounterSnapshotHasEveryBucketEmpty(t *testing.T) {
	var c stats.Counter
	s := c.Snapshot()
	require.Len(t, s.LoadBuckets, len(stats.LoadBucketBounds()))
	for i, bound := range stats.LoadBucketBounds() {
		assert.Equal(t, stats.Bucket{UpperBound: bound}, s.LoadBuckets[i])
	}
}

func TestCounterSortsLoadsIntoCumulativeBuckets(t *testing.T) {
	var c stats.Counter
	for _, d := range []time.Duration{
		0,
		100 * time.Microsecond, // a bound belongs to its own bucket
		100*time.Microsecond + 1,
		time.Millisecond,
		7 * time.Millisecond,
		49 * time.Second,
		50 * time.Second,
		50*time.Second + 1, // above every bound: counted only in Loads
		time.Hour,
	} {
		c.RecordLoad(d, nil)
	}

	s := c.Snapshot()
	assert.Equal(t, uint64(9), s.Loads)
	want := map[time.Duration]uint64{
		100 * time.Microsecond:  2,
		250 * time.Microsecond:  3,
		500 * time.Microsecond:  3,
		time.Millisecond:        4,
		2500 * time.Microsecond: 4,
		5 * time.Millisecond:    4,
		10 * time.Millisecond:   5,
		25 * time.Second:        5,
		50 * time.Second:        7,
	}
	for bound, n := range want {
		assert.Equal(t, n, bucketCount(t, s, bound), "bucket %v", bound)
	}
	for i := 1; i < len(s.LoadBuckets); i++ {
		assert.GreaterOrEqual(t, s.LoadBuckets[i].Count, s.LoadBuckets[i-1].Count, "counts are cumulative")
	}
}

func TestNegativeLoadTimeCountsAsZero(t *testing.T) {
	var c stats.Counter
	c.RecordLoad(time.Millisecond, nil)
	c.RecordLoad(-time.Hour, nil)
	s := c.Snapshot()
	assert.Equal(t, time.Millisecond, s.LoadTime, "the sum never decreases")
	assert.Equal(t, uint64(2), s.Loads)
	assert.Equal(t, uint64(1), bucketCount(t, s, 100*time.Microsecond))
}

func TestSnapshotsDoNotShareBuckets(t *testing.T) {
	var c stats.Counter
	c.RecordLoad(time.Millisecond, nil)
	first := c.Snapshot()
	first.LoadBuckets[0].Count = 99
	first.LoadBuckets[3].UpperBound = 0

	second := c.Snapshot()
	assert.Zero(t, second.LoadBuckets[0].Count)
	assert.Equal(t, stats.Bucket{UpperBound: time.Millisecond, Count: 1}, second.LoadBuckets[3])
}

func TestCounterIsExactUnderConcurrency(t *testing.T) {
	var c stats.Counter
	var wg sync.WaitGroup
	failed := errors.New("down")
	for range 8 {
		wg.Go(func() {
			for i := range 10_000 {
				c.Record(stats.Hit, 1)
				var err error
				if i%10 == 0 {
					err = failed
				}
				c.RecordLoad(time.Millisecond, err)
			}
		})
	}
	wg.Wait()
	s := c.Snapshot()
	assert.Equal(t, uint64(80_000), s.Hits)
	assert.Equal(t, uint64(80_000), s.Loads)
	assert.Equal(t, uint64(8_000), s.LoadErrors)
	assert.Equal(t, 80_000*time.Millisecond, s.LoadTime)
	assert.Zero(t, bucketCount(t, s, 500*time.Microsecond))
	assert.Equal(t, uint64(80_000), bucketCount(t, s, time.Millisecond))
}

// TestCountsNeverDecrease takes snapshots while other goroutines record, and
// checks that no count of a snapshot is below the same count of the one
// before, that each snapshot's histogram agrees with its Loads, and that its
// LoadErrors never exceed its Loads.
func TestCountsNeverDecrease(t *testing.T) {
	var c stats.Counter
	failed := errors.New("down")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c.Record(stats.Hit, 1)
				c.Record(stats.Miss, 1)
				c.RecordLoad(time.Duration(i%7+w)*time.Millisecond, failed)
			}
		})
	}

	prev := c.Snapshot()
	for range 2_000 {
		s := c.Snapshot()
		require.GreaterOrEqual(t, s.Hits, prev.Hits)
		require.GreaterOrEqual(t, s.Misses, prev.Misses)
		require.GreaterOrEqual(t, s.Loads, prev.Loads)
		require.GreaterOrEqual(t, s.LoadTime, prev.LoadTime)
		require.Len(t, s.LoadBuckets, len(prev.LoadBuckets))
		for i, b := range s.LoadBuckets {
			require.GreaterOrEqual(t, b.Count, prev.LoadBuckets[i].Count)
			if i > 0 {
				require.GreaterOrEqual(t, b.Count, s.LoadBuckets[i-1].Count)
			}
		}
		require.GreaterOrEqual(t, s.Loads, s.LoadBuckets[len(s.LoadBuckets)-1].Count)
		require.LessOrEqual(t, s.LoadErrors, s.Loads, "every error is of a load counted")
		prev = s
	}
	close(stop)
	wg.Wait()
}

func TestHitRatio(t *testing.T) {
	assert.Zero(t, stats.Stats{}.HitRatio())
	assert.InDelta(t, 0.75, stats.Stats{Hits: 2, StaleHits: 1, Misses: 1}.HitRatio(), 1e-9)
}

// BenchmarkCounterHit is the cost a Counter adds to a hit, with every core
// recording at once.
func BenchmarkCounterHit(b *testing.B) {
	var c stats.Counter
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Record(stats.Hit, 1)
		}
	})
}

// BenchmarkCounterLoad is the cost a Counter adds to a load, latency bucket
// included, with every core recording at once.
func BenchmarkCounterLoad(b *testing.B) {
	var c stats.Counter
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(0)
		for pb.Next() {
			c.RecordLoad(d, nil)
			d = (d + 7*time.Millisecond) % (2 * time.Second)
		}
	})
}
