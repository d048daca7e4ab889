package stats_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/stats"
)

// TestSubGivesWhatHappenedBetweenSnapshots records events, snapshots, records
// more, and checks that the difference of the two snapshots is what a new
// Counter given only the later events reports, histogram included.
func TestSubGivesWhatHappenedBetweenSnapshots(t *testing.T) {
	var c stats.Counter
	failed := errors.New("down")
	c.Record(stats.Hit, 5)
	c.Record(stats.Miss, 2)
	c.RecordLoad(3*time.Millisecond, nil)
	c.RecordLoad(time.Minute, failed) // above the last bound
	before := c.Snapshot()

	var later stats.Counter // the events after before, alone
	for _, r := range []stats.Recorder{&c, &later} {
		// Every event there is, and some there are not, each a different
		// number of times: Sub must leave no field out.
		for e := range stats.Event(64) {
			r.Record(e, 7+int(e))
		}
		r.RecordLoad(200*time.Microsecond, nil)
		r.RecordLoad(3*time.Millisecond, failed)
		r.RecordLoad(2*time.Second, nil)
		r.RecordLoad(time.Minute, nil)
	}

	delta := c.Snapshot().Sub(before)
	assert.Equal(t, later.Snapshot(), delta)
	assert.Equal(t, uint64(7), delta.Hits)
	assert.Equal(t, uint64(4), delta.Loads)
	assert.Equal(t, uint64(1), delta.LoadErrors)
	assert.Equal(t, 200*time.Microsecond+3*time.Millisecond+2*time.Second+time.Minute, delta.LoadTime)
	assert.Equal(t, uint64(1), bucketCount(t, delta, 250*time.Microsecond))
	assert.Equal(t, uint64(2), bucketCount(t, delta, 5*time.Millisecond))
	assert.Equal(t, uint64(3), bucketCount(t, delta, 50*time.Second))
}

func TestSubOfTheZeroStatsIsACopy(t *testing.T) {
	var c stats.Counter
	c.Record(stats.Hit, 3)
	c.RecordLoad(time.Millisecond, nil)
	s := c.Snapshot()

	d := s.Sub(stats.Stats{})
	assert.Equal(t, s, d)
	d.LoadBuckets[0].Count = 99
	assert.NotEqual(t, uint64(99), s.LoadBuckets[0].Count, "the result shares no memory with s")

	assert.Equal(t, stats.Stats{}, stats.Stats{}.Sub(stats.Stats{}), "no buckets in, none out")
	assert.Zero(t, s.Sub(s).Hits)
}

// TestSubNeverWrapsAround passes the snapshots in the wrong order: every
// count is 0, never a huge number.
func TestSubNeverWrapsAround(t *testing.T) {
	var c stats.Counter
	before := c.Snapshot()
	c.Record(stats.Hit, 1)
	c.Record(stats.Panic, 2)
	c.RecordLoad(time.Second, errors.New("down"))
	after := c.Snapshot()

	d := before.Sub(after)
	assert.Equal(t, withoutBuckets(stats.Stats{}), withoutBuckets(d))
	require.Len(t, d.LoadBuckets, len(before.LoadBuckets))
	for _, b := range d.LoadBuckets {
		assert.Zero(t, b.Count, "bucket %v", b.UpperBound)
	}
}

// TestSubOfHandBuiltStats covers Stats built by hand: buckets matched by
// their bound wherever they sit, a bucket missing from old counted as empty,
// and a LoadTime difference too large for a Duration held at the largest.
func TestSubOfHandBuiltStats(t *testing.T) {
	s := stats.Stats{
		LoadTime: time.Duration(math.MaxInt64),
		LoadBuckets: []stats.Bucket{
			{UpperBound: time.Millisecond, Count: 5},
			{UpperBound: time.Second, Count: 9},
		},
	}
	old := stats.Stats{
		LoadTime: -time.Second,
		LoadBuckets: []stats.Bucket{
			{UpperBound: time.Second, Count: 4},
		},
	}
	d := s.Sub(old)
	assert.Equal(t, time.Duration(math.MaxInt64), d.LoadTime)
	assert.Equal(t, []stats.Bucket{
		{UpperBound: time.Millisecond, Count: 5},
		{UpperBound: time.Second, Count: 5},
	}, d.LoadBuckets)

	assert.Nil(t, stats.Stats{Hits: 1}.Sub(old).LoadBuckets, "no buckets in s, none in the result")
}

func ExampleStats_Sub() {
	var counter stats.Counter
	counter.Record(stats.Hit, 10)
	before := counter.Snapshot()

	// ... an interval of serving ...
	counter.Record(stats.Hit, 3)
	counter.Record(stats.Miss, 1)
	counter.RecordLoad(2*time.Millisecond, nil)

	delta := counter.Snapshot().Sub(before)
	fmt.Printf("hits %d, misses %d, loads %d, hit ratio %.2f\n", delta.Hits, delta.Misses, delta.Loads, delta.HitRatio())
	// Output: hits 3, misses 1, loads 1, hit ratio 0.75
}
