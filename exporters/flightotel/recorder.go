// Package flightotel exports the statistics of flightcache Loaders as
// OpenTelemetry metrics.
//
// A Recorder is a stats.Recorder to put in a Loader's Options.Recorder. It
// counts every event in a stats.Counter and reports each count as an
// asynchronous (observable) counter, read from the Counter's snapshot when
// the metrics are collected; it also records the duration of each load in a
// synchronous histogram:
//
//	flightcache.hits            {hit}      reads served fresh from the store
//	flightcache.misses          {miss}     reads that waited for a load
//	flightcache.missing_hits    {hit}      reads served a cached "not found"
//	flightcache.stale_hits      {hit}      reads served a value past its freshness
//	flightcache.coalesced       {call}     callers that joined a load in flight
//	flightcache.loads           {load}     calls of the source
//	flightcache.load_errors     {error}    calls of the source that failed
//	flightcache.keys_loaded     {key}      keys asked of the source
//	flightcache.refreshes       {refresh}  background refreshes started
//	flightcache.refresh_errors  {error}    background refreshes that failed
//	flightcache.store_errors    {error}    failed Store calls
//	flightcache.panics          {panic}    loads that panicked
//	flightcache.load.duration   s          histogram of the time loads took
//
// Every measurement carries the attribute name, the Loader's name, so that
// several Loaders can share a MeterProvider. Exported to Prometheus through
// OpenTelemetry, the names become those of the flightprom package
// (flightcache_hits_total, flightcache_load_duration_seconds, ...).
//
// # Why the histogram is synchronous
//
// OpenTelemetry has no asynchronous histogram: a callback can observe
// counters and gauges, but not a distribution. The counters are therefore
// read from the snapshot, which costs nothing between collections, while
// the load durations are recorded as they happen, one Record per load, into
// a Float64Histogram whose explicit bucket boundaries are those of
// stats.LoadBucketBounds. That is why the exporter is a Recorder wrapping
// the Counter rather than a reader of it: a reader could pass on only the
// sum and count of load time. A hit costs what it costs with the Counter
// alone (a few nanoseconds, no allocation); a load, slow by nature, also
// pays for one histogram measurement (a few hundred nanoseconds, no
// allocation).
//
// The package is a module of its own, so that the flightcache module never
// depends on OpenTelemetry.
package flightotel

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/flightcache/flightcache/stats"
)

// ScopeName is the instrumentation scope of the Meter a Recorder creates its
// instruments with.
const ScopeName = "github.com/flightcache/flightcache/exporters/flightotel"

// NameKey is the attribute that tells apart the measurements of different
// Loaders.
const NameKey = attribute.Key("name")

// counterInstrument describes one observable counter: its name, unit and
// description, and the field of stats.Stats it reports.
type counterInstrument struct {
	name, unit, description string
	value                   func(stats.Stats) uint64
}

// counterInstruments are the counters a Recorder reports, in the order of
// stats.Stats.
var counterInstruments = []counterInstrument{
	{"flightcache.hits", "{hit}", "Reads served from the store while fresh.",
		func(s stats.Stats) uint64 { return s.Hits }},
	{"flightcache.misses", "{miss}", "Reads that found nothing servable and waited for a load.",
		func(s stats.Stats) uint64 { return s.Misses }},
	{"flightcache.missing_hits", "{hit}", "Reads served by a cached \"not found\" answer.",
		func(s stats.Stats) uint64 { return s.MissingHits }},
	{"flightcache.stale_hits", "{hit}", "Reads served a value past its freshness.",
		func(s stats.Stats) uint64 { return s.StaleHits }},
	{"flightcache.coalesced", "{call}", "Callers, or keys of a batch, that joined a load in flight instead of starting one.",
		func(s stats.Stats) uint64 { return s.Coalesced }},
	{"flightcache.loads", "{load}", "Calls of the source, refreshes and batches included.",
		func(s stats.Stats) uint64 { return s.Loads }},
	{"flightcache.keys_loaded", "{key}", "Keys asked of the source.",
		func(s stats.Stats) uint64 { return s.KeysLoaded }},
	{"flightcache.load_errors", "{error}", "Calls of the source that failed.",
		func(s stats.Stats) uint64 { return s.LoadErrors }},
	{"flightcache.refreshes", "{refresh}", "Background refreshes started.",
		func(s stats.Stats) uint64 { return s.Refreshes }},
	{"flightcache.refresh_errors", "{error}", "Background refreshes that failed.",
		func(s stats.Stats) uint64 { return s.RefreshErrors }},
	{"flightcache.store_errors", "{error}", "Store calls that failed.",
		func(s stats.Stats) uint64 { return s.StoreErrors }},
	{"flightcache.panics", "{panic}", "Loads that panicked.",
		func(s stats.Stats) uint64 { return s.Panics }},
}

// Recorder is a stats.Recorder that counts a Loader's events in a
// stats.Counter and exports them as OpenTelemetry metrics. Create one with
// New and put it in the Loader's Options.Recorder. All methods are safe for
// concurrent use.
type Recorder struct {
	counter  *stats.Counter
	duration metric.Float64Histogram
	// recordOpts holds the name attribute, made once: passing the option
	// alone to Record would allocate a slice on every load.
	recordOpts []metric.RecordOption

	mu  sync.Mutex
	reg metric.Registration // nil once unregistered
}

// New returns a Recorder that counts events in counter and reports them, with
// the attribute name=name, through instruments of the Meter that provider
// gives for ScopeName. A nil counter means a new one, of the Recorder's own.
//
// The counters are observed from counter.Snapshot at each collection; the
// duration of each load that reaches the Recorder is recorded in the
// histogram. Events recorded in counter directly, not through the Recorder,
// show in the counters but not in the histogram.
//
// name should be unique among the Recorders of one provider. New returns an
// error when provider is nil or an instrument cannot be created; call
// Unregister when the Loader is closed.
func New(provider metric.MeterProvider, name string, counter *stats.Counter) (*Recorder, error) {
	if provider == nil {
		return nil, fmt.Errorf("flightotel: Recorder %q: nil MeterProvider", name)
	}
	if counter == nil {
		counter = new(stats.Counter)
	}
	meter := provider.Meter(ScopeName)
	attrs := metric.WithAttributeSet(attribute.NewSet(NameKey.String(name)))
	r := &Recorder{counter: counter, recordOpts: []metric.RecordOption{attrs}}

	bounds := stats.LoadBucketBounds()
	seconds := make([]float64, len(bounds))
	for i, b := range bounds {
		seconds[i] = b.Seconds()
	}
	var err error
	r.duration, err = meter.Float64Histogram("flightcache.load.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time calls of the source took, failed ones included."),
		metric.WithExplicitBucketBoundaries(seconds...))
	if err != nil {
		return nil, fmt.Errorf("flightotel: Recorder %q: %w", name, err)
	}

	counters := make([]metric.Int64ObservableCounter, len(counterInstruments))
	observables := make([]metric.Observable, len(counterInstruments))
	for i, c := range counterInstruments {
		counters[i], err = meter.Int64ObservableCounter(c.name,
			metric.WithUnit(c.unit), metric.WithDescription(c.description))
		if err != nil {
			return nil, fmt.Errorf("flightotel: Recorder %q: %w", name, err)
		}
		observables[i] = counters[i]
	}
	observeOpts := []metric.ObserveOption{attrs}
	r.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := counter.Snapshot()
		for i, c := range counterInstruments {
			o.ObserveInt64(counters[i], toInt64(c.value(s)), observeOpts...)
		}
		return nil
	}, observables...)
	if err != nil {
		return nil, fmt.Errorf("flightotel: Recorder %q: %w", name, err)
	}
	return r, nil
}

// toInt64 converts a count to the int64 an Int64ObservableCounter takes,
// holding at the largest int64 rather than wrapping around.
func toInt64(n uint64) int64 {
	return int64(min(n, math.MaxInt64))
}

// Record adds n occurrences of e to the Counter.
func (r *Recorder) Record(e stats.Event, n int) {
	r.counter.Record(e, n)
}

// RecordLoad counts one load in the Counter and records its duration, in
// seconds, in the histogram. A negative elapsed is recorded as 0.
func (r *Recorder) RecordLoad(elapsed time.Duration, err error) {
	elapsed = max(elapsed, 0)
	r.counter.RecordLoad(elapsed, err)
	r.duration.Record(context.Background(), elapsed.Seconds(), r.recordOpts...)
}

// Snapshot returns a snapshot of the Counter, as stats.Counter.Snapshot does,
// for instance to report the same figures to Prometheus as well.
func (r *Recorder) Snapshot() stats.Stats {
	return r.counter.Snapshot()
}

// Unregister stops reporting the counters. The histogram, a synchronous
// instrument that OpenTelemetry cannot remove, keeps what it has recorded,
// and goes on recording the loads that reach the Recorder. Calling
// Unregister again does nothing.
func (r *Recorder) Unregister() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reg == nil {
		return nil
	}
	err := r.reg.Unregister()
	r.reg = nil
	if err != nil {
		return fmt.Errorf("flightotel: unregister: %w", err)
	}
	return nil
}

var _ stats.Recorder = (*Recorder)(nil)
