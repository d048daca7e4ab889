package stats_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache/stats"
)

func TestCounterZeroValueCountsEveryEvent(t *testing.T) {
	var c stats.Counter
	assert.Equal(t, stats.Stats{}, c.Snapshot())

	events := map[stats.Event]int{
		stats.Hit: 1, stats.Miss: 2, stats.MissingHit: 3, stats.StaleHit: 4, stats.Coalesced: 5,
		stats.Refresh: 6, stats.RefreshError: 7, stats.StoreError: 8, stats.Panic: 9, stats.KeysLoaded: 10,
	}
	for e, n := range events {
		c.Record(e, n)
	}
	c.RecordLoad(2*time.Millisecond, nil)
	c.RecordLoad(3*time.Millisecond, errors.New("down"))

	assert.Equal(t, stats.Stats{
		Hits: 1, Misses: 2, MissingHits: 3, StaleHits: 4, Coalesced: 5,
		Refreshes: 6, RefreshErrors: 7, StoreErrors: 8, Panics: 9, KeysLoaded: 10,
		Loads: 2, LoadErrors: 1, LoadTime: 5 * time.Millisecond,
	}, c.Snapshot())
}

func TestCounterIgnoresUnknownEventsAndNonPositiveCounts(t *testing.T) {
	var c stats.Counter
	c.Record(stats.Event(200), 1)
	c.Record(stats.Hit, 0)
	c.Record(stats.Hit, -3)
	assert.Equal(t, stats.Stats{}, c.Snapshot())
}

func TestCounterIsExactUnderConcurrency(t *testing.T) {
	var c stats.Counter
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10_000 {
				c.Record(stats.Hit, 1)
				c.RecordLoad(time.Nanosecond, nil)
			}
		})
	}
	wg.Wait()
	s := c.Snapshot()
	assert.Equal(t, uint64(80_000), s.Hits)
	assert.Equal(t, uint64(80_000), s.Loads)
	assert.Equal(t, 80_000*time.Nanosecond, s.LoadTime)
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
