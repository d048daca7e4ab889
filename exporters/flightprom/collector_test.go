package flightprom_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/exporters/flightprom"
	"github.com/flightcache/flightcache/stats"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// counterNames are the names of every counter a Collector reports.
var counterNames = []string{
	"flightcache_hits_total",
	"flightcache_misses_total",
	"flightcache_missing_hits_total",
	"flightcache_stale_hits_total",
	"flightcache_coalesced_total",
	"flightcache_loads_total",
	"flightcache_load_errors_total",
	"flightcache_keys_loaded_total",
	"flightcache_refreshes_total",
	"flightcache_refresh_errors_total",
	"flightcache_store_errors_total",
	"flightcache_panics_total",
	"flightcache_throttled_total",
	"flightcache_expires_total",
	"flightcache_tag_invalidations_total",
	"flightcache_clears_total",
	"flightcache_peeks_total",
	"flightcache_peek_hits_total",
}

// fixed returns a snapshot function that always returns s.
func fixed(s stats.Stats) func() stats.Stats {
	return func() stats.Stats { return s }
}

// TestCollectorReportsEveryField gives each field of the snapshot a value of
// its own, so that a field reported under the wrong name shows.
func TestCollectorReportsEveryField(t *testing.T) {
	c := flightprom.New("users", fixed(stats.Stats{
		Hits: 1, Misses: 2, MissingHits: 3, StaleHits: 4, Coalesced: 5,
		Loads: 6, KeysLoaded: 7, LoadErrors: 8, LoadTime: 1500 * time.Millisecond,
		Refreshes: 9, RefreshErrors: 10, StoreErrors: 11, Panics: 12, Throttled: 13,
		Expires: 14, TagInvalidations: 15, Clears: 16, Peeks: 17, PeekHits: 18,
		LoadBuckets: []stats.Bucket{
			{UpperBound: 250 * time.Microsecond, Count: 1},
			{UpperBound: 500 * time.Millisecond, Count: 4},
			{UpperBound: 2 * time.Second, Count: 5},
		},
	}))

	const want = `
# HELP flightcache_hits_total Reads served from the store while fresh.
# TYPE flightcache_hits_total counter
flightcache_hits_total{name="users"} 1
# HELP flightcache_misses_total Reads that found nothing servable and waited for a load.
# TYPE flightcache_misses_total counter
flightcache_misses_total{name="users"} 2
# HELP flightcache_missing_hits_total Reads served by a cached "not found" answer.
# TYPE flightcache_missing_hits_total counter
flightcache_missing_hits_total{name="users"} 3
# HELP flightcache_stale_hits_total Reads served a value past its freshness.
# TYPE flightcache_stale_hits_total counter
flightcache_stale_hits_total{name="users"} 4
# HELP flightcache_coalesced_total Callers, or keys of a batch, that joined a load in flight instead of starting one.
# TYPE flightcache_coalesced_total counter
flightcache_coalesced_total{name="users"} 5
# HELP flightcache_loads_total Calls of the source, refreshes and batches included.
# TYPE flightcache_loads_total counter
flightcache_loads_total{name="users"} 6
# HELP flightcache_keys_loaded_total Keys asked of the source.
# TYPE flightcache_keys_loaded_total counter
flightcache_keys_loaded_total{name="users"} 7
# HELP flightcache_load_errors_total Calls of the source that failed.
# TYPE flightcache_load_errors_total counter
flightcache_load_errors_total{name="users"} 8
# HELP flightcache_refreshes_total Background refreshes started.
# TYPE flightcache_refreshes_total counter
flightcache_refreshes_total{name="users"} 9
# HELP flightcache_refresh_errors_total Background refreshes that failed.
# TYPE flightcache_refresh_errors_total counter
flightcache_refresh_errors_total{name="users"} 10
# HELP flightcache_store_errors_total Store calls that failed.
# TYPE flightcache_store_errors_total counter
flightcache_store_errors_total{name="users"} 11
# HELP flightcache_panics_total Loads that panicked.
# TYPE flightcache_panics_total counter
flightcache_panics_total{name="users"} 12
# HELP flightcache_throttled_total Calls refused a load by the failure throttle.
# TYPE flightcache_throttled_total counter
flightcache_throttled_total{name="users"} 13
# HELP flightcache_expires_total Expire calls that made an entry stale.
# TYPE flightcache_expires_total counter
flightcache_expires_total{name="users"} 14
# HELP flightcache_tag_invalidations_total InvalidateTag calls that took effect.
# TYPE flightcache_tag_invalidations_total counter
flightcache_tag_invalidations_total{name="users"} 15
# HELP flightcache_clears_total Clear calls that took effect.
# TYPE flightcache_clears_total counter
flightcache_clears_total{name="users"} 16
# HELP flightcache_peeks_total Peek calls.
# TYPE flightcache_peeks_total counter
flightcache_peeks_total{name="users"} 17
# HELP flightcache_peek_hits_total Peek calls that found what a read would serve.
# TYPE flightcache_peek_hits_total counter
flightcache_peek_hits_total{name="users"} 18
# HELP flightcache_load_duration_seconds Time calls of the source took, failed ones included.
# TYPE flightcache_load_duration_seconds histogram
flightcache_load_duration_seconds_bucket{name="users",le="0.00025"} 1
flightcache_load_duration_seconds_bucket{name="users",le="0.5"} 4
flightcache_load_duration_seconds_bucket{name="users",le="2"} 5
flightcache_load_duration_seconds_bucket{name="users",le="+Inf"} 6
flightcache_load_duration_seconds_sum{name="users"} 1.5
flightcache_load_duration_seconds_count{name="users"} 6
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want)))
	assert.Equal(t, len(counterNames)+1, testutil.CollectAndCount(c), "the counters and a histogram")
}

// TestHistogramFromCounter checks the histogram built from a real Counter:
// every bucket of stats.LoadBucketBounds, in seconds, with cumulative counts.
func TestHistogramFromCounter(t *testing.T) {
	var counter stats.Counter
	counter.RecordLoad(3*time.Millisecond, nil)
	counter.RecordLoad(250*time.Millisecond, errors.New("down"))
	counter.RecordLoad(2*time.Second, nil)
	counter.RecordLoad(time.Minute, nil) // above the last bound: only in +Inf

	const want = `
# HELP flightcache_load_duration_seconds Time calls of the source took, failed ones included.
# TYPE flightcache_load_duration_seconds histogram
flightcache_load_duration_seconds_bucket{name="orders",le="0.0001"} 0
flightcache_load_duration_seconds_bucket{name="orders",le="0.00025"} 0
flightcache_load_duration_seconds_bucket{name="orders",le="0.0005"} 0
flightcache_load_duration_seconds_bucket{name="orders",le="0.001"} 0
flightcache_load_duration_seconds_bucket{name="orders",le="0.0025"} 0
flightcache_load_duration_seconds_bucket{name="orders",le="0.005"} 1
flightcache_load_duration_seconds_bucket{name="orders",le="0.01"} 1
flightcache_load_duration_seconds_bucket{name="orders",le="0.025"} 1
flightcache_load_duration_seconds_bucket{name="orders",le="0.05"} 1
flightcache_load_duration_seconds_bucket{name="orders",le="0.1"} 1
flightcache_load_duration_seconds_bucket{name="orders",le="0.25"} 2
flightcache_load_duration_seconds_bucket{name="orders",le="0.5"} 2
flightcache_load_duration_seconds_bucket{name="orders",le="1"} 2
flightcache_load_duration_seconds_bucket{name="orders",le="2.5"} 3
flightcache_load_duration_seconds_bucket{name="orders",le="5"} 3
flightcache_load_duration_seconds_bucket{name="orders",le="10"} 3
flightcache_load_duration_seconds_bucket{name="orders",le="25"} 3
flightcache_load_duration_seconds_bucket{name="orders",le="50"} 3
flightcache_load_duration_seconds_bucket{name="orders",le="+Inf"} 4
flightcache_load_duration_seconds_sum{name="orders"} 62.253
flightcache_load_duration_seconds_count{name="orders"} 4
# HELP flightcache_load_errors_total Calls of the source that failed.
# TYPE flightcache_load_errors_total counter
flightcache_load_errors_total{name="orders"} 1
# HELP flightcache_loads_total Calls of the source, refreshes and batches included.
# TYPE flightcache_loads_total counter
flightcache_loads_total{name="orders"} 4
`
	require.NoError(t, testutil.CollectAndCompare(flightprom.NewForCounter("orders", &counter), strings.NewReader(want),
		"flightcache_load_duration_seconds", "flightcache_loads_total", "flightcache_load_errors_total"))
}

// TestTwoLoadersShareARegistry registers the Collectors of two Loaders in one
// registry: their series differ by the name label.
func TestTwoLoadersShareARegistry(t *testing.T) {
	var users, products stats.Counter
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(flightprom.NewForCounter("users", &users)))
	require.NoError(t, reg.Register(flightprom.NewForCounter("products", &products)))

	users.Record(stats.Hit, 3)
	products.Record(stats.Hit, 5)
	products.RecordLoad(time.Millisecond, nil)

	const want = `
# HELP flightcache_hits_total Reads served from the store while fresh.
# TYPE flightcache_hits_total counter
flightcache_hits_total{name="products"} 5
flightcache_hits_total{name="users"} 3
# HELP flightcache_loads_total Calls of the source, refreshes and batches included.
# TYPE flightcache_loads_total counter
flightcache_loads_total{name="products"} 1
flightcache_loads_total{name="users"} 0
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"flightcache_hits_total", "flightcache_loads_total"))

	count, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	assert.Equal(t, 2*(len(counterNames)+1), count, "every metric for each Loader")
}

func TestSameNameTwiceIsRejected(t *testing.T) {
	var a, b stats.Counter
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(flightprom.NewForCounter("users", &a)))
	err := reg.Register(flightprom.NewForCounter("users", &b))
	var dup prometheus.AlreadyRegisteredError
	assert.ErrorAs(t, err, &dup)
}

func TestCollectorPassesLint(t *testing.T) {
	var counter stats.Counter
	counter.Record(stats.Hit, 1)
	counter.RecordLoad(time.Millisecond, nil)
	problems, err := testutil.CollectAndLint(flightprom.NewForCounter("users", &counter))
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func TestCountsMoveBetweenScrapes(t *testing.T) {
	var counter stats.Counter
	c := flightprom.NewForCounter("users", &counter)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))

	hits := func() float64 {
		t.Helper()
		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() == "flightcache_hits_total" {
				require.Len(t, f.GetMetric(), 1)
				return f.GetMetric()[0].GetCounter().GetValue()
			}
		}
		require.Fail(t, "no flightcache_hits_total")
		return 0
	}
	assert.Zero(t, hits())
	counter.Record(stats.Hit, 2)
	assert.Equal(t, 2.0, hits())
	counter.Record(stats.Hit, 1)
	assert.Equal(t, 3.0, hits())
}

func TestOneSnapshotPerScrape(t *testing.T) {
	calls := 0
	c := flightprom.New("users", func() stats.Stats {
		calls++
		return stats.Stats{}
	})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	for range 3 {
		_, err := reg.Gather()
		require.NoError(t, err)
	}
	assert.Equal(t, 3, calls)
}

func TestNothingToReadFailsRegistration(t *testing.T) {
	for name, c := range map[string]*flightprom.Collector{
		"nil function": flightprom.New("users", nil),
		"nil counter":  flightprom.NewForCounter("users", nil),
	} {
		t.Run(name, func(t *testing.T) {
			err := prometheus.NewRegistry().Register(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `"users"`, "the error names the Collector")
		})
	}
}

func TestPanickingSnapshotFailsTheScrapeNotTheProcess(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(flightprom.New("users", func() stats.Stats { panic("boom") })))
	_, err := reg.Gather()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boom")
}

// TestCollectorOverALoader wires a Collector to a real Loader: a miss, then
// two hits.
func TestCollectorOverALoader(t *testing.T) {
	store, err := lrustore.New[int, string](10)
	require.NoError(t, err)
	var counter stats.Counter
	loader, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute, Recorder: &counter})
	require.NoError(t, err)
	defer loader.Close()

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(flightprom.NewForCounter("names", &counter)))

	load := func(context.Context, int) (string, error) { return "seven", nil }
	for range 3 {
		v, err := loader.GetOrLoad(context.Background(), 7, load)
		require.NoError(t, err)
		require.Equal(t, "seven", v)
	}

	const want = `
# HELP flightcache_hits_total Reads served from the store while fresh.
# TYPE flightcache_hits_total counter
flightcache_hits_total{name="names"} 2
# HELP flightcache_keys_loaded_total Keys asked of the source.
# TYPE flightcache_keys_loaded_total counter
flightcache_keys_loaded_total{name="names"} 1
# HELP flightcache_loads_total Calls of the source, refreshes and batches included.
# TYPE flightcache_loads_total counter
flightcache_loads_total{name="names"} 1
# HELP flightcache_misses_total Reads that found nothing servable and waited for a load.
# TYPE flightcache_misses_total counter
flightcache_misses_total{name="names"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"flightcache_hits_total", "flightcache_misses_total", "flightcache_loads_total", "flightcache_keys_loaded_total"))
	count, err := testutil.GatherAndCount(reg, counterNames...)
	require.NoError(t, err)
	assert.Equal(t, len(counterNames), count)
}
