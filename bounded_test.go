package flightcache

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/stats"
)

// TestPerKeyStateStaysBoundedOverMillionsOfKeys reads 2 million distinct
// stale keys (300,000 under the race detector), half of whose background
// refreshes fail: the refresher's memory of backing-off keys stays bounded,
// the heap stays flat, and once the work is done no per-key state is left.
func TestPerKeyStateStaysBoundedOverMillionsOfKeys(t *testing.T) {
	n := 2_000_000
	if raceEnabled || testing.Short() {
		n = 300_000
	}
	rec := new(stats.Counter)
	l, err := New[string, string](staleStore, &Options{FreshFor: time.Minute, StaleFor: time.Hour, Recorder: rec})
	require.NoError(t, err)
	l.rep.logger = discardLogger()
	errOdd := errors.New("odd keys fail")
	load := func(_ context.Context, key string) (string, error) {
		if key[len(key)-1]%2 == 1 {
			return "", errOdd
		}
		return "new", nil
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var base uint64
	peak := 0
	// Reads go on past n until twice as many refreshes as the throttle
	// remembers have failed (how many reads find a free refresh slot
	// depends on the machine), at most 4n.
	reads := 0
	for i := 0; i < 4*n; i++ {
		reads++
		if i == n/10 {
			base = heap()
		}
		v, err := l.GetOrLoad(context.Background(), "key-"+strconv.Itoa(i), load)
		require.NoError(t, err)
		require.Equal(t, "old", v)
		if i%1000 == 0 {
			peak = max(peak, l.refresh.running.Size()+l.fill.throttle.keys.Size())
			if i >= n && rec.Snapshot().RefreshErrors > 2*maxThrottledKeys {
				break
			}
		}
	}
	grown := int64(heap()) - int64(base)
	require.NoError(t, l.Close())

	s := rec.Snapshot()
	t.Logf("%d keys: %d refreshes, %d failed; at most %d keys remembered; heap grew %d bytes", reads, s.Refreshes, s.RefreshErrors, peak, grown)
	assert.Greater(t, s.RefreshErrors, uint64(2*maxThrottledKeys), "enough failures to test the bound")
	assert.LessOrEqual(t, peak, maxThrottledKeys+DefaultMaxRefreshes, "keys remembered by the refresher and the throttle")
	assert.Less(t, grown, int64(16<<20), "heap growth over %d keys: %d bytes", n, grown)
	assert.Zero(t, l.writes.size(), "write order entries left")
	assert.Zero(t, l.refresh.slots.Load(), "refresh slots held")
	assert.Zero(t, l.refresh.running.Size(), "keys marked as refreshing")
	assert.LessOrEqual(t, l.fill.throttle.keys.Size(), maxThrottledKeys, "only keys backing off are remembered")
	assert.Equal(t, int64(l.fill.throttle.keys.Size()), l.fill.throttle.size.Load(), "the throttle's count")
}

// TestKeysThatDoNotEqualThemselvesLeaveNothingBehind: a NaN key is refused
// before it reaches any map.
func TestKeysThatDoNotEqualThemselvesLeaveNothingBehind(t *testing.T) {
	l, err := New[float64, string](newMapStore[float64, string](), &Options{FreshFor: time.Minute, StaleFor: time.Hour})
	require.NoError(t, err)
	defer l.Close()
	load := func(context.Context, float64) (string, error) { return "v", nil }
	for range 100 {
		_, err := l.GetOrLoad(context.Background(), math.NaN(), load)
		assert.ErrorIs(t, err, ErrInvalidKey)
		_, err = l.GetOrLoadMany(context.Background(), []float64{1, math.NaN()}, func(context.Context, []float64) (map[float64]string, error) { return nil, nil })
		assert.ErrorIs(t, err, ErrInvalidKey)
		assert.ErrorIs(t, l.Set(context.Background(), math.NaN(), "v"), ErrInvalidKey)
		assert.ErrorIs(t, l.Invalidate(context.Background(), math.NaN()), ErrInvalidKey)
	}
	assert.Zero(t, l.writes.size())
	assert.Zero(t, l.refresh.running.Size())
	assert.Zero(t, l.fill.throttle.keys.Size())
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
