package flightotel_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/exporters/flightotel"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newProvider returns a MeterProvider whose metrics the returned reader
// collects on demand.
func newProvider(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { assert.NoError(t, provider.Shutdown(context.Background())) })
	return provider, reader
}

// collect collects the metrics of the flightotel scope, by name.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != flightotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	return got
}

// counterValue returns the value that the counter called name reports for
// the Loader called loader with no error.type, failing the test unless it is
// a monotonic, cumulative sum with exactly one such data point.
func counterValue(t *testing.T, metrics map[string]metricdata.Metrics, name, loader string) int64 {
	t.Helper()
	return counterValueOf(t, metrics, name, loader, "")
}

// is reports whether attrs are those of the Loader called loader with the
// error.type errorType, or with none when errorType is "".
func is(attrs attribute.Set, loader, errorType string) bool {
	v, _ := attrs.Value(flightotel.NameKey)
	et, has := attrs.Value(semconv.ErrorTypeKey)
	if errorType == "" {
		return v.AsString() == loader && !has && attrs.Len() == 1
	}
	return v.AsString() == loader && has && et.AsString() == errorType && attrs.Len() == 2
}

// counterValueOf is counterValue for the data point with the error.type
// errorType ("": none).
func counterValueOf(t *testing.T, metrics map[string]metricdata.Metrics, name, loader, errorType string) int64 {
	t.Helper()
	m, ok := metrics[name]
	require.True(t, ok, "no metric %s", name)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a %T, not an int64 sum", name, m.Data)
	assert.True(t, sum.IsMonotonic, "%s is a counter", name)
	assert.Equal(t, metricdata.CumulativeTemporality, sum.Temporality)
	var found []int64
	for _, dp := range sum.DataPoints {
		if is(dp.Attributes, loader, errorType) {
			found = append(found, dp.Value)
		}
	}
	require.Len(t, found, 1, "data points of %s for %q, error.type %q", name, loader, errorType)
	return found[0]
}

// histogramPoint returns the data point of the load-duration histogram for
// the successful loads of the Loader called loader.
func histogramPoint(t *testing.T, metrics map[string]metricdata.Metrics, loader string) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	return histogramPointOf(t, metrics, loader, "")
}

// histogramPointOf is histogramPoint for the loads that failed with the
// error.type errorType ("": the successful ones).
func histogramPointOf(t *testing.T, metrics map[string]metricdata.Metrics, loader, errorType string) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m, ok := metrics["flightcache.load.duration"]
	require.True(t, ok, "no load-duration histogram")
	assert.Equal(t, "s", m.Unit)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "the load duration is a %T, not a float64 histogram", m.Data)
	for _, dp := range h.DataPoints {
		if is(dp.Attributes, loader, errorType) {
			return dp
		}
	}
	require.Failf(t, "no histogram data point", "for %q, error.type %q", loader, errorType)
	return metricdata.HistogramDataPoint[float64]{}
}

func TestRecorderReportsEveryCount(t *testing.T) {
	provider, reader := newProvider(t)
	r, err := flightotel.New(provider, "users", nil)
	require.NoError(t, err)

	for e, n := range map[stats.Event]int{
		stats.Hit: 1, stats.Miss: 2, stats.MissingHit: 3, stats.StaleHit: 4, stats.Coalesced: 5,
		stats.KeysLoaded: 7, stats.Refresh: 9, stats.RefreshError: 10, stats.StoreError: 11, stats.Panic: 12,
		stats.Throttled: 13, stats.Expire: 14, stats.TagInvalidation: 15, stats.Clear: 16, stats.Peek: 17,
		stats.PeekHit: 18,
	} {
		r.Record(e, n)
	}
	for i := range 6 {
		var err error
		if i < 2 {
			err = errors.New("down")
		}
		r.RecordLoad(time.Millisecond, err)
	}

	metrics := collect(t, reader)
	want := map[string]int64{
		"flightcache.hits": 1, "flightcache.misses": 2, "flightcache.missing_hits": 3,
		"flightcache.stale_hits": 4, "flightcache.coalesced": 5, "flightcache.loads": 4,
		"flightcache.keys_loaded": 7, "flightcache.refreshes": 9, "flightcache.store_errors": 11,
		"flightcache.throttled": 13, "flightcache.expires": 14, "flightcache.tag_invalidations": 15,
		"flightcache.clears": 16, "flightcache.peeks": 17, "flightcache.peek_hits": 18,
	}
	for name, v := range want {
		assert.Equal(t, v, counterValue(t, metrics, name, "users"), name)
		assert.NotEmpty(t, metrics[name].Description, name)
		assert.Regexp(t, `^\{[a-z]+\}$`, metrics[name].Unit, name)
	}
	assert.Len(t, metrics, len(want)+1, "the counters and a histogram; no instrument of errors but store_errors")
	assert.Equal(t, int64(2), counterValueOf(t, metrics, "flightcache.loads", "users", flightotel.ErrorTypeOther))
	assert.Equal(t, uint64(4), histogramPoint(t, metrics, "users").Count)
	assert.Equal(t, uint64(2), histogramPointOf(t, metrics, "users", flightotel.ErrorTypeOther).Count)
}

func TestHistogramUsesTheLoadBuckets(t *testing.T) {
	provider, reader := newProvider(t)
	r, err := flightotel.New(provider, "orders", nil)
	require.NoError(t, err)

	r.RecordLoad(3*time.Millisecond, nil)
	r.RecordLoad(250*time.Millisecond, errors.New("down"))
	r.RecordLoad(2*time.Second, nil)
	r.RecordLoad(time.Minute, nil)
	r.RecordLoad(-time.Second, nil) // recorded as 0

	metrics := collect(t, reader)
	failed := histogramPointOf(t, metrics, "orders", flightotel.ErrorTypeOther)
	assert.Equal(t, uint64(1), failed.Count)
	assert.InDelta(t, 0.25, failed.Sum, 1e-9)
	dp := histogramPoint(t, metrics, "orders")
	var bounds []float64
	for _, b := range stats.LoadBucketBounds() {
		bounds = append(bounds, b.Seconds())
	}
	assert.Equal(t, bounds, dp.Bounds)
	want := make([]uint64, len(bounds)+1) // per bucket, not cumulative
	want[0] = 1                           // 0s, at most 100µs
	want[5] = 1                           // 3ms, in (2.5ms, 5ms]
	want[13] = 1                          // 2s, in (1s, 2.5s]
	want[len(bounds)] = 1                 // 1m, above 50s
	assert.Equal(t, want, dp.BucketCounts)
	assert.Equal(t, uint64(4), dp.Count)
	assert.InDelta(t, 62.003, dp.Sum, 1e-9)
	lowest, ok := dp.Min.Value()
	require.True(t, ok)
	assert.Zero(t, lowest)
	highest, ok := dp.Max.Value()
	require.True(t, ok)
	assert.Equal(t, 60.0, highest)

	s := r.Snapshot()
	assert.Equal(t, uint64(5), s.Loads, "the histogram and the counters agree")
	assert.Equal(t, 62253*time.Millisecond, s.LoadTime)
}

func TestTwoLoadersShareAProvider(t *testing.T) {
	provider, reader := newProvider(t)
	users, err := flightotel.New(provider, "users", nil)
	require.NoError(t, err)
	products, err := flightotel.New(provider, "products", nil)
	require.NoError(t, err)

	users.Record(stats.Hit, 3)
	products.Record(stats.Hit, 5)
	products.RecordLoad(time.Millisecond, nil)

	metrics := collect(t, reader)
	assert.Equal(t, int64(3), counterValue(t, metrics, "flightcache.hits", "users"))
	assert.Equal(t, int64(5), counterValue(t, metrics, "flightcache.hits", "products"))
	assert.Equal(t, int64(0), counterValue(t, metrics, "flightcache.loads", "users"))
	assert.Equal(t, int64(1), counterValue(t, metrics, "flightcache.loads", "products"))
	assert.Equal(t, uint64(1), histogramPoint(t, metrics, "products").Count)
}

func TestCountsMoveBetweenCollections(t *testing.T) {
	provider, reader := newProvider(t)
	r, err := flightotel.New(provider, "users", nil)
	require.NoError(t, err)

	assert.Equal(t, int64(0), counterValue(t, collect(t, reader), "flightcache.hits", "users"))
	r.Record(stats.Hit, 2)
	assert.Equal(t, int64(2), counterValue(t, collect(t, reader), "flightcache.hits", "users"))
	r.Record(stats.Hit, 1)
	assert.Equal(t, int64(3), counterValue(t, collect(t, reader), "flightcache.hits", "users"))
}

func TestRecorderCountsInTheCounterItIsGiven(t *testing.T) {
	provider, reader := newProvider(t)
	var counter stats.Counter
	r, err := flightotel.New(provider, "users", &counter)
	require.NoError(t, err)

	r.Record(stats.Hit, 1)
	r.RecordLoad(time.Millisecond, nil)
	counter.Record(stats.Hit, 1) // straight into the Counter: counted, not in the histogram
	counter.RecordLoad(time.Millisecond, nil)

	assert.Equal(t, uint64(2), counter.Snapshot().Hits)
	assert.Equal(t, counter.Snapshot(), r.Snapshot())
	metrics := collect(t, reader)
	assert.Equal(t, int64(2), counterValue(t, metrics, "flightcache.hits", "users"))
	assert.Equal(t, int64(1), counterValue(t, metrics, "flightcache.loads", "users"),
		"flightcache.loads, like the histogram, counts the loads that reach the Recorder")
	assert.Equal(t, uint64(1), histogramPoint(t, metrics, "users").Count)
}

func TestUnregisterStopsTheCounters(t *testing.T) {
	provider, reader := newProvider(t)
	r, err := flightotel.New(provider, "users", nil)
	require.NoError(t, err)
	r.Record(stats.Hit, 1)
	r.RecordLoad(time.Millisecond, nil)

	require.NoError(t, r.Unregister())
	require.NoError(t, r.Unregister(), "a second call does nothing")

	metrics := collect(t, reader)
	for name, m := range metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
			assert.Empty(t, sum.DataPoints, "%s is still observed", name)
		}
	}
	assert.Equal(t, uint64(1), histogramPoint(t, metrics, "users").Count, "the histogram keeps its data")
}

// meterSetBefore is whether a test set the global meter provider already in
// this process: OpenTelemetry's global delegates to the first provider set
// only, so "made before the provider is set" can be tried once per process.
var meterSetBefore atomic.Bool

// TestNilProviderMeansTheGlobalOne makes a Recorder with no provider before
// the application sets its global one (the first run in a process; later
// runs, with -count, set it first): its measurements reach the provider.
func TestNilProviderMeansTheGlobalOne(t *testing.T) {
	before := otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetMeterProvider(before) })

	provider, reader := newProvider(t)
	if meterSetBefore.Swap(true) {
		otel.SetMeterProvider(provider)
	}
	r, err := flightotel.New(nil, "users", nil)
	require.NoError(t, err)
	defer r.Unregister()
	otel.SetMeterProvider(provider)

	r.Record(stats.Hit, 2)
	r.RecordLoad(time.Millisecond, nil)
	metrics := collect(t, reader)
	assert.Equal(t, int64(2), counterValue(t, metrics, "flightcache.hits", "users"))
	assert.Equal(t, uint64(1), histogramPoint(t, metrics, "users").Count)
}

// TestFailedLoadsCarryTheirErrorType sends loads that succeed, time out,
// panic and fail otherwise, and finds each class on flightcache.loads and
// on the histogram, with no error.type on the successful ones.
func TestFailedLoadsCarryTheirErrorType(t *testing.T) {
	provider, reader := newProvider(t)
	r, err := flightotel.New(provider, "users", nil)
	require.NoError(t, err)

	panicked := &singleflight.PanicError{Value: "boom"}
	for _, err := range []error{
		nil, nil, nil,
		flightcache.ErrLoadTimeout,
		fmt.Errorf("load 7: %w", flightcache.ErrLoadTimeout),
		context.DeadlineExceeded,
		fmt.Errorf("load 8: %w", panicked),
		errors.New("connection refused"),
	} {
		r.RecordLoad(time.Millisecond, err)
	}

	metrics := collect(t, reader)
	for errorType, n := range map[string]int{
		"": 3, flightotel.ErrorTypeTimeout: 3, flightotel.ErrorTypePanic: 1, flightotel.ErrorTypeOther: 1,
	} {
		assert.Equal(t, int64(n), counterValueOf(t, metrics, "flightcache.loads", "users", errorType), "loads, error.type %q", errorType)
		assert.Equal(t, uint64(n), histogramPointOf(t, metrics, "users", errorType).Count, "histogram, error.type %q", errorType)
	}
	s := r.Snapshot()
	assert.Equal(t, uint64(8), s.Loads)
	assert.Equal(t, uint64(5), s.LoadErrors)
}

// TestRecorderUnderALoader puts a Recorder in a real Loader: a miss, then two
// hits.
func TestRecorderUnderALoader(t *testing.T) {
	provider, reader := newProvider(t)
	r, err := flightotel.New(provider, "names", nil)
	require.NoError(t, err)
	store, err := lrustore.New[int, string](10)
	require.NoError(t, err)
	loader, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute, Recorder: r})
	require.NoError(t, err)
	defer loader.Close()

	load := func(context.Context, int) (string, error) { return "seven", nil }
	for range 3 {
		v, err := loader.GetOrLoad(context.Background(), 7, load)
		require.NoError(t, err)
		require.Equal(t, "seven", v)
	}

	metrics := collect(t, reader)
	assert.Equal(t, int64(2), counterValue(t, metrics, "flightcache.hits", "names"))
	assert.Equal(t, int64(1), counterValue(t, metrics, "flightcache.misses", "names"))
	assert.Equal(t, int64(1), counterValue(t, metrics, "flightcache.loads", "names"))
	assert.Equal(t, int64(1), counterValue(t, metrics, "flightcache.keys_loaded", "names"))
	assert.Equal(t, uint64(1), histogramPoint(t, metrics, "names").Count)
}

// TestCollectingWhileRecording collects while other goroutines record, for
// the race detector, and checks that no count goes down.
func TestCollectingWhileRecording(t *testing.T) {
	provider, reader := newProvider(t)
	r, err := flightotel.New(provider, "users", nil)
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r.Record(stats.Hit, 1)
				r.RecordLoad(time.Millisecond, nil)
			}
		})
	}
	var hits, loads int64
	for range 50 {
		metrics := collect(t, reader)
		h := counterValue(t, metrics, "flightcache.hits", "users")
		l := counterValue(t, metrics, "flightcache.loads", "users")
		require.GreaterOrEqual(t, h, hits)
		require.GreaterOrEqual(t, l, loads)
		hits, loads = h, l
	}
	close(stop)
	wg.Wait()
	metrics := collect(t, reader)
	s := r.Snapshot()
	assert.Equal(t, int64(s.Loads), counterValue(t, metrics, "flightcache.loads", "users"))
	assert.Equal(t, s.Loads, histogramPoint(t, metrics, "users").Count)
}

// BenchmarkRecorderHit is the cost a Recorder adds to a hit, called through
// the stats.Recorder interface as a Loader calls it, with every core
// recording at once. Compare it with BenchmarkCounterHit in the stats
// package.
func BenchmarkRecorderHit(b *testing.B) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	r, err := flightotel.New(provider, "users", nil)
	require.NoError(b, err)
	var rec stats.Recorder = r
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec.Record(stats.Hit, 1)
		}
	})
}

// BenchmarkRecorderLoad is the cost a Recorder adds to a load: the Counter's
// and one histogram measurement.
func BenchmarkRecorderLoad(b *testing.B) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	r, err := flightotel.New(provider, "users", nil)
	require.NoError(b, err)
	var rec stats.Recorder = r
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec.RecordLoad(3*time.Millisecond, nil)
		}
	})
}
